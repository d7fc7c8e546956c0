package limit

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/signupguard/signupguard/internal/testenv"
	"github.com/signupguard/signupguard/service"
)

// newTestRedis returns a Redis limiter on the test server under prefix.
func newTestRedis(t *testing.T, cfg Config, url, prefix string) *Redis {
	t.Helper()
	// Generous timeouts: on a loaded test machine a slow answer would
	// switch to the in-process fallback, and these tests are about Redis.
	cfg.RedisTimeout = 10 * time.Second
	client, err := DialRedis(url, cfg.RedisTimeout)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { client.Close() })
	r, err := NewRedis(cfg, client, prefix, discard(), prometheus.NewRegistry())
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Check(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if r.outages != 0 {
			t.Errorf("Redis went away %d times during the test (last: %v)", r.outages, r.lastErr)
		}
	})
	return r
}

func banConfig(clk *clock) Config {
	cfg := testConfig(clk)
	cfg.Network = Rate{N: 20, Per: time.Minute, Burst: 10}
	cfg.Global = Rate{N: 30, Per: time.Minute, Burst: 30}
	cfg.Strikes, cfg.StrikeWindow, cfg.BanTime, cfg.MaxBanTime = 3, time.Minute, 2*time.Minute, 8*time.Minute
	return cfg
}

// Two instances sharing one Redis share limits and bans: a client limited
// or banned on one is limited or banned on the other.
func TestRedisSharedByInstances(t *testing.T) {
	url, prefix := testenv.RedisURL(t)
	ctx := context.Background()
	clk := newClock()
	cfg := banConfig(clk)
	a, b := newTestRedis(t, cfg, url, prefix), newTestRedis(t, cfg, url, prefix)
	c := ip("2001:db8:5::1")

	for i := range 3 {
		if err := a.Allow(ctx, c); err != nil {
			t.Fatalf("request %d on A: %v", i+1, err)
		}
	}
	if got := retryAfter(t, b.Allow(ctx, ip("2001:db8:5::2"))); got != 12*time.Second {
		t.Errorf("on B, same /64: RetryAfter %v, want 12s", got)
	}
	clk.Advance(12 * time.Second)
	if err := b.Allow(ctx, c); err != nil {
		t.Fatalf("on B after 12s: %v", err)
	}
	retryAfter(t, a.Allow(ctx, c))

	// Strikes on both instances add up to a ban seen by both.
	a.Strike(ctx, c, service.CodeInvalidEmail)
	b.Strike(ctx, c, service.CodeInvalidEmail)
	a.Strike(ctx, c, service.CodeDisposable)
	if got := retryAfter(t, b.Allow(ctx, c)); got != 2*time.Minute {
		t.Fatalf("banned on B: RetryAfter %v, want 2m", got)
	}
	bans, err := b.Bans(ctx)
	if err != nil || len(bans) != 1 || bans[0].Key != netip.MustParsePrefix("2001:db8:5::/64") || bans[0].Level != 1 {
		t.Fatalf("Bans on B = %+v, %v", bans, err)
	}
	if n, _ := a.activeBans(ctx); n != 1 {
		t.Errorf("active bans on A = %d", n)
	}
	if err := b.Lift(ctx, "2001:db8:5::/64"); err != nil {
		t.Fatal(err)
	}
	if bans, _ := a.Bans(ctx); len(bans) != 0 {
		t.Errorf("Bans on A after Lift on B = %v", bans)
	}
	clk.Advance(time.Minute)
	if err := a.Allow(ctx, c); err != nil {
		t.Errorf("on A after Lift: %v", err)
	}
	if err := a.Lift(ctx, "10.0.0.0/8"); service.ErrorCode(err) != service.CodeInvalidRequest {
		t.Errorf("Lift of a network: %v", err)
	}
}

