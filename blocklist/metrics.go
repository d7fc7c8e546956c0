package blocklist

import (
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Metrics exposes the state of each source as a serving instance last read
// it from the store: entries in force, age, and whether the last refresh
// succeeded.
type Metrics struct {
	now     func() time.Time
	reloads *prometheus.CounterVec

	mu      sync.Mutex
	sources []Snapshot // metadata only

	entries, age, success *prometheus.Desc
}

// NewMetrics registers the blocklist metrics on reg. now is the clock ages
// are measured with (time.Now when nil).
func NewMetrics(reg prometheus.Registerer, now func() time.Time) *Metrics {
	if now == nil {
		now = time.Now
	}
	m := &Metrics{
		now: now,
		reloads: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "signupguard_blocklist_reloads_total",
			Help: "Blocklist reloads by result (ok, error).",
		}, []string{"result"}),
		entries: prometheus.NewDesc("signupguard_blocklist_entries",
			"Prefixes in the copy of a source in force.", []string{"source"}, nil),
		age: prometheus.NewDesc("signupguard_blocklist_age_seconds",
			"Time since the copy of a source in force was last confirmed current (stored, 304 or same content).", []string{"source"}, nil),
		success: prometheus.NewDesc("signupguard_blocklist_last_refresh_success",
			"1 when the last refresh of a source succeeded, 0 when it failed (its last good copy stays in force).", []string{"source"}, nil),
	}
	m.reloads.WithLabelValues("ok")
	m.reloads.WithLabelValues("error")
	reg.MustRegister(m.reloads, m)
	return m
}

// Observe replaces the per-source state with sources (metadata suffices).
func (m *Metrics) Observe(sources []Snapshot) {
	if m == nil {
		return
	}
	meta := make([]Snapshot, len(sources))
	for i, s := range sources {
		s.Prefixes = nil
		meta[i] = s
	}
	m.mu.Lock()
	m.sources = meta
	m.mu.Unlock()
}

func (m *Metrics) reloaded(ok bool) {
	if m == nil {
		return
	}
	result := "ok"
	if !ok {
		result = "error"
	}
	m.reloads.WithLabelValues(result).Inc()
}

// Describe implements prometheus.Collector.
func (m *Metrics) Describe(ch chan<- *prometheus.Desc) {
	ch <- m.entries
	ch <- m.age
	ch <- m.success
}

// Collect implements prometheus.Collector. Ages are computed at scrape
// time, so they grow while no refresh succeeds.
func (m *Metrics) Collect(ch chan<- prometheus.Metric) {
	m.mu.Lock()
	sources := m.sources
	m.mu.Unlock()
	now := m.now()
	for _, s := range sources {
		success := 1.0
		if s.LastError != "" {
			success = 0
		}
		ch <- prometheus.MustNewConstMetric(m.success, prometheus.GaugeValue, success, s.Name)
		if !s.HasCopy() {
			continue
		}
		ch <- prometheus.MustNewConstMetric(m.entries, prometheus.GaugeValue, float64(s.Entries), s.Name)
		confirmed := s.CheckedAt
		if confirmed.Before(s.FetchedAt) {
			confirmed = s.FetchedAt
		}
		ch <- prometheus.MustNewConstMetric(m.age, prometheus.GaugeValue, now.Sub(confirmed).Seconds(), s.Name)
	}
}
