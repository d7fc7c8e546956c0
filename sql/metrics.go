package sql

import (
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"
)

// poolCollector reports pgxpool's own statistics at scrape time, so the
// numbers are never stale and the pool needs no hooks.
type poolCollector struct {
	pool *pgxpool.Pool

	acquired, idle, constructing, total, max *prometheus.Desc
	acquires, acquireSeconds, emptyAcquires  *prometheus.Desc
	canceledAcquires, newConns               *prometheus.Desc
	lifetimeDestroys, idleDestroys           *prometheus.Desc
}

// RegisterMetrics registers the pool's statistics on reg as
// signupguard_sql_pool_* series.
func (db *DB) RegisterMetrics(reg prometheus.Registerer) error {
	d := func(name, help string) *prometheus.Desc {
		return prometheus.NewDesc("signupguard_sql_pool_"+name, help, nil, nil)
	}
	return reg.Register(&poolCollector{
		pool:             db.Pool,
		acquired:         d("acquired_conns", "Connections currently lent out."),
		idle:             d("idle_conns", "Idle connections in the pool."),
		constructing:     d("constructing_conns", "Connections being opened."),
		total:            d("total_conns", "Connections in the pool: acquired, idle and being opened."),
		max:              d("max_conns", "Largest number of connections the pool will open."),
		acquires:         d("acquires_total", "Successful acquires of a connection."),
		acquireSeconds:   d("acquire_duration_seconds_total", "Total time spent waiting for successful acquires."),
		emptyAcquires:    d("empty_acquires_total", "Acquires that had to wait because no connection was idle."),
		canceledAcquires: d("canceled_acquires_total", "Acquires abandoned because their context ended."),
		newConns:         d("new_conns_total", "Connections opened."),
		lifetimeDestroys: d("max_lifetime_destroys_total", "Connections closed for reaching their maximum lifetime."),
		idleDestroys:     d("max_idle_destroys_total", "Connections closed for idling too long."),
	})
}

func (c *poolCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{
		c.acquired, c.idle, c.constructing, c.total, c.max, c.acquires, c.acquireSeconds,
		c.emptyAcquires, c.canceledAcquires, c.newConns, c.lifetimeDestroys, c.idleDestroys,
	} {
		ch <- d
	}
}

func (c *poolCollector) Collect(ch chan<- prometheus.Metric) {
	s := c.pool.Stat()
	gauge := func(d *prometheus.Desc, v float64) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v)
	}
	counter := func(d *prometheus.Desc, v float64) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, v)
	}
	gauge(c.acquired, float64(s.AcquiredConns()))
	gauge(c.idle, float64(s.IdleConns()))
	gauge(c.constructing, float64(s.ConstructingConns()))
	gauge(c.total, float64(s.TotalConns()))
	gauge(c.max, float64(s.MaxConns()))
	counter(c.acquires, float64(s.AcquireCount()))
	counter(c.acquireSeconds, s.AcquireDuration().Seconds())
	counter(c.emptyAcquires, float64(s.EmptyAcquireCount()))
	counter(c.canceledAcquires, float64(s.CanceledAcquireCount()))
	counter(c.newConns, float64(s.NewConnsCount()))
	counter(c.lifetimeDestroys, float64(s.MaxLifetimeDestroyCount()))
	counter(c.idleDestroys, float64(s.MaxIdleDestroyCount()))
}
