package faulttest

import (
	"fmt"
	"syscall"
	"testing"
	"time"

	"github.com/signupguard/signupguard/internal/testenv"
)

// TestKill9UnderLoad kills the process without warning while it stores new
// addresses: every address that was acknowledged must be in Postgres, since
// the answer comes only after the commit (SPEC 6).
func TestKill9UnderLoad(t *testing.T) {
	t.Parallel()
	dbURL := testenv.PostgresURL(t)
	p := startBinary(t, "DATABASE_URL="+dbURL)
	c := client("127.0.0.1", 10*time.Second, true)
	base := "http://" + p.addr
	g := startLoad(16, func(n int) answer {
		return subscribe(c, base, fmt.Sprintf("kill%d@example.org", n))
	})
	// Kill while acknowledgements are flowing, not before the first.
	waitFor(t, 30*time.Second, "1000 acknowledged signups", func() bool { return g.count(202) >= 1000 })
	p.signal(t, syscall.SIGKILL)
	p.wait(t, 10*time.Second)
	answers := g.finish()
	var failed int
	for _, a := range answers {
		if a.status/100 == 5 && a.status != 503 {
			t.Errorf("%s: status %d", a.email, a.status)
		}
		if a.status == 0 {
			failed++
		}
	}
	t.Logf("connection errors after the kill: %d", failed)
	checkNothingLost(t, dbURL, answers)
}
