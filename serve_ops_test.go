package main

import (
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/signupguard/signupguard/internal/testenv"
)

// TestServeOps runs serve end to end and checks what an operator sees: the
// metric families after a few requests, the OpenAPI document, the form
// script, and /admin/ answering only with the token.
func TestServeOps(t *testing.T) {
	dns := testenv.NewDNS(t, "example.com. 300 IN MX 10 mx.example.com.", "mx.example.com. 300 IN A 93.184.215.14")
	const token = "0123456789abcdef-ops"
	base, stop := startServe(t, map[string]string{
		"DATABASE_URL":             testenv.PostgresURL(t),
		"SIGNUPGUARD_DNS_SERVERS":  dns.Addr(),
		"SIGNUPGUARD_ADMIN_TOKEN":  token,
		"SIGNUPGUARD_CORS_ORIGINS": "https://www.example.org",
	})
	get := func(path string, header ...string) (int, string) {
		t.Helper()
		req, _ := http.NewRequest("GET", base+path, nil)
		for i := 0; i+1 < len(header); i += 2 {
			req.Header.Set(header[i], header[i+1])
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	for _, body := range []string{`{"email":"ann@example.com"}`, `{"email":"ann@localhost"}`} {
		resp, err := http.Post(base+"/subscribe", "application/json", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}

	_, metrics := get("/metrics")
	for _, family := range []string{
		"signupguard_http_requests_total",
		"signupguard_http_request_duration_seconds",
		"signupguard_sql_pool_acquired_conns",
		"signupguard_sql_pool_acquires_total",
		"signupguard_mx_lookups_total",
		"go_goroutines",
	} {
		if !strings.Contains(metrics, "\n"+family) {
			t.Errorf("/metrics lacks %s", family)
		}
	}
	if code, body := get("/openapi.yaml"); code != 200 || !strings.HasPrefix(body, "openapi: 3.1") {
		t.Errorf("GET /openapi.yaml: %d %.40q", code, body)
	}
	if code, body := get("/signupguard.js"); code != 200 || !strings.Contains(body, "data-signupguard") {
		t.Errorf("GET /signupguard.js: %d", code)
	}
	if code, _ := get("/admin/bans"); code != http.StatusUnauthorized {
		t.Errorf("GET /admin/bans without the token: %d, want 401", code)
	}
	if err := stop(); err != nil {
		t.Errorf("serve: %v", err)
	}
}
