package mx

import (
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/miekg/dns"
	"github.com/signupguard/signupguard/service"
)

func TestExplainMX(t *testing.T) {
	const fresh = "verdict from these answers, not the cache; cached for "
	srv := newZone(t)
	tests := []struct {
		name   string
		domain string
		want   service.Code
		lines  []string // the answers, in order, before the cache line
	}{
		{name: "DeliverableViaMX", domain: "ok.example.com", lines: []string{
			"ok.example.com. MX 10 mx1.ok.example.com.",
			"mx1.ok.example.com. A 1.2.3.4",
		}},
		{name: "ImplicitA", domain: "implicit.example.com", lines: []string{
			"implicit.example.com. MX: no records",
			"implicit.example.com. A 1.2.3.4",
		}},
		{name: "NullMX", domain: "nullmx.example.com", want: service.CodeUndeliverable, lines: []string{
			"nullmx.example.com. MX 0 . (null MX: the domain accepts no mail)",
		}},
		{name: "NXDOMAIN", domain: "nosuch.example.com", want: service.CodeUndeliverable, lines: []string{
			"nosuch.example.com. NXDOMAIN",
		}},
		{name: "CNAME", domain: "short-chain.example.com", lines: []string{
			"short-chain.example.com. is an alias (CNAME) of ok.example.com.",
			"ok.example.com. MX 10 mx1.ok.example.com.",
			"mx1.ok.example.com. A 1.2.3.4",
		}},
		// 80 MX listed worst first: the best three are shown, then each
		// host tried, until the fifth, the first with a public address.
		{name: "ManyMX", domain: "many-ok.example.com", lines: []string{
			"many-ok.example.com. MX 10 h1.many-ok.example.com.",
			"many-ok.example.com. MX 20 h2.many-ok.example.com.",
			"many-ok.example.com. MX 30 h3.many-ok.example.com.",
			"... and 77 more MX records",
			"h1.many-ok.example.com. A 10.0.0.1", "h1.many-ok.example.com. AAAA: no records",
			"h2.many-ok.example.com. A 10.0.0.1", "h2.many-ok.example.com. AAAA: no records",
			"h3.many-ok.example.com. A 10.0.0.1", "h3.many-ok.example.com. AAAA: no records",
			"h4.many-ok.example.com. A 10.0.0.1", "h4.many-ok.example.com. AAAA: no records",
			"h5.many-ok.example.com. A 1.2.3.4",
		}},
		{name: "LongChain", domain: "long-chain.example.com", want: service.CodeUndeliverable, lines: []string{
			"long-chain.example.com.: CNAME chain longer than 8",
		}},
		{name: "Temporary", domain: "servfail.example.com", want: service.CodeUnavailable, lines: []string{
			"query servfail.example.com. MX: " + srv.Addr() + ": answered SERVFAIL",
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v := newVerifier(t, srv.Addr())
			if err := verify(t, v, tt.domain); service.ErrorCode(err) != tt.want {
				t.Fatalf("VerifyMX = %v, want code %q", err, tt.want)
			}
			got := v.ExplainMX(context.Background(), tt.domain)
			if len(got) == 0 || !slices.Equal(got[:len(got)-1], tt.lines) || !strings.HasPrefix(got[len(got)-1], fresh) {
				t.Errorf("ExplainMX =\n%s\nwant\n%s\n%s...", strings.Join(got, "\n"), strings.Join(tt.lines, "\n"), fresh)
			}
		})
	}
}

// TestExplainMXCache checks that ExplainMX says when the verdict came from
// the cache, and that explaining asks DNS nothing VerifyMX did not.
func TestExplainMXCache(t *testing.T) {
	srv := newZone(t)
	v := newVerifier(t, srv.Addr())
	ctx := context.Background()
	// With no verdict cached, ExplainMX verifies first.
	got := v.ExplainMX(ctx, "OK.example.com.")
	if want := "ok.example.com. MX 10 mx1.ok.example.com."; len(got) != 3 || got[0] != want || !strings.HasPrefix(got[2], "verdict from these answers, not the cache") {
		t.Fatalf("ExplainMX before any VerifyMX =\n%s\nwant %q first and a fresh verdict last", strings.Join(got, "\n"), want)
	}
	for range 2 {
		if err := verify(t, v, "ok.example.com"); err != nil {
			t.Fatal(err)
		}
	}
	got = v.ExplainMX(ctx, "ok.example.com")
	if last := got[len(got)-1]; !strings.HasPrefix(last, "verdict from the cache (served from it 2 times)") {
		t.Errorf("after two cached verifications the last line is %q", last)
	}
	if n := srv.Queries("ok.example.com.", dns.TypeMX); n != 1 {
		t.Errorf("%d MX queries, want 1", n)
	}
	if got := v.ExplainMX(ctx, "a..b"); len(got) != 1 || !strings.Contains(got[0], "not a domain name") {
		t.Errorf("ExplainMX(a..b) = %q", got)
	}
}
