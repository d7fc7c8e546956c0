package mx

import (
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
)

// metrics are a Verifier's Prometheus collectors.
type metrics struct {
	lookups  *prometheus.CounterVec // by verdict: deliverable, undeliverable, tempfail
	hits     prometheus.Counter
	misses   prometheus.Counter
	queries  *prometheus.CounterVec // by result: noerror, nxdomain, servfail, refused, other, timeout, error
	duration prometheus.Histogram
}

// newMetrics returns the collectors, registered on reg unless it is nil.
func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		lookups: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "signupguard_mx_lookups_total",
			Help: "MX verifications that asked DNS (cache misses, one per shared lookup), by verdict.",
		}, []string{"verdict"}),
		hits: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "signupguard_mx_cache_hits_total",
			Help: "MX verifications answered from the verdict cache.",
		}),
		misses: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "signupguard_mx_cache_misses_total",
			Help: "MX verifications not found in the verdict cache.",
		}),
		queries: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "signupguard_mx_queries_total",
			Help: "DNS queries sent for MX verification, by result.",
		}, []string{"result"}),
		duration: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "signupguard_mx_lookup_seconds",
			Help:    "Time one MX lookup took, cache misses only.",
			Buckets: []float64{.001, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5},
		}),
	}
	if reg == nil {
		return m, nil
	}
	for _, c := range []prometheus.Collector{m.lookups, m.hits, m.misses, m.queries, m.duration} {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("register mx metrics: %w", err)
		}
	}
	return m, nil
}
