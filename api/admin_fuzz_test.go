package api_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/signupguard/signupguard/api"
)

// FuzzAdminPath sends arbitrary paths under /admin/ with the token: no
// answer is a 5xx, and the IP route answers 200 or 400.
func FuzzAdminPath(f *testing.F) {
	s := newLiveServer(f, api.Config{AdminToken: token}, parts{admin: adminParts(new(int), new([]string))})
	h := s.Config.Handler
	f.Fuzz(func(t *testing.T, method, path string) {
		req, err := http.NewRequest(method, "http://signupguard/admin/"+path, nil)
		if err != nil {
			return // not a request a client could send
		}
		if req.URL.Path == "/admin/debug/pprof/profile" {
			return // samples the CPU for seconds, one at a time: 503 while another runs
		}
		req.Header.Set("Authorization", "Bearer "+token)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code >= 500 {
			t.Fatalf("%s /admin/%s: %d %s", method, path, rec.Code, rec.Body)
		}
		if method == "GET" && strings.HasPrefix(req.URL.Path, "/admin/ip/") && !strings.Contains(strings.TrimPrefix(req.URL.Path, "/admin/ip/"), "/") &&
			rec.Code != 200 && rec.Code != 400 && rec.Code != 404 {
			t.Fatalf("GET %s: %d, want 200 or 400", req.URL.Path, rec.Code)
		}
	})
}
