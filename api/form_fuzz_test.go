package api

import (
	"net/url"
	"testing"
)

// FuzzAllowedRedirect checks that no redirect target leaves the allowed
// origins, whatever the form says.
func FuzzAllowedRedirect(f *testing.F) {
	allowed := newOrigins([]string{"https://www.example.org", "http://127.0.0.1:8080"})
	f.Fuzz(func(t *testing.T, s string) {
		u, ok := allowedRedirect(allowed, s)
		if !ok {
			return
		}
		// Re-parse what would go into Location, as a browser would.
		back, err := url.Parse(u.String())
		if err != nil {
			t.Fatalf("allowed %q, but its Location %q does not parse: %v", s, u, err)
		}
		if !allowed.allows(back.Scheme+"://"+back.Host) || back.User != nil {
			t.Fatalf("allowed %q, whose Location %q leaves the allowed origins", s, u)
		}
	})
}
