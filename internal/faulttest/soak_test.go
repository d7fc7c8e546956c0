package faulttest

import (
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/signupguard/signupguard/internal/testenv"
	"github.com/signupguard/signupguard/service"
	"github.com/signupguard/signupguard/service/limit"
)

// TestSoak sends a minute of mixed traffic (new, duplicate and invalid
// addresses, honeypot, blocked IP) from ever new IPv6 clients, a new /64
// and /48 each time, which is what fills the limiter's tables, and checks
// that the server's heap and goroutines stay flat after a warm-up: every
// per-client structure must be bounded. Once the limiter's table is full,
// new clients share its overflow bucket and most get 429, which is part of
// what is soaked. It runs alone (not in parallel) so the figures are the
// server's; -short cuts it to 20 s.
func TestSoak(t *testing.T) {
	length, warmUp := 60*time.Second, 15*time.Second
	if testing.Short() {
		length, warmUp = 20*time.Second, 5*time.Second
	}
	const (
		heapMargin = 1.25    // the last sample may exceed the first after warm-up by this factor
		heapSlack  = 2 << 20 // plus this, for the allocator's granularity
		goMargin   = 10      // goroutines
		workers    = 4
		pace       = 2 * time.Millisecond // per worker: at most 2000 requests/s in all
	)
	dbURL := testenv.PostgresURL(t)
	// Loopback has one IPv6 address; the peer address is set from a
	// header instead, as if each request came from its own network.
	peer := func(h http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			r.RemoteAddr = net.JoinHostPort(r.Header.Get("X-Test-Peer"), "4711")
			h.ServeHTTP(w, r)
		})
	}
	// The real limiter, with its tables kept small so that the soak fills
	// them many times over: what must stay flat is bounded by MaxKeys.
	cfg := limit.DefaultConfig()
	cfg.Global = limit.Rate{}
	cfg.MaxKeys = 1000
	lim, err := limit.NewMemory(cfg, slog.New(slog.NewTextHandler(io.Discard, nil)), prometheus.NewRegistry())
	if err != nil {
		t.Fatal(err)
	}
	srv := startInProcess(t, dbURL, lim, nil, service.Config{}, peer)
	c := client("127.0.0.1", 10*time.Second, true)
	send := func(n int) answer {
		time.Sleep(pace) // pacing the load, not synchronisation
		// A new /64 and a new /48 for every request.
		from := netip.AddrFrom16([16]byte{0x2a, 0x00, byte(n >> 24), byte(n >> 16), byte(n >> 8), byte(n), 15: 1}).String()
		var body string
		switch n % 5 {
		case 0:
			body = fmt.Sprintf(`{"email":"soak%d@example.org"}`, n)
		case 1:
			body = fmt.Sprintf(`{"email":"dup%d@example.org"}`, n%100)
		case 2:
			body = `{"email":"not an address"}`
		case 3:
			body = `{"email":"bot@example.org","website":"http://spam.example"}`
		case 4:
			from = "127.0.0.200" // blocked
			body = `{"email":"blocked@example.org"}`
		}
		req, _ := http.NewRequest(http.MethodPost, srv.URL+"/subscribe", strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("X-Test-Peer", from)
		a := answer{email: body, start: time.Now()}
		resp, err := c.Do(req)
		if err != nil {
			a.err = err
			return a
		}
		// Drained, so the connection is reused: a new one per request would
		// exhaust the ephemeral ports.
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		a.status = resp.StatusCode
		return a
	}
	type sample struct {
		at         time.Duration
		heap       uint64
		goroutines int
	}
	var samples []sample
	measure := func(at time.Duration) {
		runtime.GC()
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		samples = append(samples, sample{at, ms.HeapInuse, runtime.NumGoroutine()})
	}
	// The answers are counted, not kept: kept, they would be the heap
	// that grows.
	var mu sync.Mutex
	statuses := map[int]int{}
	var failed []answer
	var total int
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for n := w; ; n += workers {
				select {
				case <-stop:
					return
				default:
				}
				a := send(n)
				mu.Lock()
				total++
				statuses[a.status]++
				if (a.status == 0 || a.status >= 500) && len(failed) < 10 {
					failed = append(failed, a)
				}
				mu.Unlock()
			}
		})
	}
	start := time.Now()
	tick := time.NewTicker(5 * time.Second)
	for now := range tick.C {
		at := now.Sub(start)
		if at >= warmUp {
			measure(at.Round(time.Second))
		}
		if at >= length {
			break
		}
	}
	tick.Stop()
	close(stop)
	wg.Wait()
	for _, a := range failed {
		t.Errorf("%s: status %d, err %v", a.email, a.status, a.err)
	}
	for _, s := range samples {
		t.Logf("at %s: heap in use %.1f MiB, %d goroutines", s.at, float64(s.heap)/(1<<20), s.goroutines)
	}
	t.Logf("%s of mixed traffic: %d requests, statuses %v", length, total, statuses)
	if len(samples) < 2 {
		t.Fatalf("only %d samples", len(samples))
	}
	first, last := samples[0], samples[len(samples)-1]
	if float64(last.heap) > float64(first.heap)*heapMargin+heapSlack {
		t.Errorf("heap grew from %d to %d bytes after warm-up (margin ×%.2f + %d)", first.heap, last.heap, heapMargin, heapSlack)
	}
	if last.goroutines > first.goroutines+goMargin {
		t.Errorf("goroutines grew from %d to %d after warm-up (margin %d)", first.goroutines, last.goroutines, goMargin)
	}
}
