package mx

import (
	"context"
	"fmt"
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/miekg/dns"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/signupguard/signupguard/internal/testenv"
	"github.com/signupguard/signupguard/service"
)

// Addresses a public mail host could have; the tests never connect to them.
const (
	public4 = "1.2.3.4"
	public6 = "2a00:1450:4001::1"
)

// zone holds a domain for every rule. Each rule's domain is named after it.
var zone = []string{
	"example.com. 3600 IN SOA ns.example.com. hostmaster.example.com. 1 7200 3600 1209600 60",

	"ok.example.com. 300 IN MX 10 mx1.ok.example.com.",
	"mx1.ok.example.com. 300 IN A " + public4,
	"v6.example.com. 300 IN MX 10 mx.v6.example.com.",
	"mx.v6.example.com. 300 IN AAAA " + public6,
	"xn--bcher-kva.example.com. 300 IN MX 10 mx1.ok.example.com.",

	"nullmx.example.com. 300 IN MX 0 .",
	"mixednull.example.com. 300 IN MX 0 .",
	"mixednull.example.com. 300 IN MX 10 mx1.ok.example.com.",
	"dotpref.example.com. 300 IN MX 10 .",

	"implicit.example.com. 300 IN A " + public4,
	"implicit6.example.com. 300 IN AAAA " + public6,
	"implicit-private.example.com. 300 IN A 10.0.0.1",
	"implicit-private.example.com. 300 IN AAAA fd00::1",
	"implicit-loopback.example.com. 300 IN A 127.0.0.1",
	"implicit-loopback.example.com. 300 IN AAAA ::1",
	"implicit-linklocal.example.com. 300 IN A 169.254.1.1",
	"implicit-linklocal.example.com. 300 IN AAAA fe80::1",
	"implicit-unspecified.example.com. 300 IN A 0.0.0.0",
	"implicit-unspecified.example.com. 300 IN AAAA ::",
	"implicit-documentation.example.com. 300 IN A 192.0.2.1",
	"implicit-documentation.example.com. 300 IN AAAA 2001:db8::1",
	"implicit-mapped.example.com. 300 IN AAAA ::ffff:10.0.0.1",
	"implicit-mixed.example.com. 300 IN A 10.0.0.1",
	"implicit-mixed.example.com. 300 IN A " + public4,
	"nodata.example.com. 300 IN TXT \"v=spf1 -all\"",

	"localhost-mx.example.com. 300 IN MX 10 localhost.",
	"ipliteral-mx.example.com. 300 IN MX 10 1.2.3.4.",
	"private-mx.example.com. 300 IN MX 10 mx.private-mx.example.com.",
	"mx.private-mx.example.com. 300 IN A 192.168.1.1",
	"mx.private-mx.example.com. 300 IN AAAA fd12::1",
	"missing-target.example.com. 300 IN MX 10 gone.example.com.",
	"missing-target.example.com. 300 IN MX 20 mx1.ok.example.com.",
	"missing-only.example.com. 300 IN MX 10 gone.example.com.",
	"junk-among-good.example.com. 300 IN MX 1 localhost.",
	"junk-among-good.example.com. 300 IN MX 2 1.2.3.4.",
	"junk-among-good.example.com. 300 IN MX 3 bad_host.example.com.",
	"junk-among-good.example.com. 300 IN MX 4 -dash.example.com.",
	"junk-among-good.example.com. 300 IN MX 5 mx1.ok.example.com.",
	"junk-among-good.example.com. 300 IN TXT \"stray\"",

	"cname.example.com. 300 IN CNAME ok.example.com.",
	"cname-target.example.com. 300 IN MX 10 alias.example.com.",
	"alias.example.com. 300 IN CNAME mx1.ok.example.com.",
	"cname-nx.example.com. 300 IN CNAME nosuch.example.com.",
	"loop1.example.com. 300 IN CNAME loop2.example.com.",
	"loop2.example.com. 300 IN CNAME loop1.example.com.",
	"cname-loop-target.example.com. 300 IN MX 10 loop1.example.com.",
	"cname-loop-target.example.com. 300 IN MX 20 mx1.ok.example.com.",

	"truncated.example.com. 300 IN MX 10 mx1.ok.example.com.",
	"truncated-no-tcp.example.com. 300 IN MX 10 mx1.ok.example.com.",
	"servfail.example.com. 300 IN MX 10 mx1.ok.example.com.",
	"refused.example.com. 300 IN MX 10 mx1.ok.example.com.",
	"silent.example.com. 300 IN MX 10 mx1.ok.example.com.",
	"target-servfail.example.com. 300 IN MX 10 sf.example.com.",
	"sf.example.com. 300 IN A " + public4,
	"target-servfail-other-ok.example.com. 300 IN MX 10 sf.example.com.",
	"target-servfail-other-ok.example.com. 300 IN MX 20 mx1.ok.example.com.",
}

