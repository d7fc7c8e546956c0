package api_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/signupguard/signupguard/api"
)

const (
	site = "https://www.example.org"
	// browserAccept is what Chromium sends when a form navigates.
	browserAccept = "text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,*/*;q=0.8"
)

func TestCORS(t *testing.T) {
	s := newLiveServer(t, api.Config{CORSOrigins: []string{site}}, parts{})
	tests := []struct {
		name, method, origin string
		wantStatus           int
		wantAllow            string
	}{
		{"PreflightAllowed", "OPTIONS", site, 204, site},
		{"PreflightOtherOrigin", "OPTIONS", "https://evil.example.net", 204, ""},
		{"PreflightOriginCase", "OPTIONS", "HTTPS://WWW.EXAMPLE.ORG", 204, "HTTPS://WWW.EXAMPLE.ORG"},
		{"PostAllowed", "POST", site, 202, site},
		{"PostOtherOrigin", "POST", "https://evil.example.net", 202, ""},
		{"PostNoOrigin", "POST", "", 202, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := []string{"Access-Control-Request-Method", "POST", "Access-Control-Request-Headers", "content-type"}
			if tt.origin != "" {
				h = append(h, "Origin", tt.origin)
			}
			resp, body := s.do(t, tt.method, "/subscribe", "application/json", `{"email":"jane@example.com"}`, h...)
			if resp.StatusCode != tt.wantStatus {
				t.Fatalf("status %d %s, want %d", resp.StatusCode, body, tt.wantStatus)
			}
			if got := resp.Header.Get("Access-Control-Allow-Origin"); got != tt.wantAllow {
				t.Errorf("Access-Control-Allow-Origin = %q, want %q", got, tt.wantAllow)
			}
			if !strings.Contains(resp.Header.Get("Vary"), "Origin") {
				t.Errorf("Vary = %q, want Origin: caches must not mix origins", resp.Header.Get("Vary"))
			}
			if tt.method == "OPTIONS" && tt.wantAllow != "" {
				if resp.Header.Get("Access-Control-Allow-Methods") != "POST" || !strings.EqualFold(resp.Header.Get("Access-Control-Allow-Headers"), "Content-Type") {
					t.Errorf("preflight headers %v", resp.Header)
				}
			}
		})
	}
}

func TestBrowserForm(t *testing.T) {
	s := newLiveServer(t, api.Config{CORSOrigins: []string{site}}, parts{})
	form := func(email, redirect string) string {
		v := url.Values{"email": {email}}
		if redirect != "" {
			v.Set("redirect", redirect)
		}
		return v.Encode()
	}
	tests := []struct {
		name, body, accept string
		wantStatus         int
		wantLocation       string // "" for no redirect
		wantBody           string // in the page or the JSON
	}{
		{name: "RedirectAllowed", body: form("ann@example.com", site+"/thanks?from=footer#top"), accept: browserAccept,
			wantStatus: 303, wantLocation: site + "/thanks?from=footer&signupguard=accepted#top"},
		{name: "RedirectAllowedOnError", body: form("ann@localhost", site+"/thanks"), accept: browserAccept,
			wantStatus: 303, wantLocation: site + "/thanks?signupguard=invalid_email"},
		{name: "RedirectOtherOrigin", body: form("bob@example.com", "https://evil.example.net/x"), accept: browserAccept,
			wantStatus: 202, wantBody: "Thank you: bob@example.com is signed up."},
		{name: "RedirectLookalikeOrigin", body: form("cat@example.com", "https://www.example.org.evil.example.net/"), accept: browserAccept,
			wantStatus: 202, wantBody: "is signed up"},
		{name: "RedirectUserinfo", body: form("dan@example.com", "https://www.example.org@evil.example.net/"), accept: browserAccept,
			wantStatus: 202, wantBody: "is signed up"},
		{name: "RedirectSchemeRelative", body: form("eve@example.com", "//evil.example.net/"), accept: browserAccept,
			wantStatus: 202, wantBody: "is signed up"},
		{name: "RedirectJavaScript", body: form("fay@example.com", "javascript:alert(1)"), accept: browserAccept,
			wantStatus: 202, wantBody: "is signed up"},
		{name: "PageOnError", body: form("gil@localhost", ""), accept: browserAccept,
			wantStatus: 422, wantBody: "Please enter a valid e-mail address."},
		{name: "PageOnMalformed", body: "email=a&email=b", accept: browserAccept,
			wantStatus: 400, wantBody: "appears twice"},
		{name: "PageEscapes", body: form("o'hara@example.com", ""), accept: browserAccept,
			wantStatus: 202, wantBody: "o&#39;hara@example.com"},
		{name: "CurlGetsJSON", body: form("hal@example.com", site+"/thanks"), accept: "*/*",
			wantStatus: 202, wantBody: `{"status":"accepted","email":"hal@example.com"}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, body := s.do(t, "POST", "/subscribe", formType, tt.body, "Accept", tt.accept)
			if resp.StatusCode != tt.wantStatus {
				t.Fatalf("status %d %s, want %d", resp.StatusCode, body, tt.wantStatus)
			}
			if got := resp.Header.Get("Location"); got != tt.wantLocation {
				t.Errorf("Location = %q, want %q", got, tt.wantLocation)
			}
			if !strings.Contains(body, tt.wantBody) {
				t.Errorf("body %s\nwant it to contain %s", body, tt.wantBody)
			}
			if tt.wantLocation == "" && tt.accept == browserAccept && !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") {
				t.Errorf("Content-Type = %q, want an HTML page", resp.Header.Get("Content-Type"))
			}
		})
	}
	// Every accepted address above was stored once; refused ones were not.
	if n := s.rows(t); n != 8 {
		t.Errorf("%d rows stored, want 8", n)
	}
}

func TestScript(t *testing.T) {
	s := newLiveServer(t, api.Config{}, parts{})
	resp, body := s.do(t, "GET", "/signupguard.js", "", "")
	if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/javascript") ||
		!strings.Contains(body, "data-signupguard") {
		t.Errorf("GET /signupguard.js: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
}
