package blocklist

import (
	"cmp"
	"encoding/binary"
	"errors"
	"math/rand/v2"
	"net/netip"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"testing"
	"time"

	"github.com/signupguard/signupguard/internal/testenv"
)

// rangeSet is the baseline the Set is measured against: every prefix as a
// [first, last] range with its source, sorted and merged (overlapping or
// adjacent ranges become one, keeping the first one's source), found by
// binary search. It answers "listed, and by which source", not which prefix.
type rangeSet struct {
	names []string
	v4    []range4
	v6    []range6
}

type range4 struct {
	first, last uint32
	src         int32
}

type range6 struct {
	first, last u128
	src         int32
}

func newRangeSet(sources []Source) *rangeSet {
	rs := &rangeSet{}
	for i, src := range sources {
		rs.names = append(rs.names, src.Name)
		for _, p := range src.Prefixes {
			p = Normalize(p)
			if p.Addr().Is4() {
				rs.v4 = append(rs.v4, range4{v4(p.Addr()), v4(lastAddr(p)), int32(i)})
			} else {
				rs.v6 = append(rs.v6, range6{to128(p.Addr()), to128(lastAddr(p)), int32(i)})
			}
		}
	}
	slices.SortFunc(rs.v4, func(a, b range4) int { return cmp.Or(cmp.Compare(a.first, b.first), cmp.Compare(a.src, b.src)) })
	out4 := rs.v4[:0]
	for _, r := range rs.v4 {
		if n := len(out4); n > 0 && uint64(out4[n-1].last)+1 >= uint64(r.first) {
			out4[n-1].last = max(out4[n-1].last, r.last)
			continue
		}
		out4 = append(out4, r)
	}
	rs.v4 = slices.Clip(out4)
	slices.SortFunc(rs.v6, func(a, b range6) int { return cmp.Or(a.first.cmp(b.first), cmp.Compare(a.src, b.src)) })
	out6 := rs.v6[:0]
	for _, r := range rs.v6 {
		if n := len(out6); n > 0 && out6[n-1].last.cmp(r.first) >= 0 {
			if out6[n-1].last.cmp(r.last) < 0 {
				out6[n-1].last = r.last
			}
			continue
		}
		out6 = append(out6, r)
	}
	rs.v6 = slices.Clip(out6)
	return rs
}

func (rs *rangeSet) Lookup(ip netip.Addr) (string, bool) {
	ip = ip.Unmap()
	if ip.Is4() {
		x := v4(ip)
		lo, hi := 0, len(rs.v4)
		for lo < hi { // the first range starting after x
			mid := int(uint(lo+hi) >> 1)
			if rs.v4[mid].first <= x {
				lo = mid + 1
			} else {
				hi = mid
			}
		}
		if lo > 0 && rs.v4[lo-1].last >= x {
			return rs.names[rs.v4[lo-1].src], true
		}
		return "", false
	}
	x := to128(ip)
	lo, hi := 0, len(rs.v6)
	for lo < hi {
		mid := int(uint(lo+hi) >> 1)
		if rs.v6[mid].first.cmp(x) <= 0 {
			lo = mid + 1
		} else {
			hi = mid
		}
	}
	if lo > 0 && rs.v6[lo-1].last.cmp(x) >= 0 {
		return rs.names[rs.v6[lo-1].src], true
	}
	return "", false
}

// loadAllSources parses every file of ../shared/data/ipblocklists that is an
// IP source (ASN-DROP is refused by design).
func loadAllSources(tb testing.TB) []Source {
	tb.Helper()
	files, err := filepath.Glob(filepath.Join(testenv.DataDir(tb), "ipblocklists", "*"))
	if err != nil || len(files) == 0 {
		tb.Fatalf("no blocklist files: %v", err)
	}
	var sources []Source
	for _, f := range files {
		fh, err := os.Open(f)
		if err != nil {
			tb.Fatal(err)
		}
		res, err := Parse(fh)
		fh.Close()
		if errors.Is(err, ErrNoEntries) {
			continue
		}
		if err != nil {
			tb.Fatalf("%s: %v", f, err)
		}
		sources = append(sources, Source{Name: filepath.Base(f), Prefixes: res.Prefixes})
	}
	return sources
}

// samples are the addresses each lookup benchmark cycles through.
type samples struct{ hit4, miss4, hit6, miss6 []netip.Addr }

