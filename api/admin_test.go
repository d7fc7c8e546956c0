package api_test

import (
	"compress/gzip"
	"context"
	"errors"
	"io"
	"net/http"
	"net/netip"
	"runtime/pprof"
	"strings"
	"testing"
	"time"

	"github.com/signupguard/signupguard/api"
	"github.com/signupguard/signupguard/service"
)

const token = "s3cret-admin-token-0123"

// adminParts returns stand-ins that answer from fixed data and record what
// they were asked to do.
func adminParts(reloads *int, lifted *[]string) api.Admin {
	refreshed := time.Date(2026, 12, 4, 6, 0, 0, 0, time.UTC)
	return api.Admin{
		Sources: &SourceLister{SourcesFn: func(ctx context.Context) ([]api.Source, error) {
			return []api.Source{
				{Name: "spamhaus_drop", Location: "https://www.spamhaus.org/drop/drop_v4.json", Entries: 1462, FetchedAt: refreshed, LastRefresh: refreshed},
				{Name: "firehol_level1", Entries: 4512, FetchedAt: refreshed.Add(-time.Hour), LastRefresh: refreshed.Add(-time.Hour), LastError: "download: 503 Service Unavailable"},
				{Name: "new_list", Location: "/etc/signupguard/new.txt"},
			}, nil
		}},
		IPs: &IPMatcher{MatchesFn: func(ip netip.Addr) ([]api.Match, bool) {
			allowed := ip == netip.MustParseAddr("5.6.7.99")
			if netip.MustParsePrefix("5.6.7.0/24").Contains(ip) {
				return []api.Match{
					{Source: "spamhaus_drop", Prefix: netip.MustParsePrefix("5.6.7.0/24")},
					{Source: "firehol_level1", Prefix: netip.MustParsePrefix("5.6.0.0/16")},
				}, allowed
			}
			return nil, allowed
		}},
		Reload: &Reloader{ReloadFn: func(ctx context.Context) error { *reloads++; return nil }},
		Bans: &BanKeeper{
			BansFn: func(ctx context.Context) ([]api.Ban, error) {
				return []api.Ban{{Key: "2001:db8:1:2::/64", Until: refreshed.Add(time.Hour), Level: 2}}, nil
			},
			LiftFn: func(ctx context.Context, key string) error {
				if key == "not-a-key" {
					return service.Errorf(service.CodeInvalidRequest, "%q is neither an address nor a client key.", key)
				}
				*lifted = append(*lifted, key)
				return nil
			},
		},
	}
}

var adminRoutes = []struct{ method, path string }{
	{"GET", "/admin/no-such-route"},
	{"GET", "/admin"},
	{"GET", "/admin/blocklists"},
	{"POST", "/admin/blocklists/reload"},
	{"GET", "/admin/ip/192.0.2.1"},
	{"GET", "/admin/bans"},
	{"DELETE", "/admin/bans/192.0.2.1"},
	{"GET", "/admin/debug/pprof/heap"},
	{"GET", "/admin/debug/pprof/profile?seconds=1"},
}

