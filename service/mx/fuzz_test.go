package mx

import (
	"strings"
	"testing"

	"github.com/miekg/dns"
)

// FuzzAnswer feeds arbitrary DNS messages to the code that reads answers:
// it must not panic, must stop following CNAMEs at the bound, and must
// never offer more than maxTargets hosts or one that is not a host name,
// and must explain what it read in a few lines.
func FuzzAnswer(f *testing.F) {
	for _, rrs := range [][]string{
		{"a.example.com. 300 IN MX 10 mx.example.com.", "a.example.com. 300 IN MX 0 ."},
		{"a.example.com. 300 IN CNAME b.example.com.", "b.example.com. 300 IN CNAME a.example.com."},
		{"a.example.com. 300 IN CNAME b.example.com.", "b.example.com. 300 IN MX 10 1.2.3.4."},
	} {
		m := new(dns.Msg)
		m.SetQuestion("a.example.com.", dns.TypeMX)
		for _, s := range rrs {
			rr, err := dns.NewRR(s)
			if err != nil {
				f.Fatal(err)
			}
			m.Answer = append(m.Answer, rr)
		}
		m.Ns = append(m.Ns, &dns.SOA{Hdr: dns.RR_Header{Name: "example.com.", Rrtype: dns.TypeSOA, Class: dns.ClassINET, Ttl: 60}, Ns: "ns.", Mbox: "h.", Minttl: 30})
		b, err := m.Pack()
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		r := new(dns.Msg)
		if err := r.Unpack(b); err != nil || len(r.Question) == 0 {
			return
		}
		name := dns.CanonicalName(r.Question[0].Name)
		negative(r)
		end, rrs, _, hops := walk(r, name, dns.TypeMX)
		if hops > maxCNAME+1 {
			t.Fatalf("walk followed %d CNAMEs", hops)
		}
		// What check prints of the answer: a bounded number of lines.
		lines := newUsed(name, dns.TypeMX, answer{name: end, rrs: rrs}, nil).appendLines(nil)
		if len(lines) > maxShown+2 {
			t.Fatalf("%d lines explain one answer", len(lines))
		}
		for _, l := range lines {
			if l == "" || strings.ContainsAny(l, "\n\t") {
				t.Fatalf("explanation line %q", l)
			}
		}
		hosts, _ := targets(rrs)
		if len(hosts) > maxTargets {
			t.Fatalf("%d targets", len(hosts))
		}
		for _, h := range hosts {
			if !isHostName(h) {
				t.Fatalf("target %q is not a host name", h)
			}
		}
		for _, qtype := range []uint16{dns.TypeA, dns.TypeAAAA} {
			_, rrs, _, _ := walk(r, name, qtype)
			for _, rr := range rrs {
				addrOf(rr)
			}
		}
	})
}
