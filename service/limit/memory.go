package limit

import (
	"context"
	"log/slog"
	"net/netip"
	"slices"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/signupguard/signupguard/service"
	"golang.org/x/time/rate"
)

var _ service.Limiter = (*Memory)(nil)

// Memory limits clients in this process. Its memory is bounded by
// Config.MaxKeys whatever the traffic.
type Memory struct {
	cfg     Config
	log     *slog.Logger
	metrics *metrics

	mu       sync.Mutex
	clients  table
	networks table
	global   *rate.Limiter // nil: no global limit
}

// entry is one tracked key: its bucket and, for clients, its strikes and bans.
type entry struct {
	bucket *rate.Limiter // nil when that limit is off

	strikes     int       // strikes in the window that began at windowStart
	windowStart time.Time //
	until       time.Time // end of the current ban
	level       int       // bans remembered; the next lasts BanTime << level
	forget      time.Time // when level goes back to zero
}

// table is a map of keys capped at max entries. An LRU would hand an
// exhausted client a fresh bucket after it flooded other keys, so only
// entries with nothing to remember (a full bucket, no strikes, no ban) are
// evicted; when none is, new keys share the overflow bucket instead.
type table struct {
	m         map[netip.Prefix]*entry
	max       int
	rate      Rate
	overflow  *entry
	lastSweep time.Time
	// strikeWindow is how long strikes count; older ones are nothing to
	// remember, or one strike per key would pin a key in the table for good.
	strikeWindow time.Duration
}

// sweepEvery bounds how often a full table is scanned for entries to evict:
// a flood of new keys must not cost a scan of the whole map each.
const sweepEvery = time.Second

// NewMemory returns an in-process limiter. Metrics are registered on reg.
func NewMemory(cfg Config, log *slog.Logger, reg prometheus.Registerer) (*Memory, error) {
	m, err := newMemory(cfg, log)
	if err != nil {
		return nil, err
	}
	m.metrics = newMetrics(reg, m.Keys, func(ctx context.Context) (int, error) { return m.activeBans(), nil })
	return m, nil
}

func newMemory(cfg Config, log *slog.Logger) (*Memory, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	m := &Memory{
		cfg:      cfg,
		log:      log,
		clients:  newTable(cfg.MaxKeys, cfg.Client, cfg.Network, cfg.StrikeWindow),
		networks: newTable(cfg.MaxKeys, cfg.Network, cfg.Network, 0),
	}
	if !cfg.Global.IsZero() {
		m.global = rate.NewLimiter(cfg.Global.limit(), cfg.Global.Burst)
	}
	return m, nil
}

// newTable returns a table of buckets at r whose overflow bucket has rate
// over: shared by many clients, it must be looser than one client's.
func newTable(max int, r, over Rate, strikeWindow time.Duration) table {
	t := table{m: make(map[netip.Prefix]*entry), max: max, rate: r, overflow: &entry{}, strikeWindow: strikeWindow}
	if over.IsZero() {
		over = r
	}
	if !over.IsZero() {
		t.overflow.bucket = rate.NewLimiter(over.limit(), over.Burst)
	}
	return t
}

// get returns k's entry, creating it when there is room, else the shared
// overflow entry (tracked reports which).
func (t *table) get(k netip.Prefix, now time.Time) (e *entry, tracked bool) {
	if e, ok := t.m[k]; ok {
		return e, true
	}
	if len(t.m) >= t.max && now.Sub(t.lastSweep) >= sweepEvery {
		t.lastSweep = now
		for k, e := range t.m {
			if e.isIdle(now, t.strikeWindow) {
				delete(t.m, k)
			}
		}
	}
	if len(t.m) >= t.max {
		return t.overflow, false
	}
	e = &entry{}
	if !t.rate.IsZero() {
		e.bucket = rate.NewLimiter(t.rate.limit(), t.rate.Burst)
	}
	t.m[k] = e
	return e, true
}

// isIdle reports whether forgetting e changes nothing: its bucket is full,
// and it has no strikes within the strike window, no ban and no ban level
// to remember.
func (e *entry) isIdle(now time.Time, strikeWindow time.Duration) bool {
	if e.bucket != nil && e.bucket.TokensAt(now) < float64(e.bucket.Burst()) {
		return false
	}
	strikesExpired := e.strikes == 0 || now.Sub(e.windowStart) >= strikeWindow
	return strikesExpired && !now.Before(e.until) && !now.Before(e.forget)
}

// wait returns how long until b has a token; zero when it has one now.
func wait(b *rate.Limiter, now time.Time) time.Duration {
	if b == nil {
		return 0
	}
	tokens := b.TokensAt(now)
	if tokens >= 1 {
		return 0
	}
	return time.Duration((1 - tokens) / float64(b.Limit()) * float64(time.Second))
}

