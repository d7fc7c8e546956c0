package testenv

import (
	"fmt"
	"testing"
	"time"

	"github.com/miekg/dns"
)

func ask(t *testing.T, s *DNSServer, net, name string, qtype uint16) *dns.Msg {
	t.Helper()
	q := new(dns.Msg)
	q.SetQuestion(name, qtype)
	c := &dns.Client{Net: net, Timeout: 2 * time.Second}
	r, _, err := c.Exchange(q, s.Addr())
	if err != nil {
		t.Fatalf("%s %s over %s: %v", name, dns.TypeToString[qtype], net, err)
	}
	return r
}

func TestDNSServer(t *testing.T) {
	s := NewDNS(t,
		"example.org. 3600 IN SOA ns.example.org. h.example.org. 1 7200 3600 1209600 60",
		"a.example.org. 300 IN MX 10 mx.a.example.org.",
		"alias.example.org. 300 IN CNAME a.example.org.",
		"deep.sub.example.org. 300 IN A 192.0.2.1",
	)
	tests := []struct {
		name    string
		qtype   uint16
		rcode   int
		answers int
		soa     bool
	}{
		{name: "a.example.org.", qtype: dns.TypeMX, rcode: dns.RcodeSuccess, answers: 1},
		{name: "A.Example.ORG.", qtype: dns.TypeMX, rcode: dns.RcodeSuccess, answers: 1},
		{name: "alias.example.org.", qtype: dns.TypeMX, rcode: dns.RcodeSuccess, answers: 2},
		{name: "a.example.org.", qtype: dns.TypeA, rcode: dns.RcodeSuccess, soa: true},
		{name: "sub.example.org.", qtype: dns.TypeA, rcode: dns.RcodeSuccess, soa: true},
		{name: "nosuch.example.org.", qtype: dns.TypeMX, rcode: dns.RcodeNameError, soa: true},
		{name: "nosuch.example.net.", qtype: dns.TypeMX, rcode: dns.RcodeNameError},
	}
	for _, tt := range tests {
		r := ask(t, s, "udp", tt.name, tt.qtype)
		if r.Rcode != tt.rcode || len(r.Answer) != tt.answers || (len(r.Ns) == 1) != tt.soa {
			t.Errorf("%s %s: rcode %s, %d answers, %d authority; want %s, %d, soa %v", tt.name, dns.TypeToString[tt.qtype],
				dns.RcodeToString[r.Rcode], len(r.Answer), len(r.Ns), dns.RcodeToString[tt.rcode], tt.answers, tt.soa)
		}
	}
	if got := s.Queries("a.example.org", dns.TypeMX); got != 2 {
		t.Errorf("Queries(a.example.org, MX) = %d, want 2 (names are case-insensitive)", got)
	}
	if got := s.TotalQueries(); got != len(tests) {
		t.Errorf("TotalQueries = %d, want %d", got, len(tests))
	}

	s.SetChaseCNAME(false)
	if r := ask(t, s, "udp", "alias.example.org.", dns.TypeMX); len(r.Answer) != 1 {
		t.Errorf("without chasing, alias MX has %d answers, want the CNAME alone", len(r.Answer))
	}
}

func TestDNSServerModes(t *testing.T) {
	s := NewDNS(t, "a.example.org. 300 IN MX 10 mx.a.example.org.")
	s.SetMode("a.example.org.", DNSServFail)
	if r := ask(t, s, "udp", "a.example.org.", dns.TypeMX); r.Rcode != dns.RcodeServerFailure {
		t.Errorf("DNSServFail: rcode %s", dns.RcodeToString[r.Rcode])
	}
	s.SetMode("a.example.org.", DNSRefused)
	if r := ask(t, s, "udp", "a.example.org.", dns.TypeMX); r.Rcode != dns.RcodeRefused {
		t.Errorf("DNSRefused: rcode %s", dns.RcodeToString[r.Rcode])
	}
	s.SetMode("a.example.org.", DNSTruncated)
	if r := ask(t, s, "udp", "a.example.org.", dns.TypeMX); !r.Truncated || len(r.Answer) != 0 {
		t.Errorf("DNSTruncated over UDP: TC %v, %d answers", r.Truncated, len(r.Answer))
	}
	if r := ask(t, s, "tcp", "a.example.org.", dns.TypeMX); r.Truncated || len(r.Answer) != 1 {
		t.Errorf("DNSTruncated over TCP: TC %v, %d answers", r.Truncated, len(r.Answer))
	}
	if got := s.TCPQueries("a.example.org.", dns.TypeMX); got != 1 {
		t.Errorf("TCPQueries = %d, want 1", got)
	}
	s.SetMode("a.example.org.", DNSTruncatedNoTCP)
	c := &dns.Client{Net: "tcp", Timeout: 2 * time.Second}
	q := new(dns.Msg)
	q.SetQuestion("a.example.org.", dns.TypeMX)
	if _, _, err := c.Exchange(q, s.Addr()); err == nil {
		t.Error("DNSTruncatedNoTCP answered over TCP")
	}
	// The empty name sets every other name's mode.
	s.SetMode("a.example.org.", DNSAnswer)
	s.SetMode("", DNSRefused)
	if r := ask(t, s, "udp", "a.example.org.", dns.TypeMX); r.Rcode != dns.RcodeSuccess {
		t.Errorf("own mode DNSAnswer under a default of DNSRefused: rcode %s", dns.RcodeToString[r.Rcode])
	}
	if r := ask(t, s, "udp", "b.example.org.", dns.TypeMX); r.Rcode != dns.RcodeRefused {
		t.Errorf("default DNSRefused: rcode %s", dns.RcodeToString[r.Rcode])
	}
}

// TestDNSServerLargeAnswer pins that UDP answers are truncated to the
// client's advertised size, as a real server does, so clients meet TC.
func TestDNSServerLargeAnswer(t *testing.T) {
	var rrs []string
	for i := range 80 {
		rrs = append(rrs, fmt.Sprintf("big.example.org. 300 IN MX %d host-with-a-long-name-%d.example.org.", i, i))
	}
	s := NewDNS(t, rrs...)
	if r := ask(t, s, "udp", "big.example.org.", dns.TypeMX); !r.Truncated {
		t.Errorf("80 MX over UDP without EDNS0: not truncated (%d answers)", len(r.Answer))
	}
	if r := ask(t, s, "tcp", "big.example.org.", dns.TypeMX); r.Truncated || len(r.Answer) != 80 {
		t.Errorf("80 MX over TCP: TC %v, %d answers", r.Truncated, len(r.Answer))
	}
}
