package limit

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/signupguard/signupguard/service"
)

// clock is a hand-moved clock: tests advance it instead of sleeping.
type clock struct{ t time.Time }

func newClock() *clock                     { return &clock{t: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)} }
func (c *clock) Now() time.Time            { return c.t }
func (c *clock) Advance(d time.Duration)   { c.t = c.t.Add(d) }
func ip(s string) netip.Addr               { return netip.MustParseAddr(s) }
func discard() *slog.Logger                { return slog.New(slog.DiscardHandler) }
func logTo(buf *bytes.Buffer) *slog.Logger { return slog.New(slog.NewJSONHandler(buf, nil)) }

// testConfig has only a client limit of 5/min with burst 3, and no bans,
// unless a test sets more.
func testConfig(clk *clock) Config {
	return Config{Client: Rate{N: 5, Per: time.Minute, Burst: 3}, MaxKeys: 1000, Now: clk.Now}
}

func newTestMemory(t *testing.T, cfg Config) (*Memory, *prometheus.Registry) {
	t.Helper()
	reg := prometheus.NewRegistry()
	m, err := NewMemory(cfg, discard(), reg)
	if err != nil {
		t.Fatal(err)
	}
	return m, reg
}

// retryAfter returns err's RetryAfter, failing unless err is a 429.
func retryAfter(t *testing.T, err error) time.Duration {
	t.Helper()
	var e *service.Error
	if !errors.As(err, &e) || e.Code != service.CodeRateLimited {
		t.Fatalf("err = %v, want %s", err, service.CodeRateLimited)
	}
	return e.RetryAfter
}

func TestMemoryClientRate(t *testing.T) {
	ctx := context.Background()
	clk := newClock()
	m, _ := newTestMemory(t, testConfig(clk))
	a := ip("192.0.2.1")

	for i := range 3 {
		if err := m.Allow(ctx, a); err != nil {
			t.Fatalf("request %d of the burst: %v", i+1, err)
		}
	}
	if got := retryAfter(t, m.Allow(ctx, a)); got != 12*time.Second {
		t.Errorf("RetryAfter = %v, want 12s (one token of 5/min)", got)
	}
	// Another client, and the same one over IPv4-mapped IPv6, are keyed apart/alike.
	if err := m.Allow(ctx, ip("192.0.2.2")); err != nil {
		t.Errorf("other client: %v", err)
	}
	retryAfter(t, m.Allow(ctx, ip("::ffff:192.0.2.1")))

	clk.Advance(11 * time.Second)
	if got := retryAfter(t, m.Allow(ctx, a)); got != time.Second {
		t.Errorf("RetryAfter after 11s = %v, want 1s", got)
	}
	clk.Advance(time.Second)
	if err := m.Allow(ctx, a); err != nil {
		t.Fatalf("after 12s: %v", err)
	}
}

// The burst comes on top of the rate (PITFALLS): a fresh client trying once
// a second gets Burst + N through in its first period, then N a period.
func TestMemoryFirstPeriod(t *testing.T) {
	ctx := context.Background()
	clk := newClock()
	m, _ := newTestMemory(t, testConfig(clk))
	a := ip("2001:db8::1")
	count := func(seconds int) int {
		n := 0
		for range seconds {
			if m.Allow(ctx, a) == nil {
				n++
			}
			clk.Advance(time.Second)
		}
		return n
	}
	if got := count(60); got != 3+5-1 {
		// t = 0..59 s: the 3 of the burst, then tokens at 12, 24, 36, 48 s.
		t.Errorf("first 60 s: %d allowed, want 7", got)
	}
	if got := count(60); got != 5 {
		t.Errorf("second minute: %d allowed, want 5", got)
	}
}

func TestMemoryIPv6Per64(t *testing.T) {
	ctx := context.Background()
	clk := newClock()
	m, _ := newTestMemory(t, testConfig(clk))
	for i := range 3 {
		if err := m.Allow(ctx, ip(fmt.Sprintf("2001:db8:1:2::%x", i+1))); err != nil {
			t.Fatal(err)
		}
	}
	// A fresh address in the same /64 is the same client.
	retryAfter(t, m.Allow(ctx, ip("2001:db8:1:2:ffff:ffff:ffff:ffff")))
	if err := m.Allow(ctx, ip("2001:db8:1:3::1")); err != nil {
		t.Errorf("next /64: %v", err)
	}
}

