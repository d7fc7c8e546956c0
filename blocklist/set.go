package blocklist

import (
	"cmp"
	"encoding/binary"
	"fmt"
	"math/bits"
	"net"
	"net/netip"
	"slices"

	"github.com/yl2chen/cidranger"
)

// Source is one named list of prefixes, as Parse returns them.
type Source struct {
	Name     string
	Prefixes []netip.Prefix
}

// Match is one list entry covering an address.
type Match struct {
	Source string
	Prefix netip.Prefix
}

// SourceCount is how many distinct prefixes a source contributed to a Set.
type SourceCount struct {
	Name     string
	Prefixes int
}

// Options are what a Set needs besides its sources.
type Options struct {
	// Allow lists prefixes never reported as blocked, whatever the lists say.
	Allow []netip.Prefix
	// TrustedProxies are the proxies the HTTP layer believes. A list
	// covering one of them, or loopback, is warned about: the service
	// would block its own proxy.
	TrustedProxies []netip.Prefix
}

// Warning is a list entry that covers an address the service itself uses.
type Warning struct {
	Source  string
	Prefix  netip.Prefix // the list's entry
	Covers  string       // "loopback" or "trusted proxy"
	Address netip.Prefix // the loopback address or trusted-proxy prefix it covers
}

func (w Warning) String() string {
	return fmt.Sprintf("list %s entry %s covers %s %s; add it to SIGNUPGUARD_ALLOWLIST or drop the list", w.Source, w.Prefix, w.Covers, w.Address)
}

// A Set is an immutable index of blocklists. Build one with New and publish
// it through a Live; it is safe for any number of concurrent readers.
//
// Most entries of real lists are single IPv4 addresses or tiny prefixes
// (99% of the distinct prefixes in our test data are IPv4 /28 or longer),
// which a cidranger trie stores at ~500 bytes and several heap objects
// each, and searches with an allocation per lookup. So each kind of entry
// lives where it is cheapest:
//   - IPv4 prefixes of /24 or longer, the bulk, in flat arrays bucketed by
//     /16: a few bytes each and a short binary search.
//   - IPv6 prefixes in one flat sorted array, 32 bytes each: a binary
//     search over it takes a few dozen nanoseconds and allocates nothing,
//     where the trie took ~200 ns and an allocation. Lists carry few IPv6
//     entries (tens, from Spamhaus DROPv6), so buckets would gain nothing.
//   - Shorter IPv4 prefixes in the trie, behind a one-bit-per-/16 filter
//     that lets most addresses skip it. They are few, but may span many
//     /16 buckets, which the bucketed arrays are not built for.
//
// Both flat structures keep entries sorted by (start, length), each linked
// to the nearest entry enclosing it, so nested prefixes from several lists
// are found narrowest first by walking outwards from the binary search.
type Set struct {
	names  []string
	counts []int
	// groups[g] lists the source indices (in configuration order) that
	// list one prefix; groups[i] == {i} for a single source i.
	groups [][]int32

	// IPv4 prefixes of /24 or longer, sorted by (start, bits). Entries are
	// nested or disjoint, as prefixes are; parent[i] is 1 + the index of
	// the nearest entry enclosing entry i, or 0.
	off    []uint32 // entries of /16 number h are [off[h], off[h+1])
	low    []uint16 // low 16 bits of the start address
	bits   []uint8
	group  []uint32
	parent []uint32

	// IPv6 prefixes, sorted and linked as the small IPv4 ones are.
	v6 []entry6

	// IPv4 prefixes shorter than /24.
	trie   cidranger.Ranger
	filter *[1 << 10]uint64 // one bit per /16 the trie covers; nil when it is empty

	allow []addrRange // merged, sorted
}

// smallBits is the shortest IPv4 prefix kept out of the trie. A /16 bucket
// holds every prefix at least this long, and a prefix this long covers at
// most 256 addresses.
const smallBits = 24

// entry6 is one IPv6 prefix and the group listing it.
type entry6 struct {
	start  u128
	bits   uint8
	group  uint32
	parent uint32 // 1 + the index of the nearest enclosing entry, or 0
}

