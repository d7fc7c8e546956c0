package limit

import (
	"context"
	"net/netip"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/signupguard/signupguard/internal/testenv"
)

// benchAllow sends b.N requests from 1,000 clients over 10 /24s, the clock
// moving a millisecond per request: a mix of allowed and refused.
func benchAllow(b *testing.B, l interface {
	Allow(context.Context, netip.Addr) error
}, clk *clock) {
	ctx := context.Background()
	clients := make([]netip.Addr, 1000)
	for i := range clients {
		clients[i] = netip.AddrFrom4([4]byte{10, 0, byte(i / 100), byte(i % 100)})
	}
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		l.Allow(ctx, clients[i%len(clients)])
		clk.Advance(time.Millisecond)
	}
}

func BenchmarkMemoryAllow(b *testing.B) {
	clk := newClock()
	cfg := DefaultConfig()
	cfg.Now = clk.Now
	m, err := NewMemory(cfg, discard(), prometheus.NewRegistry())
	if err != nil {
		b.Fatal(err)
	}
	benchAllow(b, m, clk)
}

func BenchmarkRedisAllow(b *testing.B) {
	url, prefix := testenv.RedisURL(b)
	clk := newClock()
	cfg := DefaultConfig()
	cfg.Now = clk.Now
	client, err := DialRedis(url, 0)
	if err != nil {
		b.Fatal(err)
	}
	defer client.Close()
	r, err := NewRedis(cfg, client, prefix, discard(), prometheus.NewRegistry())
	if err != nil {
		b.Fatal(err)
	}
	benchAllow(b, r, clk)
}
