package blocklist

import (
	"math/rand/v2"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"testing"
)

func testSet(t *testing.T, opt Options) *Set {
	t.Helper()
	s, _ := New([]Source{
		{Name: "a", Prefixes: pfx("192.0.2.0/24", "192.0.2.8/29", "198.51.100.7/32", "10.0.0.0/8", "10.1.0.0/16", "2001:db8::/32")},
		{Name: "b", Prefixes: pfx("192.0.2.9/32", "198.51.100.7/32", "10.1.2.0/23", "2001:db8:1::/48", "::ffff:203.0.113.0/120", "2001:db8:ff::5/128")},
		{Name: "c", Prefixes: []netip.Prefix{{}, netip.MustParsePrefix("203.0.113.77/24")}}, // invalid and unmasked
	}, opt)
	return s
}

func TestSetLookup(t *testing.T) {
	s := testSet(t, Options{Allow: pfx("192.0.2.128/25", "2001:db8:2::/48")})
	tests := []struct {
		ip     string
		source string // "" means not found
		prefix string
	}{
		{"192.0.2.1", "a", "192.0.2.0/24"},
		{"192.0.2.9", "b", "192.0.2.9/32"},       // the narrowest entry wins
		{"192.0.2.10", "a", "192.0.2.8/29"},      // inside /29, beside b's /32
		{"192.0.2.200", "", ""},                  // allowlisted
		{"198.51.100.7", "a", "198.51.100.7/32"}, // listed by a and b: a is first
		{"198.51.100.8", "", ""},
		{"::ffff:198.51.100.7", "a", "198.51.100.7/32"},
		{"10.200.0.1", "a", "10.0.0.0/8"},
		{"10.1.3.255", "b", "10.1.2.0/23"},
		{"10.1.4.0", "a", "10.1.0.0/16"},
		{"203.0.113.200", "b", "203.0.113.0/24"}, // b's mapped prefix, unmapped
		{"2001:db8::1", "a", "2001:db8::/32"},
		{"2001:db8:1::1", "b", "2001:db8:1::/48"},
		{"2001:db8:2::1", "", ""}, // allowlisted
		{"2001:db8:ff::5", "b", "2001:db8:ff::5/128"},
		{"2001:db9::1", "", ""},
		{"fe80::1%eth0", "", ""},
		{"127.0.0.1", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.ip, func(t *testing.T) {
			source, prefix, found := s.Lookup(netip.MustParseAddr(tt.ip))
			if found != (tt.source != "") || source != tt.source || (found && prefix.String() != tt.prefix) {
				t.Errorf("Lookup = %q %s %v; want %q %s", source, prefix, found, tt.source, tt.prefix)
			}
		})
	}
	if _, _, found := s.Lookup(netip.Addr{}); found {
		t.Error("the zero Addr is listed")
	}
}

func TestSetMatches(t *testing.T) {
	s := testSet(t, Options{Allow: pfx("192.0.2.0/24")})
	got := s.Matches(netip.MustParseAddr("192.0.2.9"))
	want := []Match{{"b", netip.MustParsePrefix("192.0.2.9/32")}, {"a", netip.MustParsePrefix("192.0.2.8/29")}, {"a", netip.MustParsePrefix("192.0.2.0/24")}}
	if !slices.Equal(got, want) {
		t.Errorf("Matches = %v, want %v", got, want)
	}
	if !s.Allowed(netip.MustParseAddr("::ffff:192.0.2.9")) {
		t.Error("Allowed(::ffff:192.0.2.9) = false")
	}
	got = s.Matches(netip.MustParseAddr("10.1.2.3"))
	want = []Match{{"b", netip.MustParsePrefix("10.1.2.0/23")}, {"a", netip.MustParsePrefix("10.1.0.0/16")}, {"a", netip.MustParsePrefix("10.0.0.0/8")}}
	if !slices.Equal(got, want) {
		t.Errorf("Matches = %v, want %v", got, want)
	}
	if got := s.Matches(netip.MustParseAddr("198.51.100.7")); len(got) != 2 {
		t.Errorf("Matches(198.51.100.7) = %v, want a and b", got)
	}
	if got := s.Matches(netip.MustParseAddr("192.0.3.1")); got != nil {
		t.Errorf("Matches(unlisted) = %v", got)
	}
}

func TestSetCounts(t *testing.T) {
	s, _ := New([]Source{
		{Name: "a", Prefixes: pfx("192.0.2.1/32", "192.0.2.1/32", "10.0.0.0/8", "10.0.0.0/8", "2001:db8::/32")},
		{Name: "b", Prefixes: pfx("192.0.2.1/32")},
		{Name: "empty"},
	}, Options{})
	want := []SourceCount{{"a", 3}, {"b", 1}, {"empty", 0}}
	if got := s.Counts(); !slices.Equal(got, want) {
		t.Errorf("Counts = %v, want %v", got, want)
	}
	if s.Len() != 3 {
		t.Errorf("Len = %d, want 3 distinct prefixes", s.Len())
	}
}

