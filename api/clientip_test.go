package api

import (
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"
)

func TestClientIP(t *testing.T) {
	trusted := []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("2001:db8:1::/48")}
	tests := []struct {
		name    string
		peer    string
		xff     []string
		trusted []netip.Prefix
		want    string // "" is the zero Addr
	}{
		{name: "no proxies trusted", peer: "198.51.100.1:1234", xff: []string{"203.0.113.9"}, want: "198.51.100.1"},
		{name: "untrusted peer forges", peer: "198.51.100.1:1234", xff: []string{"203.0.113.9"}, trusted: trusted, want: "198.51.100.1"},
		{name: "trusted peer", peer: "10.0.0.2:1234", xff: []string{"203.0.113.9"}, trusted: trusted, want: "203.0.113.9"},
		{name: "trusted peer, no header", peer: "10.0.0.2:1234", trusted: trusted, want: "10.0.0.2"},
		{name: "leftmost forged, rightmost believed", peer: "10.0.0.2:1234", xff: []string{"1.1.1.1, 203.0.113.9"}, trusted: trusted, want: "203.0.113.9"},
		{name: "chain of trusted proxies", peer: "10.0.0.2:1234", xff: []string{"1.1.1.1, 203.0.113.9, 10.9.9.9 ,10.0.0.3"}, trusted: trusted, want: "203.0.113.9"},
		{name: "several headers", peer: "10.0.0.2:1234", xff: []string{"1.1.1.1", "203.0.113.9, 10.0.0.3"}, trusted: trusted, want: "203.0.113.9"},
		{name: "several headers, walk crosses", peer: "10.0.0.2:1234", xff: []string{"203.0.113.9", "10.0.0.3"}, trusted: trusted, want: "203.0.113.9"},
		{name: "all trusted", peer: "10.0.0.2:1234", xff: []string{"10.0.0.5, 10.0.0.3"}, trusted: trusted, want: "10.0.0.5"},
		{name: "garbage stops at last trusted hop", peer: "10.0.0.2:1234", xff: []string{"203.0.113.9, bogus, 10.0.0.3"}, trusted: trusted, want: "10.0.0.3"},
		{name: "garbage right away", peer: "10.0.0.2:1234", xff: []string{"<script>"}, trusted: trusted, want: "10.0.0.2"},
		{name: "empty entry", peer: "10.0.0.2:1234", xff: []string{"203.0.113.9,"}, trusted: trusted, want: "10.0.0.2"},
		{name: "port and brackets", peer: "10.0.0.2:1234", xff: []string{"[2001:db8::7]:443"}, trusted: trusted, want: "2001:db8::7"},
		{name: "ipv4 with port", peer: "10.0.0.2:1234", xff: []string{"203.0.113.9:5555"}, trusted: trusted, want: "203.0.113.9"},
		{name: "brackets", peer: "10.0.0.2:1234", xff: []string{"[2001:db8::7]"}, trusted: trusted, want: "2001:db8::7"},
		{name: "mapped hop", peer: "10.0.0.2:1234", xff: []string{"::ffff:203.0.113.9"}, trusted: trusted, want: "203.0.113.9"},
		{name: "mapped trusted peer", peer: "[::ffff:10.0.0.2]:1234", xff: []string{"203.0.113.9"}, trusted: trusted, want: "203.0.113.9"},
		{name: "zoned hop", peer: "10.0.0.2:1234", xff: []string{"fe80::1%eth0"}, trusted: trusted, want: "fe80::1"},
		{name: "ipv6 trusted peer", peer: "[2001:db8:1::5]:1234", xff: []string{"203.0.113.9"}, trusted: trusted, want: "203.0.113.9"},
		{name: "peer not an address", peer: "pipe", xff: []string{"203.0.113.9"}, trusted: trusted, want: ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest("POST", "/subscribe", nil)
			r.RemoteAddr = tt.peer
			for _, v := range tt.xff {
				r.Header.Add("X-Forwarded-For", v)
			}
			r.Header.Set("X-Real-IP", "6.6.6.6")
			got := clientIP(r, tt.trusted)
			if (tt.want == "" && got.IsValid()) || (tt.want != "" && got != netip.MustParseAddr(tt.want)) {
				t.Errorf("clientIP = %v, want %q", got, tt.want)
			}
		})
	}
}

// FuzzClientIP checks that no header makes clientIP panic, that an
// untrusted peer is always the answer, and that a trusted peer's answer is
// the peer or an address the header holds.
func FuzzClientIP(f *testing.F) {
	f.Add("10.0.0.2:1234", "203.0.113.9, 10.0.0.3")
	f.Add("198.51.100.1:1", "1.1.1.1")
	f.Add("10.0.0.2:1", "[::1]:80, bogus,,")
	trusted := []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}
	f.Fuzz(func(t *testing.T, peer, xff string) {
		r := httptest.NewRequest("POST", "/subscribe", nil)
		r.RemoteAddr = peer
		r.Header["X-Forwarded-For"] = []string{xff}
		got := clientIP(r, trusted)
		p := peerIP(r)
		if !isTrusted(p, trusted) {
			if got != p {
				t.Fatalf("untrusted peer %q: got %v", peer, got)
			}
			return
		}
		if got == p {
			return
		}
		for _, hop := range strings.Split(xff, ",") {
			if a, ok := parseHop(hop); ok && a == got {
				return
			}
		}
		t.Fatalf("peer %q, header %q: %v is neither the peer nor in the header", peer, xff, got)
	})
}