func TestMemoryNetworkAndGlobal(t *testing.T) {
	ctx := context.Background()
	clk := newClock()
	cfg := testConfig(clk)
	cfg.Network = Rate{N: 4, Per: time.Minute, Burst: 4}
	cfg.Global = Rate{N: 6, Per: time.Minute, Burst: 6}
	cfg.Strikes, cfg.StrikeWindow, cfg.BanTime, cfg.MaxBanTime = 1, time.Hour, time.Hour, time.Hour
	m, reg := newTestMemory(t, cfg)

	// Four clients of one /24, one request each: the network allows 4.
	for i := range 4 {
		if err := m.Allow(ctx, ip(fmt.Sprintf("198.51.100.%d", i+1))); err != nil {
			t.Fatalf("client %d: %v", i+1, err)
		}
	}
	if got := retryAfter(t, m.Allow(ctx, ip("198.51.100.99"))); got != 15*time.Second {
		t.Errorf("network RetryAfter = %v, want 15s", got)
	}
	// Another /24 is fine until the global ceiling of 6.
	for i := range 2 {
		if err := m.Allow(ctx, ip(fmt.Sprintf("203.0.113.%d", i+1))); err != nil {
			t.Fatalf("other network, client %d: %v", i+1, err)
		}
	}
	if got := retryAfter(t, m.Allow(ctx, ip("2001:db8::1"))); got != 10*time.Second {
		t.Errorf("global RetryAfter = %v, want 10s", got)
	}
	// Repeated network and global refusals are no strikes: nobody is banned.
	for range 5 {
		m.Allow(ctx, ip("198.51.100.99"))
	}
	if bans, _ := m.Bans(ctx); len(bans) != 0 {
		t.Errorf("bans after network refusals: %v", bans)
	}
	if got := testutil.ToFloat64(m.metrics.limited.WithLabelValues("network")); got != 6 {
		t.Errorf("limited{network} = %v, want 6", got)
	}
	if got := testutil.ToFloat64(m.metrics.limited.WithLabelValues("global")); got != 1 {
		t.Errorf("limited{global} = %v, want 1", got)
	}
	if n, err := testutil.GatherAndCount(reg, "signupguard_limit_keys"); err != nil || n != 1 {
		t.Errorf("keys gauge: %d series, %v", n, err)
	}
}