func TestSetWarnings(t *testing.T) {
	sources := []Source{
		{Name: "bogons", Prefixes: pfx("127.0.0.0/8", "10.0.0.0/8", "192.0.2.0/24")},
		{Name: "clean", Prefixes: pfx("198.51.100.0/24")},
		{Name: "v6", Prefixes: pfx("::/8")},
	}
	tests := []struct {
		name string
		opt  Options
		want []string
	}{
		{"loopback", Options{}, []string{"bogons 127.0.0.0/8 loopback", "v6 ::/8 loopback"}},
		{"trusted proxy", Options{TrustedProxies: pfx("10.0.0.5/32")}, []string{"bogons 10.0.0.0/8 trusted proxy", "bogons 127.0.0.0/8 loopback", "v6 ::/8 loopback"}},
		{"allowed", Options{TrustedProxies: pfx("10.0.0.5/32"), Allow: pfx("10.0.0.0/16", "127.0.0.0/8", "::1/128")}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, ws := New(sources, tt.opt)
			var got []string
			for _, w := range ws {
				got = append(got, w.Source+" "+w.Prefix.String()+" "+w.Covers)
				if !strings.Contains(w.String(), "SIGNUPGUARD_ALLOWLIST") {
					t.Errorf("warning %q does not say what to do", w)
				}
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("warnings = %q, want %q", got, tt.want)
			}
		})
	}
}

// TestSetAgreesWithBaseline checks the Set against the plain sorted-range
// baseline on every real list at once: the same verdict for random listed
// and random unlisted addresses, and a Matches entry that covers each hit.
func TestSetAgreesWithBaseline(t *testing.T) {
	sources := loadAllSources(t)
	set, warnings := New(sources, Options{})
	base := newRangeSet(sources)
	smp := newSamples(sources, base, 20000)
	rng := rand.New(rand.NewPCG(5, 6))
	var random []netip.Addr
	for range 20000 {
		random = append(random, netip.AddrFrom4(be4(rng.Uint32())))
	}
	for _, addrs := range [][]netip.Addr{smp.hit4, smp.miss4, smp.hit6, smp.miss6, random} {
		for _, a := range addrs {
			_, wantFound := base.Lookup(a)
			source, prefix, found := set.Lookup(a)
			if found != wantFound {
				t.Fatalf("Lookup(%s) found=%v, baseline %v", a, found, wantFound)
			}
			if !found {
				continue
			}
			if !prefix.Contains(a) {
				t.Fatalf("Lookup(%s) = %s, which does not contain it", a, prefix)
			}
			ms := set.Matches(a)
			if !slices.Contains(ms, Match{source, prefix}) || ms[0].Prefix != prefix {
				t.Fatalf("Matches(%s) = %v, Lookup %s %s", a, ms, source, prefix)
			}
		}
	}
	// firehol_level1 lists 127.0.0.0/8 among its bogons.
	if !slices.ContainsFunc(warnings, func(w Warning) bool {
		return w.Source == "firehol_level1.netset" && w.Prefix == netip.MustParsePrefix("127.0.0.0/8")
	}) {
		t.Errorf("no loopback warning for firehol_level1: %v", warnings)
	}
}

// TestLiveSwap swaps between two sets while two goroutines look up an
// address both list: under -race, no race, and never a miss.
func TestLiveSwap(t *testing.T) {
	var live Live
	if _, _, found := live.Lookup(netip.MustParseAddr("192.0.2.1")); found {
		t.Fatal("an empty Live lists an address")
	}
	if err := live.Ready(t.Context()); err != ErrNotLoaded {
		t.Fatalf("Ready before a swap = %v, want ErrNotLoaded", err)
	}
	a, _ := New([]Source{{Name: "a", Prefixes: pfx("192.0.2.0/24", "10.0.0.0/8")}}, Options{})
	b, _ := New([]Source{{Name: "b", Prefixes: pfx("192.0.2.1/32", "2001:db8::/32")}}, Options{})
	if old := live.Swap(a); old != nil {
		t.Fatalf("first Swap returned %p", old)
	}
	if err := live.Ready(t.Context()); err != nil {
		t.Fatalf("Ready after a swap = %v", err)
	}
	ip := netip.MustParseAddr("192.0.2.1")
	stop := make(chan struct{})
	misses := make(chan netip.Addr, 2)
	var wg sync.WaitGroup
	for range 2 {
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				if _, _, found := live.Lookup(ip); !found {
					misses <- ip
					return
				}
			}
		})
	}
	for i := range 20000 {
		next := a
		if i%2 == 0 {
			next = b
		}
		live.Swap(next)
	}
	close(stop)
	wg.Wait()
	select {
	case m := <-misses:
		t.Fatalf("%s was missed during a swap", m)
	default:
	}
	if live.Load() != a {
		t.Error("Load does not return the last set swapped in")
	}
}
