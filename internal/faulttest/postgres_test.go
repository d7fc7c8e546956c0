package faulttest

import (
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/signupguard/signupguard/internal/testenv"
	"github.com/signupguard/signupguard/service"
)

// TestPostgresStopped stops Postgres for 10 s under load. Meanwhile every
// signup must be answered 503 unavailable with Retry-After within the
// client's timeout (never a 500, never a hang), blocked IPs must keep their
// 403, and signups must succeed again within 5 s of Postgres being back,
// without a restart. Nothing acknowledged may be lost.
func TestPostgresStopped(t *testing.T) {
	t.Parallel()
	const (
		down     = 10 * time.Second
		recovery = 5 * time.Second
		timeout  = 10 * time.Second // the clients'
	)
	pg := testenv.NewCluster(t)
	srv := startInProcess(t, pg.URL, nil, nil, service.Config{}, nil)
	ok := client("127.0.0.1", timeout, true)
	bad := client("127.0.0.200", timeout, true)
	g := startLoad(6, func(n int) answer {
		if n%3 == 0 {
			return subscribe(bad, srv.URL, fmt.Sprintf("blocked%d@example.org", n))
		}
		a := subscribe(ok, srv.URL, fmt.Sprintf("pg%d@example.org", n))
		if a.status == http.StatusServiceUnavailable {
			time.Sleep(2 * time.Millisecond) // a client backing off, not synchronisation
		}
		return a
	})
	waitFor(t, 30*time.Second, "200 acknowledged signups", func() bool { return g.count(202) >= 200 })

	pg.Stop(t)
	stopped := time.Now()
	<-time.After(down) // the outage itself
	restarting := time.Now()
	pg.Start(t)
	started := time.Now()
	var back time.Time
	waitFor(t, recovery, "a signup stored after Postgres came back", func() bool {
		g.mu.Lock()
		defer g.mu.Unlock()
		for _, a := range g.answers[max(0, len(g.answers)-50):] {
			if a.status == 202 && a.email[0] == 'p' && a.start.After(started) {
				back = a.end
				return true
			}
		}
		return false
	})
	answers := g.finish()

	var during, unavailable, forbidden, others int
	for _, a := range answers {
		isBlocked := a.email[0] == 'b'
		switch {
		case a.status == 0:
			t.Errorf("%s: no answer within %s: %v", a.email, timeout, a.err)
		case isBlocked && a.status != http.StatusForbidden:
			t.Errorf("%s from a blocked IP: status %d, want 403", a.email, a.status)
		case isBlocked:
			forbidden++
		case a.status == http.StatusServiceUnavailable:
			unavailable++
			if a.code != "unavailable" || a.retryAfter == "" {
				t.Errorf("%s: 503 with code %q, Retry-After %q", a.email, a.code, a.retryAfter)
			}
		case a.status != http.StatusAccepted:
			others++
			t.Errorf("%s: status %d", a.email, a.status)
		}
		if !isBlocked && a.start.After(stopped) && a.end.Before(restarting) {
			during++
			if a.status != http.StatusServiceUnavailable {
				t.Errorf("%s sent while Postgres was down: status %d, want 503", a.email, a.status)
			}
		}
	}
	t.Logf("Postgres down %s: %d signups sent meanwhile, %d answered 503 in all, %d blocked answered 403; stored again %s after restart",
		down, during, unavailable, forbidden, back.Sub(started).Round(time.Millisecond))
	if during == 0 {
		t.Error("no signup was sent while Postgres was down: the test proved nothing")
	}
	checkNothingLost(t, pg.URL, answers)
}
