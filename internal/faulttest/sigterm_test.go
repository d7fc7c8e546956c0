package faulttest

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/signupguard/signupguard/internal/testenv"
)

// TestSIGTERMUnderLoad stops the process with SIGTERM while it serves: it
// must finish every request in flight and exit 0. Requests are in flight
// for certain when they are half sent at the signal; the steady load around
// them may meet a closed port after it, but never a 5xx.
func TestSIGTERMUnderLoad(t *testing.T) {
	t.Parallel()
	dbURL := testenv.PostgresURL(t)
	p := startBinary(t, "DATABASE_URL="+dbURL, "SIGNUPGUARD_SHUTDOWN_TIMEOUT=10s")
	base := "http://" + p.addr

	// Held requests: headers and half the body sent, the rest after SIGTERM.
	const held = 8
	signalled := make(chan struct{})
	heldAnswers := make(chan answer, held)
	for i := range held {
		email := fmt.Sprintf("held%d@example.org", i)
		body, rest := `{"email":"`+email, `"}`
		pr, pw := io.Pipe()
		sent := make(chan struct{})
		go func() {
			io.WriteString(pw, body)
			close(sent)
			<-signalled
			io.WriteString(pw, rest)
			pw.Close()
		}()
		go func() {
			a := answer{email: email, start: time.Now()}
			req, _ := http.NewRequestWithContext(context.Background(), http.MethodPost, base+"/subscribe", pr)
			req.Header.Set("Content-Type", "application/json")
			req.ContentLength = int64(len(body) + len(rest))
			resp, err := client("127.0.0.1", 30*time.Second, false).Do(req)
			if err != nil {
				a.err = err
			} else {
				a.status = resp.StatusCode
				resp.Body.Close()
			}
			a.end = time.Now()
			heldAnswers <- a
		}()
		<-sent
	}

	c := client("127.0.0.1", 30*time.Second, true)
	g := startLoad(8, func(n int) answer {
		return subscribe(c, base, fmt.Sprintf("term%d@example.org", n))
	})
	waitFor(t, 30*time.Second, "200 acknowledged signups", func() bool { return g.count(202) >= 200 })
	// The held connections were dialled before any of the load's, and the
	// server accepts in order, so once it has answered the load it has
	// accepted them: they are in flight, and Shutdown must wait for them.
	sigAt := time.Now()
	p.signal(t, syscall.SIGTERM)
	close(signalled)
	err := p.wait(t, 15*time.Second)
	exited := time.Since(sigAt)
	answers := g.finish()

	var all []answer
	okHeld := 0
	for range held {
		a := <-heldAnswers
		all = append(all, a)
		if a.status == 202 {
			okHeld++
		} else {
			t.Errorf("held request %s: status %d, err %v; want 202", a.email, a.status, a.err)
		}
	}
	refused, fivexx := 0, 0
	for _, a := range answers {
		switch {
		case a.status >= 500:
			fivexx++
			t.Errorf("%s: status %d", a.email, a.status)
		case a.status == 0 && a.start.Before(sigAt) && !isConnError(a.err):
			t.Errorf("%s: in flight at SIGTERM, failed: %v", a.email, a.err)
		case a.status == 0:
			refused++
		}
	}
	all = append(all, answers...)
	t.Logf("held %d, answered 202 %d; load sent %d, refused after SIGTERM %d, 5xx %d; exit %v after %s",
		held, okHeld, len(answers), refused, fivexx, err, exited.Round(time.Millisecond))
	if err != nil {
		t.Errorf("exit: %v, want status 0", err)
	}
	checkNothingLost(t, dbURL, all)
}

// isConnError reports whether err means the request never reached a
// server that was still taking requests: refused, or its idle keep-alive
// connection closed by the shutdown as it was sent.
func isConnError(err error) bool {
	if err == nil {
		return false
	}
	if errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ECONNRESET) || errors.Is(err, io.EOF) {
		return true
	}
	return strings.Contains(err.Error(), "server closed idle connection")
}