func TestAdmin(t *testing.T) {
	t.Run("OffWithoutToken", func(t *testing.T) {
		var reloads int
		var lifted []string
		s := newLiveServer(t, api.Config{}, parts{admin: adminParts(&reloads, &lifted)})
		for _, r := range adminRoutes {
			resp, body := s.do(t, r.method, r.path, "", "", "Authorization", "Bearer "+token)
			if resp.StatusCode != http.StatusNotFound {
				t.Errorf("%s %s without a configured token: %d %s, want 404", r.method, r.path, resp.StatusCode, body)
			}
		}
		if reloads != 0 || len(lifted) != 0 {
			t.Errorf("reloads %d, lifted %q: want nothing done", reloads, lifted)
		}
	})

	var reloads int
	var lifted []string
	s := newLiveServer(t, api.Config{AdminToken: token}, parts{admin: adminParts(&reloads, &lifted)})

	t.Run("ErrUnauthorized", func(t *testing.T) {
		for _, auth := range []string{"", "Bearer", "Bearer ", "Bearer wrong", "Bearer " + token + "x", "Bearer " + token[:len(token)-1], "Basic " + token, token} {
			for _, r := range adminRoutes {
				resp, body := s.do(t, r.method, r.path, "", "", "Authorization", auth)
				if resp.StatusCode != http.StatusUnauthorized || resp.Header.Get("WWW-Authenticate") == "" {
					t.Errorf("%s %s with Authorization %q: %d %s, want 401 with WWW-Authenticate", r.method, r.path, auth, resp.StatusCode, body)
				}
			}
		}
		if reloads != 0 || len(lifted) != 0 {
			t.Errorf("reloads %d, lifted %q: want nothing done without the token", reloads, lifted)
		}
	})

	auth := []string{"Authorization", "Bearer " + token}
	t.Run("Blocklists", func(t *testing.T) {
		resp, body := s.do(t, "GET", "/admin/blocklists", "", "", auth...)
		want := `{"sources":[{"name":"spamhaus_drop","location":"https://www.spamhaus.org/drop/drop_v4.json","entries":1462,"fetched_at":"2026-12-04T06:00:00Z","last_refresh":"2026-12-04T06:00:00Z"},` +
			`{"name":"firehol_level1","entries":4512,"fetched_at":"2026-12-04T05:00:00Z","last_refresh":"2026-12-04T05:00:00Z","last_error":"download: 503 Service Unavailable"},` +
			`{"name":"new_list","location":"/etc/signupguard/new.txt","entries":0}]}`
		if resp.StatusCode != http.StatusOK || body != want {
			t.Errorf("got %d %s\nwant 200 %s", resp.StatusCode, body, want)
		}
	})
	t.Run("IP", func(t *testing.T) {
		tests := []struct {
			ip         string
			wantStatus int
			want       string
		}{
			{"5.6.7.8", 200, `{"ip":"5.6.7.8","listed":true,"allowlisted":false,"blocked":true,"matches":[{"source":"spamhaus_drop","prefix":"5.6.7.0/24"},{"source":"firehol_level1","prefix":"5.6.0.0/16"}]}`},
			{"::ffff:5.6.7.8", 200, `{"ip":"5.6.7.8","listed":true,"allowlisted":false,"blocked":true,"matches":[{"source":"spamhaus_drop","prefix":"5.6.7.0/24"},{"source":"firehol_level1","prefix":"5.6.0.0/16"}]}`},
			{"5.6.7.99", 200, `{"ip":"5.6.7.99","listed":true,"allowlisted":true,"blocked":false,"matches":[{"source":"spamhaus_drop","prefix":"5.6.7.0/24"},{"source":"firehol_level1","prefix":"5.6.0.0/16"}]}`},
			{"2001:db8::1", 200, `{"ip":"2001:db8::1","listed":false,"allowlisted":false,"blocked":false,"matches":[]}`},
			{"not-an-ip", 400, ""},
			{"5.6.7", 400, ""},
			{"fe80::1%25eth0", 400, ""},
		}
		for _, tt := range tests {
			resp, body := s.do(t, "GET", "/admin/ip/"+tt.ip, "", "", auth...)
			if resp.StatusCode != tt.wantStatus || (tt.want != "" && body != tt.want) {
				t.Errorf("%s: got %d %s, want %d %s", tt.ip, resp.StatusCode, body, tt.wantStatus, tt.want)
			}
			if tt.wantStatus == 400 && errorCode(t, []byte(body)) != "invalid_request" {
				t.Errorf("%s: body %s, want invalid_request", tt.ip, body)
			}
		}
	})
	t.Run("Reload", func(t *testing.T) {
		resp, body := s.do(t, "POST", "/admin/blocklists/reload", "", "", auth...)
		if resp.StatusCode != http.StatusOK || body != `{"status":"reloaded"}` || reloads != 1 {
			t.Errorf("got %d %s after %d reloads, want 200 reloaded after 1", resp.StatusCode, body, reloads)
		}
	})
	t.Run("Bans", func(t *testing.T) {
		resp, body := s.do(t, "GET", "/admin/bans", "", "", auth...)
		want := `{"bans":[{"key":"2001:db8:1:2::/64","until":"2026-12-04T07:00:00Z","level":2}]}`
		if resp.StatusCode != http.StatusOK || body != want {
			t.Errorf("got %d %s, want 200 %s", resp.StatusCode, body, want)
		}
	})
	t.Run("Lift", func(t *testing.T) {
		lifted = nil
		for _, path := range []string{"/admin/bans/192.0.2.1", "/admin/bans/2001:db8:1:2::/64", "/admin/bans/2001:db8:1:2::%2F64"} {
			resp, body := s.do(t, "DELETE", path, "", "", auth...)
			if resp.StatusCode != http.StatusNoContent {
				t.Errorf("DELETE %s: %d %s, want 204", path, resp.StatusCode, body)
			}
		}
		want := []string{"192.0.2.1", "2001:db8:1:2::/64", "2001:db8:1:2::/64"}
		if len(lifted) != len(want) || lifted[0] != want[0] || lifted[1] != want[1] || lifted[2] != want[2] {
			t.Errorf("lifted %q, want %q", lifted, want)
		}
		for _, path := range []string{"/admin/bans/", "/admin/bans/not-a-key"} {
			resp, body := s.do(t, "DELETE", path, "", "", auth...)
			if resp.StatusCode != http.StatusBadRequest || errorCode(t, []byte(body)) != "invalid_request" {
				t.Errorf("DELETE %s: %d %s, want 400 invalid_request", path, resp.StatusCode, body)
			}
		}
	})
	t.Run("Profile", func(t *testing.T) {
		// The server runs in this process: while a CPU profile is taken
		// here, the route cannot start a second one.
		if err := pprof.StartCPUProfile(io.Discard); err != nil {
			t.Skipf("a CPU profile is being taken already (go test -cpuprofile?): %v", err)
		}
		resp, body := s.do(t, "GET", "/admin/debug/pprof/profile?seconds=1", "", "", auth...)
		pprof.StopCPUProfile()
		if resp.StatusCode != http.StatusServiceUnavailable || errorCode(t, []byte(body)) != "unavailable" || resp.Header.Get("Retry-After") == "" {
			t.Errorf("a second CPU profile: %d %s, want 503 unavailable with Retry-After", resp.StatusCode, body)
		}
		for _, path := range []string{"/admin/debug/pprof/heap", "/admin/debug/pprof/goroutine", "/admin/debug/pprof/profile?seconds=1"} {
			resp, body := s.do(t, "GET", path, "", "", auth...)
			if resp.StatusCode != http.StatusOK {
				t.Errorf("GET %s: %d %s, want 200", path, resp.StatusCode, body)
				continue
			}
			// pprof's format is gzipped protobuf.
			zr, err := gzip.NewReader(strings.NewReader(body))
			if err != nil {
				t.Errorf("GET %s: not gzip: %v", path, err)
				continue
			}
			if b, err := io.ReadAll(zr); err != nil || len(b) == 0 {
				t.Errorf("GET %s: %d bytes of profile, %v", path, len(b), err)
			}
		}
		for _, tt := range []struct {
			path   string
			status int
			code   string
		}{
			{"/admin/debug/pprof/nonesuch", 404, "not_found"},
			{"/admin/debug/pprof/profile?seconds=0", 400, "invalid_request"},
			{"/admin/debug/pprof/profile?seconds=11", 400, "invalid_request"},
			{"/admin/debug/pprof/profile?seconds=1.5", 400, "invalid_request"},
		} {
			resp, body := s.do(t, "GET", tt.path, "", "", auth...)
			if resp.StatusCode != tt.status || errorCode(t, []byte(body)) != tt.code {
				t.Errorf("GET %s: %d %s, want %d %s", tt.path, resp.StatusCode, body, tt.status, tt.code)
			}
		}
	})
}