// chain returns a CNAME chain of n links from name, ending at ok.example.com.
func chain(name string, n int) []string {
	var rrs []string
	for i := range n {
		next := fmt.Sprintf("c%d.%s", i+1, name)
		if i == n-1 {
			next = "ok.example.com."
		}
		cur := name
		if i > 0 {
			cur = fmt.Sprintf("c%d.%s", i, name)
		}
		rrs = append(rrs, fmt.Sprintf("%s 300 IN CNAME %s", cur, next))
	}
	return rrs
}

// manyMX returns 80 MX records for name, listed worst preference first; the
// host at rank good (1 is the best) has a public address, the others
// private ones.
func manyMX(name string, good int) []string {
	var rrs []string
	for i := 80; i >= 1; i-- {
		host := fmt.Sprintf("h%d.%s", i, name)
		rrs = append(rrs, fmt.Sprintf("%s 300 IN MX %d %s", name, i*10, host))
		addr := "10.0.0.1"
		if i == good {
			addr = public4
		}
		rrs = append(rrs, fmt.Sprintf("%s 300 IN A %s", host, addr))
	}
	return rrs
}

// newZone starts the test DNS server with every rule's domain.
func newZone(t *testing.T) *testenv.DNSServer {
	t.Helper()
	rrs := append([]string{}, zone...)
	rrs = append(rrs, chain("short-chain.example.com.", maxCNAME)...)
	rrs = append(rrs, chain("long-chain.example.com.", maxCNAME+1)...)
	rrs = append(rrs, manyMX("many.example.com.", 6)...)
	rrs = append(rrs, manyMX("many-ok.example.com.", 5)...)
	srv := testenv.NewDNS(t, rrs...)
	srv.SetMode("truncated.example.com.", testenv.DNSTruncated)
	srv.SetMode("truncated-no-tcp.example.com.", testenv.DNSTruncatedNoTCP)
	srv.SetMode("servfail.example.com.", testenv.DNSServFail)
	srv.SetMode("refused.example.com.", testenv.DNSRefused)
	srv.SetMode("silent.example.com.", testenv.DNSSilent)
	srv.SetMode("sf.example.com.", testenv.DNSServFail)
	return srv
}