// Redis and Memory give the same answers to the same traffic: the same
// refusals with the same Retry-After in whole seconds, the same bans.
func TestRedisMatchesMemory(t *testing.T) {
	url, prefix := testenv.RedisURL(t)
	ctx := context.Background()
	clk := newClock()
	cfg := banConfig(clk)
	cfg.Network = Rate{N: 6, Per: time.Minute, Burst: 4}
	cfg.Global = Rate{N: 15, Per: time.Minute, Burst: 10}
	red := newTestRedis(t, cfg, url, prefix)
	mem, _ := newTestMemory(t, cfg)
	clients := []netip.Addr{ip("192.0.2.1"), ip("192.0.2.2"), ip("198.51.100.1"), ip("203.0.113.1"),
		ip("2001:db8::1"), ip("2001:db8::2:1"), ip("2001:db8:1::1"), ip("::ffff:192.0.2.1")}
	rng := rand.New(rand.NewPCG(1, 2))
	answer := func(err error) string {
		if err == nil {
			return "ok"
		}
		var e *service.Error
		if !errors.As(err, &e) {
			return "error " + err.Error()
		}
		return fmt.Sprintf("%s %s %ds", e.Code, strings.Fields(e.Message)[0], int(math.Ceil(e.RetryAfter.Seconds())))
	}
	for step := range 3000 {
		c := clients[rng.IntN(len(clients))]
		switch rng.IntN(10) {
		case 0:
			mem.Strike(ctx, c, service.CodeInvalidEmail)
			red.Strike(ctx, c, service.CodeInvalidEmail)
		case 1:
			clk.Advance(time.Duration(rng.IntN(30_000)) * time.Millisecond)
		default:
			if m, r := answer(mem.Allow(ctx, c)), answer(red.Allow(ctx, c)); m != r {
				t.Fatalf("step %d, client %v: memory %q, redis %q", step, c, m, r)
			}
		}
	}
	mb, _ := mem.Bans(ctx)
	rb, err := red.Bans(ctx)
	if err != nil || fmt.Sprint(mb) != fmt.Sprint(rb) {
		t.Errorf("bans: memory %v, redis %v (%v)", mb, rb, err)
	}
	// The traffic must have met every kind of refusal, or the comparison
	// proves little.
	for _, reason := range []string{"client", "network", "global", "banned"} {
		if testutil.ToFloat64(mem.metrics.limited.WithLabelValues(reason)) == 0 {
			t.Errorf("no refusal for %s in the traffic", reason)
		}
	}
}

// An unreachable Redis costs no request: the limits hold in process, the
// outage is logged once and Check reports it.
func TestRedisUnreachable(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // nothing listens there now

	ctx := context.Background()
	clk := newClock()
	client, err := DialRedis("redis://"+addr, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	var logs bytes.Buffer
	r, err := NewRedis(banConfig(clk), client, "x:", logTo(&logs), prometheus.NewRegistry())
	if err != nil {
		t.Fatal(err)
	}
	c := ip("192.0.2.9")
	for i := range 3 {
		if err := r.Allow(ctx, c); err != nil {
			t.Fatalf("request %d: %v", i+1, err)
		}
		clk.Advance(time.Second) // past redisRetry by the end, so Redis is asked again
		clk.Advance(2 * time.Second)
	}
	retryAfter(t, r.Allow(ctx, c))
	for range 4 {
		r.Strike(ctx, c, service.CodeInvalidEmail)
	}
	if bans, err := r.Bans(ctx); err != nil || len(bans) != 1 {
		t.Errorf("Bans during the outage = %v, %v; want the in-process ban", bans, err)
	}
	if err := r.Check(ctx); err == nil || !strings.Contains(err.Error(), "redis unreachable") {
		t.Errorf("Check = %v", err)
	}
	if n := strings.Count(logs.String(), "redis unreachable"); n != 1 {
		t.Errorf("%d outage log lines, want 1:\n%s", n, logs.String())
	}
}

// A request whose client has hung up still spends its token and takes its
// strike, and says nothing about Redis's health.
func TestRedisCancelledRequest(t *testing.T) {
	url, prefix := testenv.RedisURL(t)
	clk := newClock()
	cfg := banConfig(clk)
	cfg.Strikes = 1
	r := newTestRedis(t, cfg, url, prefix)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	c := ip("192.0.2.77")
	for i := range 3 {
		if err := r.Allow(ctx, c); err != nil {
			t.Fatalf("request %d: %v", i+1, err)
		}
	}
	retryAfter(t, r.Allow(ctx, c))
	r.Strike(ctx, c, service.CodeInvalidEmail)
	if bans, err := r.Bans(context.Background()); err != nil || len(bans) != 1 {
		t.Errorf("Bans = %v, %v; want the ban of two strikes", bans, err)
	}
	if !r.usable(clk.Now()) {
		t.Error("a cancelled request marked Redis unusable")
	}
}