func TestAdminErrUnavailable(t *testing.T) {
	down := errors.New("dial tcp 127.0.0.1:5432: connection refused")
	s := newLiveServer(t, api.Config{AdminToken: token}, parts{admin: api.Admin{
		Sources: &SourceLister{SourcesFn: func(ctx context.Context) ([]api.Source, error) { return nil, down }},
		Reload:  &Reloader{ReloadFn: func(ctx context.Context) error { return down }},
		Bans: &BanKeeper{
			BansFn: func(ctx context.Context) ([]api.Ban, error) { return nil, down },
			LiftFn: func(ctx context.Context, key string) error {
				return &service.Error{Code: service.CodeUnavailable, Message: "Redis is unavailable.", Err: down}
			},
		},
	}})
	for _, r := range []struct{ method, path string }{
		{"GET", "/admin/blocklists"}, {"POST", "/admin/blocklists/reload"}, {"GET", "/admin/bans"}, {"DELETE", "/admin/bans/k"},
	} {
		resp, body := s.do(t, r.method, r.path, "", "", "Authorization", "Bearer "+token)
		if resp.StatusCode != http.StatusServiceUnavailable || errorCode(t, []byte(body)) != "unavailable" || resp.Header.Get("Retry-After") == "" {
			t.Errorf("%s %s: %d %s, want 503 unavailable with Retry-After", r.method, r.path, resp.StatusCode, body)
		}
	}
	// IP matching needs no store, so with no IPMatcher wired the route is absent.
	resp, _ := s.do(t, "GET", "/admin/ip/192.0.2.1", "", "", "Authorization", "Bearer "+token)
	if resp.StatusCode != http.StatusNotFound {
		t.Errorf("GET /admin/ip without an IPMatcher: %d, want 404", resp.StatusCode)
	}
}