// covers reports whether e's prefix holds x.
func (e *entry6) covers(x u128) bool {
	return commonBits(e.start, x) >= int(e.bits)
}

// prefix is e as a netip.Prefix, for callers.
func (e *entry6) prefix() netip.Prefix {
	var b [16]byte
	binary.BigEndian.PutUint64(b[:8], e.start.hi)
	binary.BigEndian.PutUint64(b[8:], e.start.lo)
	return netip.PrefixFrom(netip.AddrFrom16(b), int(e.bits))
}

// u128 is an IPv6 address as a number, cheaper to compare than a netip.Addr.
type u128 struct{ hi, lo uint64 }

func (a u128) cmp(b u128) int { return cmp.Or(cmp.Compare(a.hi, b.hi), cmp.Compare(a.lo, b.lo)) }

func to128(a netip.Addr) u128 {
	b := a.As16()
	return u128{binary.BigEndian.Uint64(b[:8]), binary.BigEndian.Uint64(b[8:])}
}

// commonBits is the length of the longest prefix a and b share.
func commonBits(a, b u128) int {
	if d := a.hi ^ b.hi; d != 0 {
		return bits.LeadingZeros64(d)
	}
	return 64 + bits.LeadingZeros64(a.lo^b.lo)
}

// trieEntry is what the trie stores: the prefix and the group listing it.
type trieEntry struct {
	prefix netip.Prefix
	group  uint32
}

// Network is computed on demand: cidranger copies it at insert, so keeping
// a net.IPNet in every entry would only double the memory.
func (e *trieEntry) Network() net.IPNet {
	return net.IPNet{IP: e.prefix.Addr().AsSlice(), Mask: net.CIDRMask(e.prefix.Bits(), e.prefix.Addr().BitLen())}
}

type addrRange struct{ first, last netip.Addr }

// New builds a Set from sources, in the order given: Lookup names the first
// source that lists a prefix. Prefixes are normalised as Parse does;
// invalid ones are ignored. The warnings name entries covering loopback or
// a trusted proxy that the allowlist does not cover.
func New(sources []Source, opt Options) (*Set, []Warning) {
	s := &Set{
		names:  make([]string, len(sources)),
		counts: make([]int, len(sources)),
		groups: make([][]int32, len(sources)),
		trie:   cidranger.NewPCTrieRanger(),
	}
	s.allow = mergeRanges(opt.Allow)
	targets := s.warnTargets(opt.TrustedProxies)
	var warns []Warning
	var small []uint64 // start<<32 | bits<<26 | source
	var v6 []listed6
	broad := map[netip.Prefix][]int32{}
	for i, src := range sources {
		s.names[i] = src.Name
		s.groups[i] = []int32{int32(i)}
		for _, p := range src.Prefixes {
			if !p.IsValid() {
				continue
			}
			p = Normalize(p)
			for _, t := range targets {
				if p.Overlaps(t.p) {
					warns = append(warns, Warning{Source: src.Name, Prefix: p, Covers: t.covers, Address: t.p})
				}
			}
			switch {
			case p.Addr().Is6():
				v6 = append(v6, listed6{to128(p.Addr()), uint8(p.Bits()), int32(i)})
				continue
			case p.Bits() >= smallBits:
				small = append(small, uint64(v4(p.Addr()))<<32|uint64(p.Bits())<<26|uint64(i))
				continue
			}
			if srcs := broad[p]; len(srcs) == 0 || srcs[len(srcs)-1] != int32(i) {
				broad[p] = append(srcs, int32(i))
				s.counts[i]++
			}
		}
	}
	s.buildSmall(small)
	s.build6(v6)
	s.buildTrie(broad)
	slices.SortFunc(warns, func(a, b Warning) int {
		return cmp.Or(cmp.Compare(a.Source, b.Source), a.Prefix.Addr().Compare(b.Prefix.Addr()), cmp.Compare(a.Prefix.Bits(), b.Prefix.Bits()))
	})
	return s, slices.CompactFunc(warns, func(a, b Warning) bool { return a == b })
}

