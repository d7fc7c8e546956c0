package limit

import (
	"context"
	"math"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/signupguard/signupguard/service"
)

// metrics are the limiter's counters; the gauges are read at scrape time.
type metrics struct {
	limited *prometheus.CounterVec // by reason: client, network, global, overflow, banned
	strikes *prometheus.CounterVec // by why: the refusal's code, or honeypot
	bans    prometheus.Counter     // bans imposed
}

// scrapeTimeout bounds the work a scrape asks of Redis.
const scrapeTimeout = time.Second

func newMetrics(reg prometheus.Registerer, keys func() int, activeBans func(context.Context) (int, error)) *metrics {
	m := &metrics{
		limited: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "signupguard_limit_limited_total",
			Help: "Requests refused with 429, by reason: client, network, global or overflow bucket empty, or client banned.",
		}, []string{"reason"}),
		strikes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "signupguard_limit_strikes_total",
			Help: "Requests refused as abusive, counted towards bans, by why (honeypot for a filled honeypot field).",
		}, []string{"why"}),
		bans: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "signupguard_limit_bans_total",
			Help: "Bans imposed.",
		}),
	}
	reg.MustRegister(m.limited, m.strikes, m.bans,
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "signupguard_limit_keys",
			Help: "Client and network keys tracked in process (bounded by SIGNUPGUARD_LIMIT_KEYS each).",
		}, func() float64 { return float64(keys()) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "signupguard_limit_bans",
			Help: "Clients banned now.",
		}, func() float64 {
			ctx, cancel := context.WithTimeout(context.Background(), scrapeTimeout)
			defer cancel()
			n, err := activeBans(ctx)
			if err != nil {
				return math.NaN() // unknown, not zero
			}
			return float64(n)
		}),
	)
	return m
}

// strikeLabel names why in the strikes metric. The pipeline strikes with
// invalid_request only for a filled honeypot, so that is what it counts.
func strikeLabel(why service.Code) string {
	if why == service.CodeInvalidRequest {
		return "honeypot"
	}
	return string(why)
}
