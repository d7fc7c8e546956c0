package main

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/signupguard/signupguard/internal/testenv"
)

// listenWatch is the stderr of a serve under test: it hands on the address
// from the "listening" log line.
type listenWatch struct {
	once sync.Once
	addr chan string
}

func (w *listenWatch) Write(p []byte) (int, error) {
	var rec struct {
		Msg  string `json:"msg"`
		Addr string `json:"addr"`
	}
	if json.Unmarshal(p, &rec) == nil && rec.Msg == "listening" {
		w.once.Do(func() { w.addr <- rec.Addr })
	}
	return len(p), nil
}

// TestServeSilentDNS is the "done when": with
// SIGNUPGUARD_DNS_SERVERS pointing at a server that never answers,
// /subscribe still answers, 503 with Retry-After, once the default MX
// timeout (3s) is spent. The time is logged, not asserted.
func TestServeSilentDNS(t *testing.T) {
	dns := testenv.NewDNS(t)
	dns.SetMode("", testenv.DNSSilent)
	env := map[string]string{
		"DATABASE_URL":            testenv.PostgresURL(t),
		"SIGNUPGUARD_LISTEN":      "127.0.0.1:0",
		"SIGNUPGUARD_DNS_SERVERS": dns.Addr(),
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	w := &listenWatch{addr: make(chan string, 1)}
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"signupguard", "serve"}, func(k string) string { return env[k] }, io.Discard, w)
	}()
	var addr string
	select {
	case addr = <-w.addr:
	case err := <-done:
		t.Fatalf("serve ended before listening: %v", err)
	}

	start := time.Now()
	resp, err := http.Post("http://"+addr+"/subscribe", "application/json", strings.NewReader(`{"email":"jane@mail.example.org"}`))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	t.Logf("answer after %v (SIGNUPGUARD_MX_TIMEOUT 3s)", time.Since(start))
	if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") == "" || !strings.Contains(string(body), `"unavailable"`) {
		t.Errorf("POST /subscribe: %d Retry-After %q %s; want 503 unavailable with Retry-After", resp.StatusCode, resp.Header.Get("Retry-After"), body)
	}
	if dns.TotalQueries() == 0 {
		t.Error("the configured DNS server was never asked")
	}

	cancel()
	if err := <-done; err != nil {
		t.Errorf("serve: %v", err)
	}
}
