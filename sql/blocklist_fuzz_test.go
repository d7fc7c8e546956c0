package sql

import (
	"slices"
	"testing"
)

// FuzzDecodePrefixes: stored prefixes either decode, and then encode back
// to a text that decodes to the same prefixes, or fail cleanly.
func FuzzDecodePrefixes(f *testing.F) {
	f.Add("192.0.2.0/24\n2001:db8::/32\n")
	f.Add("192.0.2.1/32\n")
	f.Add("")
	f.Add("192.0.2.1\n")
	f.Fuzz(func(t *testing.T, s string) {
		ps, err := decodePrefixes(s)
		if err != nil {
			return
		}
		again, err := decodePrefixes(encodePrefixes(ps))
		if err != nil || !slices.Equal(ps, again) {
			t.Fatalf("round trip of %q: %v, %v vs %v", s, err, ps, again)
		}
	})
}
