package mx

import (
	"testing"
	"time"

	"github.com/miekg/dns"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/signupguard/signupguard/internal/testenv"
	"github.com/signupguard/signupguard/service"
)

// TestCacheTTL pins how long each kind of verdict is remembered: a second
// verification before expiry sends no query, one at expiry asks again.
func TestCacheTTL(t *testing.T) {
	tests := []struct {
		name    string
		records []string
		mode    testenv.DNSMode
		domain  string
		want    service.Code
		ttl     time.Duration
	}{
		{name: "positive by the smallest TTL used", domain: "a.example.net", ttl: 120 * time.Second, records: []string{
			"a.example.net. 300 IN MX 10 mx.a.example.net.", "mx.a.example.net. 120 IN A " + public4}},
		{name: "positive floor", domain: "a.example.net", ttl: minTTL, records: []string{
			"a.example.net. 5 IN MX 10 mx.a.example.net.", "mx.a.example.net. 0 IN A " + public4}},
		{name: "positive ceiling", domain: "a.example.net", ttl: maxTTL, records: []string{
			"a.example.net. 86400 IN MX 10 mx.a.example.net.", "mx.a.example.net. 86400 IN A " + public4}},
		{name: "CNAME TTL counts", domain: "a.example.net", ttl: 60 * time.Second, records: []string{
			"a.example.net. 60 IN CNAME b.example.net.", "b.example.net. 300 IN MX 10 mx.a.example.net.", "mx.a.example.net. 300 IN A " + public4}},
		{name: "NXDOMAIN by SOA minimum", domain: "nx.example.net", want: service.CodeUndeliverable, ttl: 90 * time.Second, records: []string{
			"example.net. 3600 IN SOA ns.example.net. h.example.net. 1 7200 3600 1209600 90"}},
		{name: "NXDOMAIN by SOA TTL when lower", domain: "nx.example.net", want: service.CodeUndeliverable, ttl: 45 * time.Second, records: []string{
			"example.net. 45 IN SOA ns.example.net. h.example.net. 1 7200 3600 1209600 90"}},
		{name: "negative ceiling", domain: "nx.example.net", want: service.CodeUndeliverable, ttl: maxNegativeTTL, records: []string{
			"example.net. 86400 IN SOA ns.example.net. h.example.net. 1 7200 3600 1209600 86400"}},
		{name: "negative without SOA: floor", domain: "nx.example.net", want: service.CodeUndeliverable, ttl: minTTL},
		{name: "null MX by its TTL", domain: "null.example.net", want: service.CodeUndeliverable, ttl: 200 * time.Second, records: []string{
			"null.example.net. 200 IN MX 0 ."}},
		{name: "temporary failure", domain: "a.example.net", mode: testenv.DNSServFail, want: service.CodeUnavailable, ttl: tempfailTTL},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := testenv.NewDNS(t, tt.records...)
			srv.SetMode("", tt.mode)
			v := newVerifier(t, srv.Addr())
			start := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
			now := start
			v.now = func() time.Time { return now }

			check := func(at time.Duration, wantQueries int) {
				t.Helper()
				now = start.Add(at)
				err := verify(t, v, tt.domain)
				if got := service.ErrorCode(err); got != tt.want {
					t.Fatalf("at %v: VerifyMX = %v, want code %q", at, err, tt.want)
				}
				if got := srv.Queries(tt.domain+".", dns.TypeMX); got != wantQueries {
					t.Fatalf("at %v: %d MX queries, want %d", at, got, wantQueries)
				}
			}
			check(0, 1)
			check(tt.ttl-time.Second, 1)
			check(tt.ttl, 2)
		})
	}
}

func TestCacheHitsAndMisses(t *testing.T) {
	srv := newZone(t)
	v := newVerifier(t, srv.Addr())
	for _, d := range []string{"ok.example.com", "ok.example.com", "nosuch.example.com", "ok.example.com", "nosuch.example.com"} {
		verify(t, v, d)
	}
	if got := testutil.ToFloat64(v.metrics.hits); got != 3 {
		t.Errorf("hits = %v, want 3", got)
	}
	if got := testutil.ToFloat64(v.metrics.misses); got != 2 {
		t.Errorf("misses = %v, want 2", got)
	}
	for verdict, want := range map[string]float64{"deliverable": 1, "undeliverable": 1, "tempfail": 0} {
		if got := testutil.ToFloat64(v.metrics.lookups.WithLabelValues(verdict)); got != want {
			t.Errorf("lookups{verdict=%q} = %v, want %v", verdict, got, want)
		}
	}
}

func TestCacheBound(t *testing.T) {
	c := newCache(3)
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	live := cacheEntry{expires: now.Add(time.Hour)}
	for _, k := range []string{"a.", "b.", "c.", "d.", "e."} {
		c.put(k, live, now)
		if len(c.entries) > 3 {
			t.Fatalf("after putting %s the cache holds %d entries, want at most 3", k, len(c.entries))
		}
	}
	if _, ok := c.get("e.", now); !ok {
		t.Error("the entry just put was evicted")
	}
	// Expired entries make room before live ones do.
	c = newCache(3)
	c.put("old1.", cacheEntry{expires: now.Add(-time.Second)}, now)
	c.put("old2.", cacheEntry{expires: now.Add(-time.Second)}, now)
	c.put("live.", live, now)
	c.put("new.", live, now)
	if _, ok := c.get("live.", now); !ok {
		t.Error("a live entry was evicted while expired ones remained")
	}
}
