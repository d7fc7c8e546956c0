package api

import (
	"strconv"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/prometheus/client_golang/prometheus"
)

// metrics are the HTTP layer's Prometheus series. Labels hold only values
// from closed sets (registered routes, status codes, outcome codes), so a
// client cannot grow the number of series.
type metrics struct {
	requests *prometheus.CounterVec
	duration *prometheus.HistogramVec
}

func newMetrics(reg prometheus.Registerer) *metrics {
	m := &metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "signupguard_http_requests_total",
			Help: "HTTP requests answered, by route, status code and outcome (an error code, or created/duplicate/honeypot).",
		}, []string{"route", "code", "outcome"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "signupguard_http_request_duration_seconds",
			Help:    "Time to answer an HTTP request, by route.",
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5},
		}, []string{"route"}),
	}
	reg.MustRegister(m.requests, m.duration)
	return m
}

// observe counts one answered request.
func (m *metrics) observe(c *gin.Context, elapsed time.Duration) {
	route := routeLabel(c)
	outcome := c.GetString(ctxOutcome)
	if outcome == "" {
		outcome = "none"
	}
	m.requests.WithLabelValues(route, strconv.Itoa(c.Writer.Status()), outcome).Inc()
	m.duration.WithLabelValues(route).Observe(elapsed.Seconds())
}

// routeLabel is the route pattern that matched, or "unmatched": the raw
// path would let anyone create series.
func routeLabel(c *gin.Context) string {
	if r := c.FullPath(); r != "" {
		return r
	}
	return "unmatched"
}
