package main

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"os"
	"path/filepath"
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
	list := filepath.Join(t.TempDir(), "drop.txt")
	if err := os.WriteFile(list, []byte("198.51.100.0/24\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	base, _, stop := startServe(t, map[string]string{
		"SIGNUPGUARD_BLOCKLISTS":   "drop=" + list,
		"DATABASE_URL":             testenv.PostgresURL(t),
		"SIGNUPGUARD_DNS_SERVERS":  dns.Addr(),
		"SIGNUPGUARD_ADMIN_TOKEN":  token,
		"SIGNUPGUARD_CORS_ORIGINS": "https://www.example.org",
	})
	get := func(path string) (int, string) { return request(t, "GET", base+path, "") }
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
		"signupguard_mx_cache_misses_total",
		"signupguard_limit_strikes_total",
		"signupguard_limit_keys",
		"signupguard_limit_bans",
		"signupguard_blocklist_entries",
		"signupguard_blocklist_reloads_total",
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

// TestServeAdmin checks /admin/ wired to the real blocklists and limiter,
// and check against the same settings.
func TestServeAdmin(t *testing.T) {
	const token = "0123456789abcdef-admin"
	list := filepath.Join(t.TempDir(), "drop.txt")
	if err := os.WriteFile(list, []byte("198.51.100.0/24 ; SBL1\n203.0.113.7\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	dns := testenv.NewDNS(t)
	vars := map[string]string{
		"DATABASE_URL":            testenv.PostgresURL(t),
		"SIGNUPGUARD_DNS_SERVERS": dns.Addr(),
		"SIGNUPGUARD_ADMIN_TOKEN": token,
		"SIGNUPGUARD_BLOCKLISTS":  "drop=" + list + ",remote=http://127.0.0.1:1/never.txt",
		"SIGNUPGUARD_BAN_STRIKES": "1",
	}
	base, _, stop := startServe(t, vars)
	call := func(method, path string) (int, string) { return request(t, method, base+path, token) }
	want := func(method, path string, wantCode int, wantBody string) {
		t.Helper()
		if code, body := call(method, path); code != wantCode || !strings.Contains(body, wantBody) {
			t.Errorf("%s %s: %d %s\nwant %d with %s", method, path, code, body, wantCode, wantBody)
		}
	}
	// A file source never refreshed is read directly; refresh stores URL sources.
	want("GET", "/admin/blocklists", 200, `{"sources":[{"name":"drop","location":"`+list+`","entries":2,"fetched_at":"`)
	want("GET", "/admin/blocklists", 200, `{"name":"remote","location":"http://127.0.0.1:1/never.txt","entries":0,"last_error":"never fetched: run signupguard refresh"}]}`)
	want("GET", "/admin/ip/198.51.100.9", 200, `"blocked":true,"matches":[{"source":"drop","prefix":"198.51.100.0/24"}]`)
	want("GET", "/admin/ip/192.0.2.1", 200, `"listed":false`)
	want("POST", "/admin/blocklists/reload", 200, `{"status":"reloaded"}`)

	// More refusals than SIGNUPGUARD_BAN_STRIKES earn this client (127.0.0.1) a ban.
	for range 3 {
		resp, err := http.Post(base+"/subscribe", "application/json", strings.NewReader(`{"email":"x@localhost"}`))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}
	want("GET", "/admin/bans", 200, `"key":"127.0.0.1/32"`)
	want("DELETE", "/admin/bans/127.0.0.1", 204, "")
	want("GET", "/admin/bans", 200, `{"bans":[]}`)
	if err := stop(); err != nil {
		t.Errorf("serve: %v", err)
	}

	var out bytes.Buffer
	err := run(context.Background(), []string{"signupguard", "check", "198.51.100.9"}, env(vars), &out, io.Discard)
	if exitCode(err) != 1 || !strings.Contains(out.String(), "listed by drop as 198.51.100.0/24") {
		t.Errorf("check 198.51.100.9: exit %d (%v)\n%s\nwant 1 naming drop and 198.51.100.0/24", exitCode(err), err, out.String())
	}
}
