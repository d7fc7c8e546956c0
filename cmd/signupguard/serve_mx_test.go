package main

import (
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/signupguard/signupguard/internal/testenv"
)

// TestServeSilentDNS is the MX issue's "done when": with
// SIGNUPGUARD_DNS_SERVERS pointing at a server that never answers,
// /subscribe still answers, 503 with Retry-After, once the default MX
// timeout (3s) is spent. The time is logged, not asserted.
func TestServeSilentDNS(t *testing.T) {
	dns := testenv.NewDNS(t)
	dns.SetMode("", testenv.DNSSilent)
	base, _, stop := startServe(t, map[string]string{
		"DATABASE_URL":            testenv.PostgresURL(t),
		"SIGNUPGUARD_DNS_SERVERS": dns.Addr(),
	})
	start := time.Now()
	resp, err := http.Post(base+"/subscribe", "application/json", strings.NewReader(`{"email":"jane@mail.example.org"}`))
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
	if err := stop(); err != nil {
		t.Errorf("serve: %v", err)
	}
}