// buildSmall fills the /16-bucketed arrays from packed small entries.
func (s *Set) buildSmall(small []uint64) {
	slices.Sort(small)
	small = slices.Compact(small) // a source listing a prefix twice
	s.off = make([]uint32, 1<<16+1)
	interned := map[string]uint32{}
	type open struct {
		index int
		end   uint32
	}
	var stack []open // entries enclosing the current one, innermost last
	var srcs []int32
	for i := 0; i < len(small); {
		key := small[i] &^ (1<<26 - 1)
		srcs = srcs[:0]
		for ; i < len(small) && small[i]&^(1<<26-1) == key; i++ {
			src := int32(small[i] & (1<<26 - 1))
			srcs = append(srcs, src)
			s.counts[src]++
		}
		start, bits := uint32(key>>32), uint8(key>>26&63)
		for len(stack) > 0 && stack[len(stack)-1].end < start {
			stack = stack[:len(stack)-1]
		}
		var parent uint32
		if len(stack) > 0 {
			parent = uint32(stack[len(stack)-1].index) + 1
		}
		stack = append(stack, open{len(s.low), start | (1<<(32-uint32(bits)) - 1)})
		s.low = append(s.low, uint16(start))
		s.bits = append(s.bits, bits)
		s.group = append(s.group, s.intern(interned, srcs))
		s.parent = append(s.parent, parent)
		s.off[start>>16+1]++
	}
	for h := 1; h < len(s.off); h++ {
		s.off[h] += s.off[h-1]
	}
}

// listed6 is one source's IPv6 prefix, before build6 merges sources.
type listed6 struct {
	start u128
	bits  uint8
	src   int32
}

// build6 fills s.v6 from the sources' IPv6 prefixes.
func (s *Set) build6(v6 []listed6) {
	slices.SortFunc(v6, func(a, b listed6) int {
		return cmp.Or(a.start.cmp(b.start), cmp.Compare(a.bits, b.bits), cmp.Compare(a.src, b.src))
	})
	v6 = slices.Compact(v6) // a source listing a prefix twice
	interned := map[string]uint32{}
	var stack []int // indices of the entries enclosing the current one, innermost last
	var srcs []int32
	for i := 0; i < len(v6); {
		e := entry6{start: v6[i].start, bits: v6[i].bits}
		srcs = srcs[:0]
		for ; i < len(v6) && v6[i].start == e.start && v6[i].bits == e.bits; i++ {
			srcs = append(srcs, v6[i].src)
			s.counts[v6[i].src]++
		}
		for len(stack) > 0 && !s.v6[stack[len(stack)-1]].covers(e.start) {
			stack = stack[:len(stack)-1]
		}
		if len(stack) > 0 {
			e.parent = uint32(stack[len(stack)-1]) + 1
		}
		e.group = s.intern(interned, srcs)
		stack = append(stack, len(s.v6))
		s.v6 = append(s.v6, e)
	}
	s.v6 = slices.Clip(s.v6)
}

// intern returns the group of srcs, adding it if new.
func (s *Set) intern(interned map[string]uint32, srcs []int32) uint32 {
	if len(srcs) == 1 {
		return uint32(srcs[0])
	}
	key := make([]byte, 4*len(srcs))
	for j, src := range srcs {
		binary.LittleEndian.PutUint32(key[4*j:], uint32(src))
	}
	if g, ok := interned[string(key)]; ok {
		return g
	}
	g := uint32(len(s.groups))
	s.groups = append(s.groups, slices.Clone(srcs))
	interned[string(key)] = g
	return g
}

func (s *Set) buildTrie(broad map[netip.Prefix][]int32) {
	interned := map[string]uint32{}
	for p, srcs := range broad {
		s.trie.Insert(&trieEntry{prefix: p, group: s.intern(interned, srcs)})
		if s.filter == nil {
			s.filter = new([1 << 10]uint64)
		}
		first, n := v4(p.Addr())>>16, uint32(1)
		if p.Bits() < 16 {
			n = 1 << (16 - p.Bits())
		}
		for h := first; h < first+n; h++ {
			s.filter[h/64] |= 1 << (h % 64)
		}
	}
}

func v4(a netip.Addr) uint32 {
	b := a.As4()
	return binary.BigEndian.Uint32(b[:])
}