// newSamples picks hits as a random address inside a random entry (so
// mostly single addresses and tiny prefixes, as in the lists), and misses
// as random addresses the baseline does not list (IPv6 from 2000::/3).
func newSamples(sources []Source, base *rangeSet, n int) samples {
	rng := rand.New(rand.NewPCG(1, 2))
	var all4, all6 []netip.Prefix
	for _, src := range sources {
		for _, p := range src.Prefixes {
			if p.Addr().Is4() {
				all4 = append(all4, p)
			} else {
				all6 = append(all6, p)
			}
		}
	}
	inside := func(p netip.Prefix) netip.Addr {
		b := p.Addr().As16()
		for i := p.Bits() + 128 - p.Addr().BitLen(); i < 128; i++ {
			if rng.IntN(2) == 1 {
				b[i/8] |= 0x80 >> (i % 8)
			}
		}
		return netip.AddrFrom16(b).Unmap()
	}
	var s samples
	for len(s.hit4) < n {
		s.hit4 = append(s.hit4, inside(all4[rng.IntN(len(all4))]))
	}
	for len(s.hit6) < n && len(all6) > 0 {
		s.hit6 = append(s.hit6, inside(all6[rng.IntN(len(all6))]))
	}
	for len(s.miss4) < n {
		a := netip.AddrFrom4(be4(rng.Uint32()))
		if _, found := base.Lookup(a); !found {
			s.miss4 = append(s.miss4, a)
		}
	}
	for len(s.miss6) < n {
		var b [16]byte
		binary.BigEndian.PutUint64(b[:8], rng.Uint64()>>3|1<<61)
		binary.BigEndian.PutUint64(b[8:], rng.Uint64())
		a := netip.AddrFrom16(b)
		if _, found := base.Lookup(a); !found {
			s.miss6 = append(s.miss6, a)
		}
	}
	return s
}

const rounds = 7 // measurements per figure; the median is reported

func median(xs []float64) float64 {
	xs = slices.Clone(xs)
	slices.Sort(xs)
	return xs[len(xs)/2]
}

// BenchmarkLookup times Set.Lookup and the baseline on the same addresses,
// alternating in rounds, and reports medians and their ratio.
//
//	go test -run '^$' -bench . -benchtime 2000000x ./blocklist
func BenchmarkLookup(b *testing.B) {
	sources := loadAllSources(b)
	set, _ := New(sources, Options{})
	base := newRangeSet(sources)
	smp := newSamples(sources, base, 4096)
	for _, bc := range []struct {
		name  string
		addrs []netip.Addr
		found bool
	}{
		{"hit4", smp.hit4, true},
		{"miss4", smp.miss4, false},
		{"hit6", smp.hit6, true},
		{"miss6", smp.miss6, false},
	} {
		b.Run(bc.name, func(b *testing.B) {
			per := max(b.N/rounds, 1)
			var setNs, baseNs []float64
			b.ResetTimer()
			for range rounds {
				t0 := time.Now()
				for i := range per {
					if _, _, found := set.Lookup(bc.addrs[i%len(bc.addrs)]); found != bc.found {
						b.Fatalf("Set.Lookup(%s) found=%v", bc.addrs[i%len(bc.addrs)], found)
					}
				}
				t1 := time.Now()
				for i := range per {
					if _, found := base.Lookup(bc.addrs[i%len(bc.addrs)]); found != bc.found {
						b.Fatalf("baseline Lookup(%s) found=%v", bc.addrs[i%len(bc.addrs)], found)
					}
				}
				t2 := time.Now()
				setNs = append(setNs, float64(t1.Sub(t0).Nanoseconds())/float64(per))
				baseNs = append(baseNs, float64(t2.Sub(t1).Nanoseconds())/float64(per))
			}
			s, bs := median(setNs), median(baseNs)
			b.ReportMetric(s, "set-ns/lookup")
			b.ReportMetric(bs, "base-ns/lookup")
			b.ReportMetric(s/bs, "x-baseline")
		})
	}
}

// BenchmarkBuild times building a Set and the baseline from the same parsed
// sources, and measures the heap each keeps (after GC).
func BenchmarkBuild(b *testing.B) {
	sources := loadAllSources(b)
	setHeap := retained(func() any { s, _ := New(sources, Options{}); return s })
	baseHeap := retained(func() any { return newRangeSet(sources) })
	var setMs, baseMs []float64
	b.ResetTimer()
	for range rounds { // fixed: each round builds the whole set
		t0 := time.Now()
		s, _ := New(sources, Options{})
		t1 := time.Now()
		r := newRangeSet(sources)
		t2 := time.Now()
		runtime.KeepAlive(s)
		runtime.KeepAlive(r)
		setMs = append(setMs, float64(t1.Sub(t0).Microseconds())/1000)
		baseMs = append(baseMs, float64(t2.Sub(t1).Microseconds())/1000)
	}
	s, bs := median(setMs), median(baseMs)
	b.ReportMetric(s, "set-ms/build")
	b.ReportMetric(bs, "base-ms/build")
	b.ReportMetric(s/bs, "x-baseline-build")
	b.ReportMetric(float64(setHeap)/1e6, "set-MB")
	b.ReportMetric(float64(baseHeap)/1e6, "base-MB")
	b.ReportMetric(float64(setHeap)/float64(baseHeap), "x-baseline-heap")
}

// retained returns the heap still held by what build returns, after GC.
func retained(build func() any) uint64 {
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	v := build()
	runtime.GC()
	runtime.ReadMemStats(&after)
	runtime.KeepAlive(v)
	return after.HeapAlloc - before.HeapAlloc
}