// newVerifier returns a Verifier asking servers, with a short per-query
// timeout so that silent servers cost the tests little.
func newVerifier(t testing.TB, servers ...string) *Verifier {
	t.Helper()
	v, err := New(Config{Servers: servers, QueryTimeout: 200 * time.Millisecond}, prometheus.NewRegistry())
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func verify(t *testing.T, v *Verifier, domain string) error {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	return v.VerifyMX(ctx, domain)
}

type query struct {
	name  string
	qtype uint16
	n     int // how many queries the server must have seen
}

func TestVerifyMX(t *testing.T) {
	const (
		ok    = service.Code("")
		undel = service.CodeUndeliverable
		unav  = service.CodeUnavailable
	)
	tests := []struct {
		domain string
		want   service.Code
		asks   []query
	}{
		// Absolute names: exactly the name asked, no search list.
		{domain: "ok.example.com", want: ok, asks: []query{{"ok.example.com.", dns.TypeMX, 1}, {"mx1.ok.example.com.", dns.TypeA, 1}}},
		{domain: "OK.Example.COM.", want: ok, asks: []query{{"ok.example.com.", dns.TypeMX, 1}}},
		{domain: "v6.example.com", want: ok, asks: []query{{"mx.v6.example.com.", dns.TypeAAAA, 1}}},
		{domain: "bücher.example.com", want: ok, asks: []query{{"xn--bcher-kva.example.com.", dns.TypeMX, 1}}},
		{domain: "xn--bcher-kva.example.com", want: ok},
		{domain: "not a..domain", want: undel},
		{domain: "", want: undel},

		{domain: "nosuch.example.com", want: undel, asks: []query{{"nosuch.example.com.", dns.TypeA, 0}}},
		{domain: "nosuch.nosuchtld", want: undel},

		{domain: "nullmx.example.com", want: undel, asks: []query{{"nullmx.example.com.", dns.TypeA, 0}}},
		{domain: "mixednull.example.com", want: undel, asks: []query{{"mx1.ok.example.com.", dns.TypeA, 0}}},
		{domain: "dotpref.example.com", want: undel, asks: []query{{"dotpref.example.com.", dns.TypeA, 0}}},

		{domain: "implicit.example.com", want: ok, asks: []query{{"implicit.example.com.", dns.TypeA, 1}}},
		{domain: "implicit6.example.com", want: ok, asks: []query{{"implicit6.example.com.", dns.TypeAAAA, 1}}},
		{domain: "implicit-private.example.com", want: undel},
		{domain: "implicit-loopback.example.com", want: undel},
		{domain: "implicit-linklocal.example.com", want: undel},
		{domain: "implicit-unspecified.example.com", want: undel},
		{domain: "implicit-documentation.example.com", want: undel},
		{domain: "implicit-mapped.example.com", want: undel},
		{domain: "implicit-mixed.example.com", want: ok},
		{domain: "nodata.example.com", want: undel, asks: []query{{"nodata.example.com.", dns.TypeAAAA, 1}}},

		{domain: "localhost-mx.example.com", want: undel, asks: []query{{"localhost.", dns.TypeA, 0}}},
		{domain: "ipliteral-mx.example.com", want: undel, asks: []query{{"1.2.3.4.", dns.TypeA, 0}}},
		{domain: "private-mx.example.com", want: undel, asks: []query{{"mx.private-mx.example.com.", dns.TypeAAAA, 1}}},
		{domain: "missing-target.example.com", want: ok, asks: []query{{"gone.example.com.", dns.TypeA, 1}, {"gone.example.com.", dns.TypeAAAA, 0}}},
		{domain: "missing-only.example.com", want: undel},
		{domain: "junk-among-good.example.com", want: ok, asks: []query{
			{"bad_host.example.com.", dns.TypeA, 0}, {"-dash.example.com.", dns.TypeA, 0}, {"mx1.ok.example.com.", dns.TypeA, 1}}},

		{domain: "many.example.com", want: undel, asks: []query{
			// 80 MX records do not fit in 1232 bytes: UDP, then TCP.
			{"many.example.com.", dns.TypeMX, 2}, {"h1.many.example.com.", dns.TypeA, 1},
			{"h5.many.example.com.", dns.TypeA, 1}, {"h6.many.example.com.", dns.TypeA, 0}}},
		{domain: "many-ok.example.com", want: ok, asks: []query{
			{"h5.many-ok.example.com.", dns.TypeA, 1}, {"h6.many-ok.example.com.", dns.TypeA, 0}}},

		{domain: "cname.example.com", want: ok},
		{domain: "cname-target.example.com", want: ok},
		{domain: "cname-nx.example.com", want: undel},
		{domain: "short-chain.example.com", want: ok},
		{domain: "long-chain.example.com", want: undel},
		{domain: "loop1.example.com", want: undel},
		{domain: "cname-loop-target.example.com", want: ok},

		{domain: "truncated.example.com", want: ok, asks: []query{{"truncated.example.com.", dns.TypeMX, 2}}},
		{domain: "truncated-no-tcp.example.com", want: unav},
		{domain: "servfail.example.com", want: unav},
		{domain: "refused.example.com", want: unav},
		{domain: "silent.example.com", want: unav},
		{domain: "target-servfail.example.com", want: unav},
		{domain: "target-servfail-other-ok.example.com", want: ok},
	}
	for _, chase := range []bool{true, false} {
		for _, tt := range tests {
			t.Run(fmt.Sprintf("chase=%v/%s", chase, tt.domain), func(t *testing.T) {
				srv := newZone(t)
				srv.SetChaseCNAME(chase)
				err := verify(t, newVerifier(t, srv.Addr()), tt.domain)
				if got := service.ErrorCode(err); got != tt.want || (err == nil) != (tt.want == ok) {
					t.Fatalf("VerifyMX(%q) = %v, want code %q", tt.domain, err, tt.want)
				}
				for _, q := range tt.asks {
					if got := srv.Queries(q.name, q.qtype); got != q.n {
						t.Errorf("server saw %d queries for %s %s, want %d", got, q.name, dns.TypeToString[q.qtype], q.n)
					}
				}
			})
		}
	}
}

// TestVerifyMXAbsolute pins that nothing but the domain and its mail host
// is asked: no search-list suffixes, no other names.
func TestVerifyMXAbsolute(t *testing.T) {
	srv := newZone(t)
	if err := verify(t, newVerifier(t, srv.Addr()), "ok.example.com"); err != nil {
		t.Fatal(err)
	}
	if got := srv.TotalQueries(); got != 2 {
		t.Errorf("server saw %d queries, want 2 (MX of the domain, A of its host)", got)
	}
}

func TestVerifyMXTruncatedUsesTCP(t *testing.T) {
	srv := newZone(t)
	v := newVerifier(t, srv.Addr())
	for _, domain := range []string{"truncated.example.com", "many-ok.example.com"} {
		if err := verify(t, v, domain); err != nil {
			t.Fatalf("%s: %v", domain, err)
		}
		if got := srv.TCPQueries(domain+".", dns.TypeMX); got != 1 {
			t.Errorf("%s: %d MX queries over TCP, want 1", domain, got)
		}
	}
}

func TestVerifyMXTemporaryCarriesRetryAfter(t *testing.T) {
	srv := newZone(t)
	err := verify(t, newVerifier(t, srv.Addr()), "servfail.example.com")
	e, ok := err.(*service.Error)
	if !ok || e.Code != service.CodeUnavailable || e.RetryAfter != tempfailTTL {
		t.Fatalf("VerifyMX = %#v, want CodeUnavailable with RetryAfter %v", err, tempfailTTL)
	}
}

// TestVerifyMXNextServer pins that a dead or failing first server does not
// decide the verdict while another answers, with the default per-query
// wait: a share of the context's budget.
func TestVerifyMXNextServer(t *testing.T) {
	good := newZone(t)
	for _, mode := range []testenv.DNSMode{testenv.DNSSilent, testenv.DNSServFail, testenv.DNSRefused} {
		bad := testenv.NewDNS(t)
		bad.SetMode("", mode)
		v, err := New(Config{Servers: []string{bad.Addr(), good.Addr()}}, prometheus.NewRegistry())
		if err != nil {
			t.Fatal(err)
		}
		if err := verify(t, v, "ok.example.com"); err != nil {
			t.Errorf("mode %d first: %v", mode, err)
		}
		// The silent server's count is not synchronised with the answer.
		if mode != testenv.DNSSilent && bad.TotalQueries() == 0 {
			t.Errorf("mode %d: first server was never asked", mode)
		}
	}
}

// TestVerifyMXContextBound pins that servers that never answer hold a
// verification no longer than its context, however long QueryTimeout is,
// and that they are asked no more than tries times each.
func TestVerifyMXContextBound(t *testing.T) {
	silent := testenv.NewDNS(t)
	silent.SetMode("", testenv.DNSSilent)
	v, err := New(Config{Servers: []string{silent.Addr(), silent.Addr()}, QueryTimeout: time.Hour}, prometheus.NewRegistry())
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	err = v.VerifyMX(ctx, "ok.example.com")
	if service.ErrorCode(err) != service.CodeUnavailable {
		t.Fatalf("VerifyMX = %v, want unavailable", err)
	}
	if got := silent.TotalQueries(); got > 2*tries {
		t.Errorf("silent servers saw %d queries, want at most %d", got, 2*tries)
	}
}

func TestTriesLeft(t *testing.T) {
	tests := []struct {
		answered []bool
		round, i int
		want     int
	}{
		{answered: []bool{false}, round: 0, i: 0, want: tries},
		{answered: []bool{false}, round: tries - 1, i: 0, want: 1},
		{answered: []bool{false, false}, round: 0, i: 0, want: 2 * tries},
		{answered: []bool{false, false}, round: 0, i: 1, want: 2*tries - 1},
		{answered: []bool{true, false}, round: 0, i: 1, want: tries},
		{answered: []bool{false, true, false}, round: tries - 1, i: 2, want: 1},
	}
	for _, tt := range tests {
		if got := triesLeft(tt.answered, tt.round, tt.i); got != tt.want {
			t.Errorf("triesLeft(%v, %d, %d) = %d, want %d", tt.answered, tt.round, tt.i, got, tt.want)
		}
	}
}

// TestVerifyMXCallerGone pins that a caller whose context ends gets an
// answer at once, and that the lookup it started still finishes for the
// others.
func TestVerifyMXCallerGone(t *testing.T) {
	srv := newZone(t)
	arrived, release := srv.Hold(t, "ok.example.com.")
	v, err := New(Config{Servers: []string{srv.Addr()}, QueryTimeout: time.Minute}, prometheus.NewRegistry())
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	first := make(chan error, 1)
	go func() { first <- v.VerifyMX(ctx, "ok.example.com") }()

	<-arrived // the lookup is waiting on the server
	cancel()
	if err := <-first; service.ErrorCode(err) != service.CodeUnavailable {
		t.Fatalf("VerifyMX after its caller went away = %v, want unavailable", err)
	}
	release()
	if err := verify(t, v, "ok.example.com"); err != nil {
		t.Fatal(err)
	}
	if got := srv.Queries("ok.example.com.", dns.TypeMX); got != 1 {
		t.Errorf("%d MX queries, want 1: the second caller shares the first lookup or its verdict", got)
	}
}

func TestVerifyMXConcurrentColdDomain(t *testing.T) {
	srv := newZone(t)
	v := newVerifier(t, srv.Addr())
	const n = 100
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for range n {
		wg.Go(func() { errs <- verify(t, v, "ok.example.com") })
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if got := srv.Queries("ok.example.com.", dns.TypeMX); got != 1 {
		t.Errorf("%d concurrent verifications sent %d MX queries, want 1", n, got)
	}
	if got := testutil.ToFloat64(v.metrics.lookups.WithLabelValues("deliverable")); got != 1 {
		t.Errorf("lookups{deliverable} = %v, want 1", got)
	}
	hits, misses := testutil.ToFloat64(v.metrics.hits), testutil.ToFloat64(v.metrics.misses)
	if hits+misses != n {
		t.Errorf("hits %v + misses %v != %d", hits, misses, n)
	}
	verify(t, v, "ok.example.com")
	if got := testutil.ToFloat64(v.metrics.hits); got != hits+1 {
		t.Errorf("hits = %v after one more verification, want %v", got, hits+1)
	}
}

func TestIsPublic(t *testing.T) {
	tests := []struct {
		ip   string
		want bool
	}{
		{"1.2.3.4", true},
		{"2a00:1450:4001::1", true},
		{"::ffff:1.2.3.4", true},
		{"10.1.2.3", false},
		{"172.16.0.1", false},
		{"192.168.0.1", false},
		{"127.0.0.1", false},
		{"169.254.0.1", false},
		{"0.0.0.0", false},
		{"0.1.2.3", false},
		{"100.64.0.1", false},
		{"192.0.2.1", false},
		{"198.51.100.1", false},
		{"203.0.113.1", false},
		{"198.18.0.1", false},
		{"224.0.0.1", false},
		{"240.0.0.1", false},
		{"255.255.255.255", false},
		{"::", false},
		{"::1", false},
		{"fe80::1", false},
		{"fc00::1", false},
		{"fd00::1", false},
		{"ff02::1", false},
		{"2001:db8::1", false},
		{"3fff::1", false},
		{"100::1", false},
		{"::ffff:10.0.0.1", false},
		{"::ffff:192.0.2.1", false},
	}
	for _, tt := range tests {
		if got := IsPublic(netip.MustParseAddr(tt.ip)); got != tt.want {
			t.Errorf("IsPublic(%s) = %v, want %v", tt.ip, got, tt.want)
		}
	}
	if IsPublic(netip.Addr{}) {
		t.Error("IsPublic(zero Addr) = true")
	}
}
