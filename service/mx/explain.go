package mx

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"github.com/miekg/dns"
)

// maxShown is how many records of one answer a cached verdict keeps for
// ExplainMX, the best MX preferences first: enough to show what decided,
// while a domain listing 80 hosts costs the cache no more than one with 3.
const maxShown = 3

// evidence is what a verdict rests on: the answers its lookup used, in the
// order asked, and how often the cache has served it since.
type evidence struct {
	used []used
	at   time.Time // when the lookup finished
	hits atomic.Int64
}

// used is one question a lookup asked and what came back.
type used struct {
	name  string
	qtype uint16
	end   string   // the end of the CNAME chain from name
	rrs   []dns.RR // at most maxShown of the records found
	more  int      // how many records found are not in rrs
	nx    bool
	err   error // a temporary failure or errChain
}

func newUsed(name string, qtype uint16, a answer, err error) used {
	u := used{name: name, qtype: qtype, end: a.name, nx: a.nxdomain, err: err}
	rrs := a.rrs
	if qtype == dns.TypeMX && len(rrs) > 1 {
		rrs = slices.Clone(rrs)
		slices.SortStableFunc(rrs, func(a, b dns.RR) int { return cmp.Compare(mxPref(a), mxPref(b)) })
	}
	// A clone, so the cache does not keep the whole answer alive.
	u.rrs = slices.Clone(rrs[:min(len(rrs), maxShown)])
	u.more = len(rrs) - len(u.rrs)
	return u
}

func mxPref(rr dns.RR) uint16 {
	if mx, ok := rr.(*dns.MX); ok {
		return mx.Preference
	}
	return 0
}

// ExplainMX returns the DNS answers the verdict on domain rests on, one a
// line, in zone-file syntax without TTL and class:
//
//	gmail.com. MX 5 gmail-smtp-in.l.google.com.
//	gmail-smtp-in.l.google.com. A 142.250.1.27
//
// or "x.example. NXDOMAIN", "x.example. MX: no records" and so on, and
// last whether the cache served the verdict. It reads the cached verdict
// VerifyMX left; with none it verifies domain first, so it asks DNS no
// more than VerifyMX would.
func (v *Verifier) ExplainMX(ctx context.Context, domain string) []string {
	name, err := absName(domain)
	if err != nil {
		return []string{fmt.Sprintf("%q is not a domain name: nothing was asked", domain)}
	}
	e, ok := v.cache.get(name, v.now())
	if !ok {
		v.VerifyMX(ctx, domain)
		if e, ok = v.cache.get(name, v.now()); !ok {
			return []string{"no verdict: the lookup did not finish"}
		}
	}
	var out []string
	for _, u := range e.ev.used {
		out = u.appendLines(out)
	}
	now := v.now()
	left := e.expires.Sub(now).Round(time.Second)
	if n := e.ev.hits.Load(); n > 0 {
		times := "once"
		if n > 1 {
			times = fmt.Sprintf("%d times", n)
		}
		return append(out, fmt.Sprintf("verdict from the cache (served from it %s): looked up %v ago, expires in %v",
			times, now.Sub(e.ev.at).Round(time.Second), left))
	}
	return append(out, fmt.Sprintf("verdict from these answers, not the cache; cached for %v", left))
}

// appendLines appends the lines showing u to out.
func (u used) appendLines(out []string) []string {
	if u.err != nil {
		// Its text names the question already.
		return append(out, u.err.Error())
	}
	typ := dns.TypeToString[u.qtype]
	if u.end != u.name {
		out = append(out, fmt.Sprintf("%s is an alias (CNAME) of %s", u.name, u.end))
	}
	switch {
	case u.nx:
		return append(out, u.end+" NXDOMAIN")
	case len(u.rrs) == 0:
		return append(out, fmt.Sprintf("%s %s: no records", u.end, typ))
	}
	for _, rr := range u.rrs {
		line := rrLine(rr)
		if mx, ok := rr.(*dns.MX); ok && mx.Mx == "." && mx.Preference == 0 {
			line += " (null MX: the domain accepts no mail)"
		}
		out = append(out, line)
	}
	if u.more > 0 {
		out = append(out, fmt.Sprintf("... and %d more %s records", u.more, typ))
	}
	return out
}

// rrLine prints rr as its owner, type and data: the TTL changes from one
// resolver to the next and the class is always IN.
func rrLine(rr dns.RR) string {
	f := strings.SplitN(rr.String(), "\t", 5)
	if len(f) < 5 {
		return rr.String()
	}
	return f[0] + " " + f[3] + " " + f[4]
}
