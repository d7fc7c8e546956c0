package faulttest

import (
	"fmt"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/signupguard/signupguard/internal/testenv"
	"github.com/signupguard/signupguard/service"
	"github.com/signupguard/signupguard/service/mx"
)

// TestDNSSilent stops the DNS server answering: a signup whose domain is
// not cached must be answered within the MX timeout plus 100 ms, as the
// tempfail policy says (503 unavailable with Retry-After, or stored), and
// a domain verified before keeps working from the cache.
func TestDNSSilent(t *testing.T) {
	t.Parallel()
	const mxTimeout = time.Second
	for _, accept := range []bool{false, true} {
		t.Run(fmt.Sprintf("accept=%v", accept), func(t *testing.T) {
			t.Parallel()
			ns := testenv.NewDNS(t,
				"example.org. 300 IN MX 10 mail.example.org.",
				"mail.example.org. 300 IN A 93.184.215.14",
			)
			verifier, err := mx.New(mx.Config{Servers: []string{ns.Addr()}}, prometheus.NewRegistry())
			if err != nil {
				t.Fatal(err)
			}
			dbURL := testenv.PostgresURL(t)
			srv := startInProcess(t, dbURL, nil, verifier, service.Config{MXTimeout: mxTimeout, AcceptMXTempfail: accept}, nil)
			c := client("127.0.0.1", 10*time.Second, true)
			if a := subscribe(c, srv.URL, "before@example.org"); a.status != http.StatusAccepted {
				t.Fatalf("with DNS answering: status %d, err %v", a.status, a.err)
			}

			ns.SetMode("", testenv.DNSSilent)
			want, wantCode := http.StatusServiceUnavailable, "unavailable"
			if accept {
				want, wantCode = http.StatusAccepted, ""
			}
			var mu sync.Mutex
			var answers []answer
			var wg sync.WaitGroup
			for i := range 8 {
				wg.Go(func() {
					a := subscribe(c, srv.URL, fmt.Sprintf("x@d%d.example.net", i))
					mu.Lock()
					answers = append(answers, a)
					mu.Unlock()
				})
			}
			wg.Go(func() {
				a := subscribe(c, srv.URL, "cached@example.org")
				if a.status != http.StatusAccepted {
					t.Errorf("domain verified before the outage: status %d, err %v", a.status, a.err)
				}
			})
			wg.Wait()
			var slowest time.Duration
			for _, a := range answers {
				took := a.end.Sub(a.start)
				slowest = max(slowest, took)
				if a.status != want || a.code != wantCode {
					t.Errorf("%s: status %d code %q, want %d %q", a.email, a.status, a.code, want, wantCode)
				}
				if want == http.StatusServiceUnavailable && a.retryAfter == "" {
					t.Errorf("%s: 503 without Retry-After", a.email)
				}
				if took > mxTimeout+100*time.Millisecond {
					t.Errorf("%s: answered after %s, want within %s", a.email, took, mxTimeout+100*time.Millisecond)
				}
			}
			t.Logf("DNS silent, tempfail accept=%v: %d signups answered %d, slowest after %s (MX timeout %s)",
				accept, len(answers), want, slowest.Round(time.Millisecond), mxTimeout)
			checkNothingLost(t, dbURL, answers)
		})
	}
}
