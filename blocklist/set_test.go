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

// TestSetNestedIPv6 covers IPv6 prefixes nested four deep and listed by
// several sources: Lookup names the narrowest prefix and the first source
// listing it, Matches names every source of every covering prefix.
func TestSetNestedIPv6(t *testing.T) {
	s, _ := New([]Source{
		{Name: "a", Prefixes: pfx("2001:db8::/32", "2001:db8:1:2::/64", "2001:db8::/32", "ffff::/16")},
		{Name: "b", Prefixes: pfx("2001:db8:1::/48", "2001:db8:1:2::/64", "2001:db8::/32")},
		{Name: "c", Prefixes: pfx("2001:db8:1:2:3::/80", "2001:db8::/29", "2001:db8:1:3::/64", "::/128")},
		{Name: "d", Prefixes: pfx("2001:db8:1:2::/64", "::ffff:198.51.100.0/120", "2001:db8:1:2:3::1/128")},
	}, Options{Allow: pfx("2001:db8:1:3::/64")})

	lookups := []struct {
		ip     string
		source string // "" means not found
		prefix string
	}{
		{"2001:db8:1:2:3::1", "d", "2001:db8:1:2:3::1/128"},
		{"2001:db8:1:2:3::2", "c", "2001:db8:1:2:3::/80"},
		{"2001:db8:1:2:3:ffff:ffff:ffff", "c", "2001:db8:1:2:3::/80"}, // its last address
		{"2001:db8:1:2:4::", "a", "2001:db8:1:2::/64"},                // past the /80; a, b and d list the /64
		{"2001:db8:1:2::", "a", "2001:db8:1:2::/64"},                  // before the /80
		{"2001:db8:1:3::1", "", ""},                                   // allowlisted
		{"2001:db8:1:5::1", "b", "2001:db8:1::/48"},                   // past the /64s, inside the /48
		{"2001:db8:9::1", "a", "2001:db8::/32"},                       // past the /48; a and b list the /32
		{"2001:db9::1", "c", "2001:db8::/29"},
		{"2001:db7:ffff:ffff:ffff:ffff:ffff:ffff", "", ""}, // just before the /29
		{"2001:dc0::", "", ""},                             // just after it
		{"::", "c", "::/128"},
		{"::1", "", ""},
		{"ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", "a", "ffff::/16"},
		{"::ffff:198.51.100.9", "d", "198.51.100.0/24"},
		{"198.51.100.9", "d", "198.51.100.0/24"},
		{"2001:db8:1:2:3::1%eth0", "d", "2001:db8:1:2:3::1/128"},
	}
	for _, tt := range lookups {
		t.Run("Lookup "+tt.ip, func(t *testing.T) {
			source, prefix, found := s.Lookup(netip.MustParseAddr(tt.ip))
			if found != (tt.source != "") || source != tt.source || (found && prefix.String() != tt.prefix) {
				t.Errorf("Lookup = %q %s %v; want %q %s", source, prefix, found, tt.source, tt.prefix)
			}
		})
	}

	matches := []struct {
		ip   string
		want []string // "source prefix", narrowest first
	}{
		{"2001:db8:1:2:3::1", []string{"d 2001:db8:1:2:3::1/128", "c 2001:db8:1:2:3::/80",
			"a 2001:db8:1:2::/64", "b 2001:db8:1:2::/64", "d 2001:db8:1:2::/64",
			"b 2001:db8:1::/48", "a 2001:db8::/32", "b 2001:db8::/32", "c 2001:db8::/29"}},
		{"2001:db8:1:3::1", []string{"c 2001:db8:1:3::/64", "b 2001:db8:1::/48", "a 2001:db8::/32", "b 2001:db8::/32", "c 2001:db8::/29"}}, // allowed, still listed
		{"2001:db8:1:5::1", []string{"b 2001:db8:1::/48", "a 2001:db8::/32", "b 2001:db8::/32", "c 2001:db8::/29"}},
		{"2001:dc0::", nil},
	}
	for _, tt := range matches {
		t.Run("Matches "+tt.ip, func(t *testing.T) {
			var got []string
			for _, m := range s.Matches(netip.MustParseAddr(tt.ip)) {
				got = append(got, m.Source+" "+m.Prefix.String())
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("Matches = %q\nwant      %q", got, tt.want)
			}
		})
	}

	wantCounts := []SourceCount{{"a", 3}, {"b", 3}, {"c", 4}, {"d", 3}}
	if got := s.Counts(); !slices.Equal(got, wantCounts) {
		t.Errorf("Counts = %v, want %v", got, wantCounts)
	}
	if s.Len() != 10 {
		t.Errorf("Len = %d, want 10 distinct prefixes", s.Len())
	}
}