func TestMemoryBans(t *testing.T) {
	ctx := context.Background()
	clk := newClock()
	cfg := testConfig(clk)
	cfg.Strikes, cfg.StrikeWindow, cfg.BanTime, cfg.MaxBanTime = 3, time.Minute, 10*time.Minute, 40*time.Minute
	var logs bytes.Buffer
	reg := prometheus.NewRegistry()
	m, err := NewMemory(cfg, logTo(&logs), reg)
	if err != nil {
		t.Fatal(err)
	}
	a := ip("192.0.2.1")
	strikes := func(n int) {
		for range n {
			m.Strike(ctx, a, service.CodeInvalidEmail)
		}
	}

	strikes(3)
	if err := m.Allow(ctx, a); err != nil {
		t.Fatalf("3 strikes (not more than 3): %v", err)
	}
	// Strikes outside the window do not add up.
	clk.Advance(time.Minute)
	strikes(3)
	if err := m.Allow(ctx, a); err != nil {
		t.Fatalf("3 strikes in a new window: %v", err)
	}

	// Each ban doubles: 10, 20, 40, then the 40 min ceiling.
	for i, want := range []time.Duration{10 * time.Minute, 20 * time.Minute, 40 * time.Minute, 40 * time.Minute} {
		clk.Advance(time.Minute) // new window
		strikes(4)
		if got := retryAfter(t, m.Allow(ctx, a)); got != want {
			t.Fatalf("ban %d: RetryAfter %v, want %v", i+1, got, want)
		}
		bans, _ := m.Bans(ctx)
		if len(bans) != 1 || bans[0].Key != netip.MustParsePrefix("192.0.2.1/32") || bans[0].Level != i+1 || !bans[0].Until.Equal(clk.Now().Add(want)) {
			t.Fatalf("ban %d: Bans = %+v", i+1, bans)
		}
		// Strikes while banned change nothing; the ban ends on time.
		strikes(10)
		clk.Advance(want - time.Second)
		retryAfter(t, m.Allow(ctx, a))
		clk.Advance(time.Second)
		if err := m.Allow(ctx, a); err != nil {
			t.Fatalf("ban %d over: %v", i+1, err)
		}
	}
	// A client that behaves for the ceiling after a ban starts over.
	clk.Advance(40 * time.Minute)
	strikes(4)
	if got := retryAfter(t, m.Allow(ctx, a)); got != 10*time.Minute {
		t.Errorf("after a clean period: RetryAfter %v, want 10m", got)
	}
	if !strings.Contains(logs.String(), `"msg":"client banned","network":"192.0.2.0/24"`) {
		t.Errorf("no ban log line in %s", logs.String())
	}
	if got := testutil.ToFloat64(m.metrics.bans); got != 5 {
		t.Errorf("bans_total = %v, want 5", got)
	}
	if got := testutil.ToFloat64(m.metrics.limited.WithLabelValues("banned")); got < 5 {
		t.Errorf("limited{banned} = %v", got)
	}
	if n, err := testutil.GatherAndCount(reg, "signupguard_limit_bans"); err != nil || n != 1 {
		t.Errorf("bans gauge: %d series, %v", n, err)
	}
	if got := m.activeBans(); got != 1 {
		t.Errorf("active bans = %d, want 1", got)
	}

	// Lift ends the ban and the level.
	if err := m.Lift(ctx, "192.0.2.1"); err != nil {
		t.Fatal(err)
	}
	if err := m.Allow(ctx, a); err != nil {
		t.Errorf("after Lift: %v", err)
	}
	if err := m.Lift(ctx, "192.0.2.1/32"); err != nil {
		t.Errorf("second Lift: %v, want nil", err)
	}
	if err := m.Lift(ctx, "192.0.2.0/24"); service.ErrorCode(err) != service.CodeInvalidRequest {
		t.Errorf("Lift of a network: %v, want %s", err, service.CodeInvalidRequest)
	}
	clk.Advance(time.Minute)
	strikes(4)
	if got := retryAfter(t, m.Allow(ctx, a)); got != 10*time.Minute {
		t.Errorf("after Lift, first ban again: RetryAfter %v, want 10m", got)
	}
}

// Hammering past the limit is itself abuse: each 429 of the client's own
// bucket is a strike.
func TestMemoryRateLimitStrikes(t *testing.T) {
	ctx := context.Background()
	clk := newClock()
	cfg := testConfig(clk)
	cfg.Strikes, cfg.StrikeWindow, cfg.BanTime, cfg.MaxBanTime = 5, time.Minute, time.Hour, time.Hour
	m, _ := newTestMemory(t, cfg)
	a := ip("2001:db8::7")
	for range 3 + 5 {
		m.Allow(ctx, a)
	}
	if bans, _ := m.Bans(ctx); len(bans) != 0 {
		t.Fatalf("banned after 5 strikes: %v", bans)
	}
	m.Allow(ctx, a)
	bans, _ := m.Bans(ctx)
	if len(bans) != 1 || bans[0].Key != netip.MustParsePrefix("2001:db8::/64") {
		t.Fatalf("after the 6th 429: Bans = %v", bans)
	}
	if got := testutil.ToFloat64(m.metrics.strikes.WithLabelValues("rate_limited")); got != 6 {
		t.Errorf("strikes{rate_limited} = %v, want 6", got)
	}
}

