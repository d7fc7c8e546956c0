package mx

import (
	"context"
	"testing"

	"github.com/signupguard/signupguard/internal/testenv"
)

// BenchmarkVerifyMX measures a verification answered from the cache (the
// hot path: most signups name a handful of big providers) and a full
// lookup against a loopback DNS server (MX, then A of the best host).
func BenchmarkVerifyMX(b *testing.B) {
	srv := testenv.NewDNS(b,
		"ok.example.com. 300 IN MX 10 mx1.ok.example.com.",
		"mx1.ok.example.com. 300 IN A "+public4,
	)
	ctx := context.Background()
	b.Run("Cached", func(b *testing.B) {
		v := newVerifier(b, srv.Addr())
		if err := v.VerifyMX(ctx, "ok.example.com"); err != nil {
			b.Fatal(err)
		}
		b.ReportAllocs()
		for b.Loop() {
			if err := v.VerifyMX(ctx, "ok.example.com"); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("Lookup", func(b *testing.B) {
		v := newVerifier(b, srv.Addr())
		b.ReportAllocs()
		for b.Loop() {
			if e := v.lookup(ctx, "ok.example.com."); e.err != nil {
				b.Fatal(e.err)
			}
		}
	})
}