// TestSetBruteForce checks Lookup and Matches against a scan of every
// source on random, heavily nested prefixes of both families (IPv4 from /8
// to /32, so in the trie and the flat arrays; some written IPv4-mapped),
// from several sources listing some of the same prefixes.
func TestSetBruteForce(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	// Addresses from a small universe, so that prefixes nest and collide.
	randAddr := func(v6 bool) netip.Addr {
		if v6 {
			return netip.AddrFrom16([16]byte{0x20, 0x01, 0x0d, 0xb8, byte(rng.IntN(4)) << 6, 14: byte(rng.IntN(2)), 15: byte(rng.IntN(256))})
		}
		return netip.AddrFrom4([4]byte{10, byte(rng.IntN(4)) << 6, byte(rng.IntN(2)), byte(rng.IntN(256))})
	}
	lengths4 := []int{8, 10, 16, 17, 23, 24, 25, 28, 31, 32}
	lengths6 := []int{28, 32, 33, 34, 64, 119, 120, 121, 124, 127, 128}
	var sources []Source
	for i := range 4 {
		src := Source{Name: string(rune('a' + i))}
		for range 60 {
			v6 := rng.IntN(2) == 1
			var p netip.Prefix
			if v6 {
				p = netip.PrefixFrom(randAddr(true), lengths6[rng.IntN(len(lengths6))]).Masked()
			} else {
				p = netip.PrefixFrom(randAddr(false), lengths4[rng.IntN(len(lengths4))]).Masked()
				if rng.IntN(4) == 0 {
					p = netip.PrefixFrom(netip.AddrFrom16(p.Addr().As16()), p.Bits()+96)
				}
			}
			src.Prefixes = append(src.Prefixes, p)
		}
		sources = append(sources, src)
	}
	s, _ := New(sources, Options{})

	for range 5000 {
		ip := randAddr(rng.IntN(2) == 1)
		var want []Match // every source's covering prefixes, narrowest first, then in configuration order
		for _, src := range sources {
			for _, p := range src.Prefixes {
				m := Match{src.Name, Normalize(p)}
				if m.Prefix.Contains(ip) && !slices.Contains(want, m) {
					want = append(want, m)
				}
			}
		}
		slices.SortStableFunc(want, func(a, b Match) int { return b.Prefix.Bits() - a.Prefix.Bits() })
		if got := s.Matches(ip); !slices.Equal(got, want) {
			t.Fatalf("Matches(%s) = %v\nwant %v", ip, got, want)
		}
		source, prefix, found := s.Lookup(ip)
		if found != (len(want) > 0) || (found && (Match{source, prefix}) != want[0]) {
			t.Fatalf("Lookup(%s) = %q %s %v; want the first of %v", ip, source, prefix, found, want)
		}
		if ip.Is4() {
			mapped := netip.AddrFrom16(ip.As16())
			if got := s.Matches(mapped); !slices.Equal(got, want) {
				t.Fatalf("Matches(%s) = %v\nwant %v", mapped, got, want)
			}
		}
	}
}

// TestLookupNoAllocs guards the hot path: only a hit on a broad IPv4
// prefix goes through cidranger, which allocates.
func TestLookupNoAllocs(t *testing.T) {
	s := testSet(t, Options{Allow: pfx("192.0.2.128/25")})
	for _, ip := range []string{"192.0.2.9", "198.51.100.8", "2001:db8:1::1", "2001:db9::1", "::ffff:198.51.100.7"} {
		a := netip.MustParseAddr(ip)
		if n := testing.AllocsPerRun(100, func() { s.Lookup(a) }); n != 0 {
			t.Errorf("Lookup(%s) allocates %v times", ip, n)
		}
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
// and random unlisted addresses and around the edges of every IPv6 entry,
// and a Matches entry that covers each hit.
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
	var edges6 []netip.Addr // the first and last address of each IPv6 entry, and their neighbours
	for _, src := range sources {
		for _, p := range src.Prefixes {
			if p = Normalize(p); p.Addr().Is6() {
				edges6 = append(edges6, p.Addr(), p.Addr().Prev(), lastAddr(p), lastAddr(p).Next())
			}
		}
	}
	edges6 = slices.DeleteFunc(edges6, func(a netip.Addr) bool { return !a.IsValid() }) // before :: or after ffff:...
	if len(edges6) == 0 {
		t.Fatal("no IPv6 entries in the lists")
	}
	for _, addrs := range [][]netip.Addr{smp.hit4, smp.miss4, smp.hit6, smp.miss6, random, edges6} {
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