// Lookup reports whether ip is listed and not allowed, naming the most
// specific listed prefix covering it and the first source (in configuration
// order) that lists that prefix. IPv4-mapped IPv6 is looked up as IPv4.
func (s *Set) Lookup(ip netip.Addr) (source string, prefix netip.Prefix, found bool) {
	ip = ip.Unmap()
	g, prefix, found := s.narrowest(ip)
	if !found || s.isAllowed(ip) {
		return "", netip.Prefix{}, false
	}
	return s.names[s.groups[g][0]], prefix, true
}

// narrowest finds the narrowest entry covering ip, which is unmapped.
func (s *Set) narrowest(ip netip.Addr) (group uint32, prefix netip.Prefix, found bool) {
	switch {
	case ip.Is4():
		x := v4(ip)
		if i := s.lookupSmall(x); i >= 0 {
			return s.group[i], s.smallPrefix(x, i), true
		}
		return s.lookupTrie(ip)
	case ip.Is6():
		if i := s.lookup6(to128(ip)); i >= 0 {
			return s.v6[i].group, s.v6[i].prefix(), true
		}
	}
	return 0, netip.Prefix{}, false
}

// lookupSmall returns the index of the narrowest small IPv4 entry covering
// x, or -1.
func (s *Set) lookupSmall(x uint32) int {
	first := int(s.off[x>>16])
	lo, hi := first, int(s.off[x>>16+1])
	// The last entry of the bucket starting at or before x.
	want := uint16(x)
	for lo < hi {
		mid := int(uint(lo+hi) >> 1)
		if s.low[mid] <= want {
			lo = mid + 1
		} else {
			hi = mid
		}
	}
	// An entry covering x starts at or before it; since prefixes nest or
	// are disjoint, it encloses entry lo-1 unless it is that entry.
	for i := lo - 1; i >= first; i = int(s.parent[i]) - 1 {
		start := x&^0xffff | uint32(s.low[i])
		if x-start < 1<<(32-uint32(s.bits[i])) {
			return i
		}
	}
	return -1
}

// smallPrefix is small entry i, which is in the /16 bucket of x.
func (s *Set) smallPrefix(x uint32, i int) netip.Prefix {
	start := x&^0xffff | uint32(s.low[i])
	return netip.PrefixFrom(netip.AddrFrom4(be4(start)), int(s.bits[i]))
}

// lookup6 returns the index of the narrowest IPv6 entry covering x, or -1.
// It works as lookupSmall does, over all IPv6 entries at once.
func (s *Set) lookup6(x u128) int {
	lo, hi := 0, len(s.v6)
	for lo < hi {
		mid := int(uint(lo+hi) >> 1)
		if s.v6[mid].start.cmp(x) <= 0 {
			lo = mid + 1
		} else {
			hi = mid
		}
	}
	for i := lo - 1; i >= 0; i = int(s.v6[i].parent) - 1 {
		if s.v6[i].covers(x) {
			return i
		}
	}
	return -1
}

func be4(x uint32) [4]byte {
	var b [4]byte
	binary.BigEndian.PutUint32(b[:], x)
	return b
}

// lookupTrie finds the narrowest trie entry covering the IPv4 address ip.
func (s *Set) lookupTrie(ip netip.Addr) (uint32, netip.Prefix, bool) {
	entries := s.trieMatches(ip)
	if len(entries) == 0 {
		return 0, netip.Prefix{}, false
	}
	e := entries[len(entries)-1].(*trieEntry) // ascending prefix order
	return e.group, e.prefix, true
}

// trieMatches returns the trie entries covering the IPv4 address ip,
// broadest first, after asking the filter whether the trie can hold any.
func (s *Set) trieMatches(ip netip.Addr) []cidranger.RangerEntry {
	h := v4(ip) >> 16
	if s.filter == nil || s.filter[h/64]&(1<<(h%64)) == 0 {
		return nil
	}
	entries, err := s.trie.ContainingNetworks(ip.AsSlice())
	if err != nil {
		return nil // only for an invalid IP, which the callers rule out
	}
	return entries
}