// Allow takes a token from client's bucket, its network's and the global
// one, or none when any is empty. A refusal by the client's own bucket is a
// strike; one by the network or global bucket is not, since it may fall on
// an innocent neighbour.
func (m *Memory) Allow(ctx context.Context, client netip.Addr) error {
	now := m.cfg.now()
	m.mu.Lock()
	defer m.mu.Unlock()
	c, tracked := m.clients.get(ClientKey(client), now)
	if now.Before(c.until) {
		m.metrics.limited.WithLabelValues("banned").Inc()
		return refusal(c.until.Sub(now), true)
	}
	n, _ := m.networks.get(NetworkKey(client), now)
	reason := "client"
	if !tracked {
		reason = "overflow"
	}
	for _, b := range []struct {
		reason string
		bucket *rate.Limiter
	}{{reason, c.bucket}, {"network", n.bucket}, {"global", m.global}} {
		if d := wait(b.bucket, now); d > 0 {
			m.metrics.limited.WithLabelValues(b.reason).Inc()
			if b.reason == "client" {
				m.strike(ctx, ClientKey(client), c, service.CodeRateLimited, now)
			}
			return refusal(d, false)
		}
	}
	for _, b := range []*rate.Limiter{c.bucket, n.bucket, m.global} {
		if b != nil {
			b.AllowN(now, 1)
		}
	}
	return nil
}

// Strike records an abusive request from client and bans it when it has
// had more than Config.Strikes within Config.StrikeWindow.
func (m *Memory) Strike(ctx context.Context, client netip.Addr, why service.Code) {
	now := m.cfg.now()
	m.mu.Lock()
	defer m.mu.Unlock()
	k := ClientKey(client)
	e, tracked := m.clients.get(k, now)
	if !tracked {
		// The table is full of clients with something to remember; this
		// one's strike cannot be kept, but it is still counted.
		m.metrics.strikes.WithLabelValues(strikeLabel(why)).Inc()
		return
	}
	m.strike(ctx, k, e, why, now)
}

func (m *Memory) strike(ctx context.Context, k netip.Prefix, e *entry, why service.Code, now time.Time) {
	m.metrics.strikes.WithLabelValues(strikeLabel(why)).Inc()
	if m.cfg.Strikes == 0 || now.Before(e.until) {
		return
	}
	if e.strikes == 0 || now.Sub(e.windowStart) >= m.cfg.StrikeWindow {
		e.strikes, e.windowStart = 0, now
	}
	e.strikes++
	if e.strikes <= m.cfg.Strikes {
		return
	}
	if !now.Before(e.forget) {
		e.level = 0
	}
	d := m.cfg.banTime(e.level)
	e.level++
	e.until = now.Add(d)
	e.forget = e.until.Add(m.cfg.MaxBanTime)
	e.strikes = 0
	m.metrics.bans.Inc()
	m.log.InfoContext(ctx, "client banned", "network", NetworkKey(k.Addr()).String(), "for", d.String(), "level", e.level, "last_strike", string(why))
}

// Bans lists the clients banned now.
func (m *Memory) Bans(ctx context.Context) ([]Ban, error) {
	now := m.cfg.now()
	m.mu.Lock()
	defer m.mu.Unlock()
	var bans []Ban
	for k, e := range m.clients.m {
		if now.Before(e.until) {
			bans = append(bans, Ban{Key: k, Until: e.until, Level: e.level})
		}
	}
	slices.SortFunc(bans, func(a, b Ban) int { return a.Until.Compare(b.Until) })
	return bans, nil
}

// Lift ends the ban of key (see ParseKey) and forgets its strikes and
// level. Lifting a key that is not banned does nothing, so that DELETE
// /admin/bans/{key} can be repeated.
func (m *Memory) Lift(ctx context.Context, key string) error {
	k, err := ParseKey(key)
	if err != nil {
		return err
	}
	now := m.cfg.now()
	m.mu.Lock()
	defer m.mu.Unlock()
	e, ok := m.clients.m[k]
	if !ok || !now.Before(e.until) {
		return nil
	}
	e.until, e.forget, e.level, e.strikes = time.Time{}, time.Time{}, 0, 0
	m.log.InfoContext(ctx, "ban lifted", "key", k.String())
	return nil
}

// Keys returns the number of client and network keys tracked.
func (m *Memory) Keys() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.clients.m) + len(m.networks.m)
}

func (m *Memory) activeBans() int {
	now := m.cfg.now()
	m.mu.Lock()
	defer m.mu.Unlock()
	n := 0
	for _, e := range m.clients.m {
		if now.Before(e.until) {
			n++
		}
	}
	return n
}