// Flooding from a million distinct /64s keeps both tables within the cap,
// and never hands a client that emptied its bucket a fresh one.
func TestMemoryBounded(t *testing.T) {
	if testing.Short() {
		t.Skip("a million requests; skipped with -short")
	}
	ctx := context.Background()
	clk := newClock()
	cfg := testConfig(clk)
	cfg.Network = Rate{N: 60, Per: time.Minute, Burst: 60}
	cfg.MaxKeys = 1000
	m, _ := newTestMemory(t, cfg)
	victim := ip("192.0.2.1")

	// allowed counts the victim's successes; its budget is the burst plus
	// what refilled, and it spends all it gets.
	allowed, start := 0, clk.Now()
	drain := func() {
		for m.Allow(ctx, victim) == nil {
			allowed++
		}
	}
	drain()
	for i := range 1_000_000 {
		// Distinct /64s spread over 2^20 /48s, a millisecond apart: over the
		// run the flood's buckets refill and get evicted, new ones overflow.
		a := netip.AddrFrom16([16]byte{0x20, 0x01, 0x0d, 0xb8, byte(i >> 16), byte(i >> 8), byte(i), 0, 0, 0, 0, 0, 0, 0, 0, 1})
		m.Allow(ctx, a)
		clk.Advance(time.Millisecond)
		if i%1000 == 0 {
			drain()
			if got := len(m.clients.m); got > cfg.MaxKeys {
				t.Fatalf("after %d keys: %d clients tracked, cap %d", i, got, cfg.MaxKeys)
			}
			if got := len(m.networks.m); got > cfg.MaxKeys {
				t.Fatalf("after %d keys: %d networks tracked, cap %d", i, got, cfg.MaxKeys)
			}
		}
	}
	elapsed := clk.Now().Sub(start)
	budget := 3 + int(elapsed/(12*time.Second))
	if allowed > budget {
		t.Errorf("victim got %d requests through in %v; its budget was %d", allowed, elapsed, budget)
	}
	if allowed < budget-1 {
		t.Errorf("victim got only %d of its %d: its own tokens were lost", allowed, budget)
	}
	if m.Keys() > 2*cfg.MaxKeys {
		t.Errorf("Keys() = %d", m.Keys())
	}
}

// One strike from each of MaxKeys clients must not pin them in the table
// once their strike window has passed: otherwise every later newcomer
// shares the overflow bucket, and none can be banned.
func TestMemoryStaleStrikesEvicted(t *testing.T) {
	ctx := context.Background()
	clk := newClock()
	cfg := testConfig(clk)
	cfg.MaxKeys = 100
	cfg.Strikes, cfg.StrikeWindow, cfg.BanTime, cfg.MaxBanTime = 2, time.Minute, time.Minute, time.Hour
	m, _ := newTestMemory(t, cfg)
	for i := range cfg.MaxKeys {
		m.Strike(ctx, netip.AddrFrom4([4]byte{198, 51, byte(i), 1}), service.CodeInvalidEmail)
	}
	if got := len(m.clients.m); got != cfg.MaxKeys {
		t.Fatalf("%d clients tracked after the strikes, want the cap %d", got, cfg.MaxKeys)
	}

	clk.Advance(cfg.StrikeWindow + sweepEvery)
	newcomer := ip("203.0.113.7")
	if err := m.Allow(ctx, newcomer); err != nil {
		t.Fatalf("newcomer refused: %v", err)
	}
	if _, tracked := m.clients.get(ClientKey(newcomer), clk.Now()); !tracked {
		t.Fatal("a newcomer after the strike window shares the overflow bucket: stale strikes pin the table")
	}
	for range cfg.Strikes + 1 {
		m.Strike(ctx, newcomer, service.CodeInvalidEmail)
	}
	if d := retryAfter(t, m.Allow(ctx, newcomer)); d <= 0 {
		t.Fatalf("newcomer with %d strikes: Retry-After %v", cfg.Strikes+1, d)
	}
}

func TestConfigValidate(t *testing.T) {
	ok := DefaultConfig()
	if err := ok.validate(); err != nil {
		t.Fatalf("DefaultConfig: %v", err)
	}
	tests := []struct {
		name string
		edit func(c *Config)
	}{
		{"NoBurst", func(c *Config) { c.Client.Burst = 0 }},
		{"NoKeys", func(c *Config) { c.MaxKeys = 0 }},
		{"NegativeStrikes", func(c *Config) { c.Strikes = -1 }},
		{"NoWindow", func(c *Config) { c.StrikeWindow = 0 }},
		{"CeilingBelowBan", func(c *Config) { c.MaxBanTime = c.BanTime - 1 }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := DefaultConfig()
			tt.edit(&c)
			if _, err := NewMemory(c, discard(), prometheus.NewRegistry()); err == nil {
				t.Error("NewMemory accepted it")
			}
		})
	}
}