// Matches returns every entry of every source covering ip, narrowest
// first, for operators: "which lists name this address, and as what". It
// ignores the allowlist; see Allowed.
func (s *Set) Matches(ip netip.Addr) []Match {
	ip = ip.Unmap()
	var out []Match
	add := func(g uint32, p netip.Prefix) {
		for _, src := range s.groups[g] {
			out = append(out, Match{Source: s.names[src], Prefix: p})
		}
	}
	// The parent links lead from the narrowest entry through every
	// enclosing one: all entries covering an address are nested.
	switch {
	case ip.Is4():
		x := v4(ip)
		for i := s.lookupSmall(x); i >= 0; i = int(s.parent[i]) - 1 {
			add(s.group[i], s.smallPrefix(x, i))
		}
		entries := s.trieMatches(ip)
		for i := len(entries) - 1; i >= 0; i-- {
			e := entries[i].(*trieEntry)
			add(e.group, e.prefix)
		}
	case ip.Is6():
		for i := s.lookup6(to128(ip)); i >= 0; i = int(s.v6[i].parent) - 1 {
			add(s.v6[i].group, s.v6[i].prefix())
		}
	}
	return out
}

// Allowed reports whether ip is on the allowlist, and so never blocked.
func (s *Set) Allowed(ip netip.Addr) bool {
	return s.isAllowed(ip.Unmap())
}

func (s *Set) isAllowed(ip netip.Addr) bool {
	_, ok := s.allowRange(ip)
	return ok
}

// allowsAll reports whether the allowlist covers all of p.
func (s *Set) allowsAll(p netip.Prefix) bool {
	r, ok := s.allowRange(p.Addr())
	return ok && !r.last.Less(lastAddr(p))
}

// allowRange returns the allowed range holding ip.
func (s *Set) allowRange(ip netip.Addr) (addrRange, bool) {
	if len(s.allow) == 0 {
		return addrRange{}, false
	}
	i, found := slices.BinarySearchFunc(s.allow, ip, func(r addrRange, ip netip.Addr) int {
		switch {
		case r.last.Less(ip):
			return -1
		case ip.Less(r.first):
			return 1
		}
		return 0
	})
	if !found {
		return addrRange{}, false
	}
	return s.allow[i], true
}

// Counts returns each source's number of distinct prefixes, in
// configuration order.
func (s *Set) Counts() []SourceCount {
	out := make([]SourceCount, len(s.names))
	for i, name := range s.names {
		out[i] = SourceCount{Name: name, Prefixes: s.counts[i]}
	}
	return out
}

// Len returns the number of distinct prefixes in the Set.
func (s *Set) Len() int {
	return len(s.low) + len(s.v6) + s.trie.Len()
}

// mergeRanges turns prefixes into sorted, disjoint, merged ranges.
func mergeRanges(ps []netip.Prefix) []addrRange {
	var rs []addrRange
	for _, p := range ps {
		if p.IsValid() {
			p = Normalize(p)
			rs = append(rs, addrRange{p.Addr(), lastAddr(p)})
		}
	}
	slices.SortFunc(rs, func(a, b addrRange) int { return a.first.Compare(b.first) })
	var out []addrRange
	for _, r := range rs {
		if n := len(out); n > 0 && out[n-1].first.BitLen() == r.first.BitLen() &&
			(!out[n-1].last.Less(r.first) || out[n-1].last.Next() == r.first) {
			if out[n-1].last.Less(r.last) {
				out[n-1].last = r.last
			}
			continue
		}
		out = append(out, r)
	}
	return out
}

// loopback are the addresses a local client or a proxy on the same host
// connects from.
var loopback = []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32"), netip.MustParsePrefix("::1/128")}

// warnTarget is an address that no entry should cover unless the
// allowlist does.
type warnTarget struct {
	p      netip.Prefix
	covers string
}

// warnTargets are loopback and the trusted proxies, less what the
// allowlist covers: New warns of entries covering them.
func (s *Set) warnTargets(trusted []netip.Prefix) []warnTarget {
	var targets []warnTarget
	for _, p := range loopback {
		targets = append(targets, warnTarget{p, "loopback"})
	}
	for _, p := range trusted {
		if p.IsValid() {
			targets = append(targets, warnTarget{Normalize(p), "trusted proxy"})
		}
	}
	return slices.DeleteFunc(targets, func(t warnTarget) bool { return s.allowsAll(t.p) })
}
