package mx

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"math"
	"net"
	"strings"
	"time"

	"github.com/miekg/dns"
)

// errChain marks a CNAME chain longer than maxCNAME, or a loop: a broken
// zone, not a passing failure.
var errChain = fmt.Errorf("CNAME chain longer than %d", maxCNAME)

// answer is what a name and type resolved to, after CNAMEs.
type answer struct {
	name     string   // the end of the CNAME chain: the asked name without one
	rrs      []dns.RR // records of the asked type at the end of the chain
	nxdomain bool     // the name, or the end of its chain, does not exist
	ttl      uint32   // seconds the answer may be remembered
}

// resolve asks for name's qtype records, following CNAMEs both within an
// answer and, when a resolver left the chain unfinished, by asking for
// its end. Negative answers hold for the SOA minimum (RFC 2308). Any
// error other than errChain is temporary.
func (v *Verifier) resolve(ctx context.Context, name string, qtype uint16) (answer, error) {
	a := answer{ttl: math.MaxUint32}
	hops := 0
	for {
		r, err := v.exchange(ctx, name, qtype)
		if err != nil {
			return answer{}, err
		}
		end, rrs, ttl, n := walk(r, name, qtype)
		a.ttl = min(a.ttl, ttl)
		if hops += n; hops > maxCNAME {
			return answer{}, fmt.Errorf("%s: %w", name, errChain)
		}
		if len(rrs) > 0 {
			a.name, a.rrs = end, rrs
			return a, nil
		}
		soa, negTTL := negative(r)
		if end == name || soa || r.Rcode == dns.RcodeNameError {
			// RFC 6604: the rcode speaks of the last name in the chain.
			a.name, a.nxdomain = end, r.Rcode == dns.RcodeNameError
			a.ttl = min(a.ttl, negTTL)
			return a, nil
		}
		name = end
	}
}

// walk follows the CNAMEs from name within r's answer section. It returns
// the name it ended at, the qtype records found there, the smallest TTL
// on the way and how many CNAMEs it followed (more than maxCNAME: a loop
// or an over-long chain). Records of other names and classes are ignored,
// so one stray or malformed record does not sink the good ones.
func walk(r *dns.Msg, name string, qtype uint16) (string, []dns.RR, uint32, int) {
	ttl := uint32(math.MaxUint32)
	for hops := 0; ; hops++ {
		var rrs []dns.RR
		var cname *dns.CNAME
		for _, rr := range r.Answer {
			h := rr.Header()
			if h.Class != dns.ClassINET || !strings.EqualFold(h.Name, name) {
				continue
			}
			if h.Rrtype == qtype {
				rrs = append(rrs, rr)
				ttl = min(ttl, h.Ttl)
			} else if c, ok := rr.(*dns.CNAME); ok && cname == nil {
				cname = c
			}
		}
		if len(rrs) > 0 || cname == nil || hops == maxCNAME+1 {
			return name, rrs, ttl, hops
		}
		ttl = min(ttl, cname.Hdr.Ttl)
		name = dns.CanonicalName(cname.Target)
	}
}

// negative reports whether r's authority section holds an SOA, and how
// long r's negative answer may be cached: the lesser of the SOA's TTL and
// its minimum field (RFC 2308 section 5), or 0 without an SOA.
func negative(r *dns.Msg) (bool, uint32) {
	for _, rr := range r.Ns {
		if soa, ok := rr.(*dns.SOA); ok {
			return true, min(soa.Hdr.Ttl, soa.Minttl)
		}
	}
	return false, 0
}

// exchange sends one question to the servers in turn until one gives an
// answer (NOERROR or NXDOMAIN) or ctx ends. A server that times out is
// asked again in the next round, up to tries rounds; one that answers
// SERVFAIL or REFUSED is not, since its answer would be the same.
func (v *Verifier) exchange(ctx context.Context, name string, qtype uint16) (*dns.Msg, error) {
	q := new(dns.Msg)
	q.SetQuestion(name, qtype)
	q.SetEdns0(udpSize, false)
	answered := make([]bool, len(v.cfg.Servers))
	var last error
	for round := range tries {
		for i, server := range v.cfg.Servers {
			if answered[i] {
				continue
			}
			wait := v.attemptTimeout(ctx, triesLeft(answered, round, i))
			if wait <= 0 || ctx.Err() != nil {
				return nil, fmt.Errorf("query %s %s: %w", name, dns.TypeToString[qtype], cmp.Or(last, context.DeadlineExceeded))
			}
			q.Id = dns.Id()
			r, err := v.exchangeWith(ctx, q, server, wait)
			v.metrics.queries.WithLabelValues(queryResult(r, err)).Inc()
			if err == nil {
				if r.Rcode == dns.RcodeSuccess || r.Rcode == dns.RcodeNameError {
					return r, nil
				}
				answered[i] = true
				err = fmt.Errorf("answered %s", dns.RcodeToString[r.Rcode])
			}
			last = fmt.Errorf("%s: %w", server, err)
		}
	}
	return nil, fmt.Errorf("query %s %s: %w", name, dns.TypeToString[qtype], last)
}

// triesLeft counts the tries exchange has left, this one included, when
// it is about to ask server i in round.
func triesLeft(answered []bool, round, i int) int {
	open, rest := 0, 0
	for j, a := range answered {
		if !a {
			open++
			if j >= i {
				rest++
			}
		}
	}
	return rest + (tries-round-1)*open
}

// attemptTimeout returns how long one try may wait: the time left before
// ctx's deadline shared among the tries left, capped by QueryTimeout.
func (v *Verifier) attemptTimeout(ctx context.Context, left int) time.Duration {
	d, ok := ctx.Deadline()
	if !ok {
		d = time.Now().Add(defaultBudget)
	}
	wait := time.Until(d) / time.Duration(max(left, 1))
	if v.cfg.QueryTimeout > 0 {
		wait = min(wait, v.cfg.QueryTimeout)
	}
	return wait
}

// exchangeWith asks server q over UDP and, when the answer is truncated,
// again over TCP (miekg/dns leaves that to its caller), waiting at most
// wait for both.
func (v *Verifier) exchangeWith(ctx context.Context, q *dns.Msg, server string, wait time.Duration) (*dns.Msg, error) {
	ctx, cancel := context.WithTimeout(ctx, wait)
	defer cancel()
	r, _, err := v.udp.ExchangeContext(ctx, q, server)
	if err == nil && r.Truncated {
		r, _, err = v.tcp.ExchangeContext(ctx, q, server)
		if err == nil && r.Truncated {
			err = errors.New("truncated answer over TCP")
		}
	}
	if err != nil {
		return nil, err
	}
	if !r.Response || len(r.Question) != 1 || r.Question[0].Qtype != q.Question[0].Qtype ||
		!strings.EqualFold(r.Question[0].Name, q.Question[0].Name) {
		return nil, errors.New("answer does not match the question")
	}
	return r, nil
}

// queryResult names the outcome of one query for the queries metric.
func queryResult(r *dns.Msg, err error) string {
	var ne net.Error
	switch {
	case errors.As(err, &ne) && ne.Timeout():
		return "timeout"
	case err != nil:
		return "error"
	}
	switch r.Rcode {
	case dns.RcodeSuccess:
		return "noerror"
	case dns.RcodeNameError:
		return "nxdomain"
	case dns.RcodeServerFailure:
		return "servfail"
	case dns.RcodeRefused:
		return "refused"
	}
	return "other"
}
