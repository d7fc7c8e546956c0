package faulttest

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/signupguard/signupguard/internal/testenv"
	"github.com/signupguard/signupguard/service"
)

// TestSlowClients opens connections that send their headers, or their body,
// a few bytes at a time: the server's timeouts must close every one, with
// no 5xx, and its goroutines must return to where they were. It runs alone
// (not in parallel) so that the goroutine count is the server's.
func TestSlowClients(t *testing.T) {
	srv := startInProcess(t, testenv.PostgresURL(t), nil, nil, service.Config{}, nil)
	host := strings.TrimPrefix(srv.URL, "http://")
	baseline := runtime.NumGoroutine()

	const each = 20
	type closed struct {
		kind   string
		after  time.Duration
		status string // the status line, if the server answered before closing
		err    error
	}
	results := make(chan closed, 2*each)
	var wg sync.WaitGroup
	slow := func(kind, head string, drip func(i int) string) {
		conn, err := net.Dial("tcp", host)
		if err != nil {
			t.Error(err)
			return
		}
		wg.Go(func() {
			defer conn.Close()
			start := time.Now()
			io.WriteString(conn, head)
			stop := make(chan struct{})
			go func() {
				tick := time.NewTicker(500 * time.Millisecond)
				defer tick.Stop()
				for i := 0; ; i++ {
					select {
					case <-stop:
						return
					case <-tick.C:
						if _, err := io.WriteString(conn, drip(i)); err != nil {
							return
						}
					}
				}
			}()
			// A client that never gives up: only the server can end this.
			conn.SetReadDeadline(time.Now().Add(60 * time.Second))
			status, err := bufio.NewReader(conn).ReadString('\n')
			if err == nil {
				_, err = io.Copy(io.Discard, conn)
			}
			close(stop)
			results <- closed{kind: kind, after: time.Since(start), status: strings.TrimSpace(status), err: err}
		})
	}
	for range each {
		slow("headers", "POST /subscribe HTTP/1.1\r\nHost: x\r\n", func(i int) string { return fmt.Sprintf("X-Drip-%d: 1\r\n", i) })
		slow("body", "POST /subscribe HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{\"email\":\"", func(int) string { return "a" })
	}
	wg.Wait()
	close(results)
	longest := map[string]time.Duration{}
	for r := range results {
		if r.err != nil && !isConnError(r.err) {
			t.Errorf("slow %s: not closed by the server: %v after %s", r.kind, r.err, r.after)
		}
		if strings.Contains(r.status, " 5") {
			t.Errorf("slow %s: answered %q", r.kind, r.status)
		}
		longest[r.kind] = max(longest[r.kind], r.after)
	}
	var now int
	waitFor(t, 10*time.Second, "goroutines back to the baseline", func() bool {
		now = runtime.NumGoroutine()
		return now <= baseline
	})
	t.Logf("%d slow-header and %d slow-body connections; closed by the server after at most %s and %s; goroutines %d before, %d after",
		each, each, longest["headers"].Round(time.Millisecond), longest["body"].Round(time.Millisecond), baseline, now)
}
