// Package mx decides whether an e-mail domain can receive mail, asking DNS
// servers directly with miekg/dns. net.Resolver is not enough for this: it
// cannot tell a domain that does not exist from one without MX records,
// returns a null MX as an ordinary host, hides TTLs and walks the search
// list for relative names.
package mx

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net/netip"
	"slices"
	"strings"
	"time"

	"github.com/miekg/dns"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/signupguard/signupguard/service"
	"golang.org/x/sync/singleflight"
)

// Config holds a Verifier's settings. Zero fields take the defaults named.
type Config struct {
	// Servers are the recursive resolvers asked, as host:port, in order of
	// preference. Empty: the nameservers of /etc/resolv.conf.
	Servers []string
	// QueryTimeout caps the wait for one answer from one server before
	// the next is tried. Zero: the time left before the context's
	// deadline, shared evenly among the tries left, so a dead server
	// costs the whole budget but never more.
	QueryTimeout time.Duration
}

const (
	// minTTL and maxTTL clamp how long a verdict is cached.
	minTTL = 30 * time.Second
	maxTTL = time.Hour
	// maxNegativeTTL caps how long "undeliverable" is cached: a domain
	// being set up should not stay refused for the SOA's full minimum.
	maxNegativeTTL = 5 * time.Minute
	// tempfailTTL is how long a temporary failure is remembered, so a
	// dead resolver costs one timeout per domain, not one per request.
	tempfailTTL = 5 * time.Second
	// maxEntries bounds the cache, in domains.
	maxEntries = 10000
	// defaultBudget bounds a verification whose context has no deadline.
	defaultBudget = 3 * time.Second
)

const (
	// maxTargets is how many MX hosts are checked, best preference first:
	// enough for any real domain, and a domain listing 80 costs no more.
	maxTargets = 5
	// maxCNAME bounds the CNAMEs followed for one name, across answers.
	maxCNAME = 8
	// tries is how often each server is asked before the query fails.
	tries = 2
	// udpSize is the EDNS0 buffer advertised (the DNS flag day 2020 value);
	// larger answers come back truncated and are asked again over TCP.
	udpSize = 1232
)

// Verifier answers whether a domain can receive mail. It caches verdicts
// by the TTL of the answers they rest on, and concurrent verifications of
// one domain share a single lookup. It is safe for concurrent use.
type Verifier struct {
	cfg     Config
	udp     *dns.Client
	tcp     *dns.Client
	cache   *cache
	group   singleflight.Group
	metrics *metrics
	now     func() time.Time // replaced in tests
}

var _ service.MXExplainer = (*Verifier)(nil)

// New returns a Verifier. Its metrics are registered on reg.
func New(cfg Config, reg prometheus.Registerer) (*Verifier, error) {
	if len(cfg.Servers) == 0 {
		servers, err := SystemServers(resolvConf)
		if err != nil {
			return nil, err
		}
		cfg.Servers = servers
	}
	m, err := newMetrics(reg)
	if err != nil {
		return nil, err
	}
	return &Verifier{
		cfg: cfg,
		// Each exchange gets a context deadline, which is earlier than
		// these; without them miekg/dns would cap every wait at 2s.
		udp:     &dns.Client{Net: "udp", Timeout: time.Minute},
		tcp:     &dns.Client{Net: "tcp", Timeout: time.Minute},
		cache:   newCache(maxEntries),
		metrics: m,
		now:     time.Now,
	}, nil
}

// VerifyMX returns nil when domain has a mail host with a public address,
// an *service.Error with CodeUndeliverable when it has none, and one with
// CodeUnavailable when DNS failed temporarily or ctx ended first.
func (v *Verifier) VerifyMX(ctx context.Context, domain string) error {
	name, err := absName(domain)
	if err != nil {
		return undeliverable(fmt.Errorf("%q is not a domain name: %w", domain, err))
	}
	if e, ok := v.cache.get(name, v.now()); ok {
		v.metrics.hits.Inc()
		e.ev.hits.Add(1)
		return e.err
	}
	v.metrics.misses.Inc()
	ch := v.group.DoChan(name, func() (any, error) {
		// A lookup that finished between our cache miss and this call
		// has stored its verdict: use it rather than ask again.
		if e, ok := v.cache.get(name, v.now()); ok {
			e.ev.hits.Add(1)
			return e.err, nil
		}
		// The lookup is shared: one caller going away must not cancel it
		// for the others, but it keeps the first caller's deadline.
		lctx, cancel := detach(ctx)
		defer cancel()
		e := v.lookup(lctx, name)
		v.cache.put(name, e, v.now())
		return e.err, nil
	})
	select {
	case res := <-ch:
		err, _ := res.Val.(error)
		return err
	case <-ctx.Done():
		return v.unavailable(fmt.Errorf("verify %s: %w", name, ctx.Err()))
	}
}

// detach returns a context with ctx's values and deadline but not its
// cancellation, or defaultBudget when ctx has no deadline.
func detach(ctx context.Context) (context.Context, context.CancelFunc) {
	d, ok := ctx.Deadline()
	if !ok {
		d = time.Now().Add(defaultBudget)
	}
	return context.WithDeadline(context.WithoutCancel(ctx), d)
}

// lookup asks DNS whether name can receive mail. It returns the verdict,
// until when it may be cached and the answers it rests on.
func (v *Verifier) lookup(ctx context.Context, name string) cacheEntry {
	start := time.Now()
	l := &lookup{v: v, ttl: math.MaxUint32}
	ok, why, err := l.mailDomain(ctx, name)
	v.metrics.duration.Observe(time.Since(start).Seconds())
	now := v.now()
	e := cacheEntry{ev: &evidence{used: l.used, at: now}}
	switch {
	case err != nil:
		v.metrics.lookups.WithLabelValues("tempfail").Inc()
		e.err, e.expires = v.unavailable(err), now.Add(tempfailTTL)
	case !ok:
		v.metrics.lookups.WithLabelValues("undeliverable").Inc()
		e.err = undeliverable(fmt.Errorf("%s: %s", name, why))
		e.expires = now.Add(clamp(l.ttl, minTTL, maxNegativeTTL))
	default:
		v.metrics.lookups.WithLabelValues("deliverable").Inc()
		e.expires = now.Add(clamp(l.ttl, minTTL, maxTTL))
	}
	return e
}

func clamp(ttl uint32, lo, hi time.Duration) time.Duration {
	return min(max(time.Duration(ttl)*time.Second, lo), hi)
}

func undeliverable(cause error) error {
	return &service.Error{
		Code:    service.CodeUndeliverable,
		Message: "The domain of this address cannot receive e-mail. Please check it for typos.",
		Err:     cause,
	}
}

func (v *Verifier) unavailable(cause error) error {
	return &service.Error{
		Code:       service.CodeUnavailable,
		Message:    "We could not check your address right now. Please try again shortly.",
		RetryAfter: tempfailTTL,
		Err:        cause,
	}
}

// lookup is one verification: it remembers the answers it used, and their
// smallest TTL, which is how long its verdict holds. Every query of a
// verification goes through its resolve, so what ExplainMX shows is what
// the verdict was drawn from, not a second lookup that might differ.
type lookup struct {
	v    *Verifier
	ttl  uint32
	used []used
}

func (l *lookup) resolve(ctx context.Context, name string, qtype uint16) (answer, error) {
	a, err := l.v.resolve(ctx, name, qtype)
	if err == nil {
		l.ttl = min(l.ttl, a.ttl)
	}
	l.used = append(l.used, newUsed(name, qtype, a, err))
	return a, err
}

// mailDomain reports whether name has a mail host with a public address,
// and if not, why. An error means DNS failed temporarily.
func (l *lookup) mailDomain(ctx context.Context, name string) (bool, string, error) {
	mx, err := l.resolve(ctx, name, dns.TypeMX)
	switch {
	case errors.Is(err, errChain):
		return false, err.Error(), nil
	case err != nil:
		return false, "", err
	case mx.nxdomain:
		return false, "no such domain (NXDOMAIN)", nil
	case len(mx.rrs) == 0:
		// RFC 5321 section 5.1: without MX records the domain itself is
		// the mail host.
		ok, err := l.hasPublicAddr(ctx, name)
		if ok || err != nil {
			return ok, "", err
		}
		return false, "no MX records and no public A or AAAA address", nil
	}
	hosts, null := targets(mx.rrs)
	if null {
		return false, "null MX (RFC 7505): the domain accepts no mail", nil
	}
	var tempErr error
	for _, h := range hosts {
		ok, err := l.hasPublicAddr(ctx, h)
		if ok {
			return true, "", nil
		}
		if tempErr == nil {
			tempErr = err
		}
	}
	// A target that failed might have been the good one: not knowing is
	// not a reason to refuse for good.
	if tempErr != nil {
		return false, "", tempErr
	}
	return false, fmt.Sprintf("none of %d MX hosts checked has a public address", len(hosts)), nil
}

// hasPublicAddr reports whether host has an A or AAAA record with a
// public address. A host that does not exist, or whose CNAME chain is too
// long, has none; an error means DNS failed temporarily.
func (l *lookup) hasPublicAddr(ctx context.Context, host string) (bool, error) {
	var tempErr error
	for _, qtype := range []uint16{dns.TypeA, dns.TypeAAAA} {
		a, err := l.resolve(ctx, host, qtype)
		switch {
		case errors.Is(err, errChain):
			return false, nil
		case err != nil:
			tempErr = err
			continue
		case a.nxdomain:
			return false, tempErr
		}
		for _, rr := range a.rrs {
			if IsPublic(addrOf(rr)) {
				return true, nil
			}
		}
	}
	return false, tempErr
}

// targets returns the MX hosts worth checking, best preference first and
// at most maxTargets, and whether the records include a null MX. Hosts
// that cannot be a public mail host (localhost, IP literals, names that
// are not host names) are dropped without a query.
func targets(rrs []dns.RR) (hosts []string, null bool) {
	var mxs []*dns.MX
	for _, rr := range rrs {
		mx, ok := rr.(*dns.MX)
		if !ok {
			continue
		}
		if mx.Mx == "." {
			// RFC 7505: preference 0 and "." say "no mail here", even
			// beside other records (which the RFC forbids); "." with any
			// other preference is malformed and skipped.
			if mx.Preference == 0 {
				return nil, true
			}
			continue
		}
		mxs = append(mxs, mx)
	}
	slices.SortStableFunc(mxs, func(a, b *dns.MX) int { return int(a.Preference) - int(b.Preference) })
	for _, mx := range mxs {
		h := dns.CanonicalName(mx.Mx)
		if !isHostName(h) || slices.Contains(hosts, h) {
			continue
		}
		hosts = append(hosts, h)
		if len(hosts) == maxTargets {
			break
		}
	}
	return hosts, false
}

// isHostName reports whether name (absolute, lowercase) could be a public
// mail host: letters, digits and hyphens, not localhost, not an IP address
// written as a name.
func isHostName(name string) bool {
	n := strings.TrimSuffix(name, ".")
	if n == "" || n == "localhost" || strings.HasSuffix(n, ".localhost") {
		return false
	}
	if _, err := netip.ParseAddr(strings.Trim(n, "[]")); err == nil {
		return false
	}
	for l := range strings.SplitSeq(n, ".") {
		if service.CheckLabel(l) != nil {
			return false
		}
	}
	return true
}

// absName returns domain as an absolute, lowercase A-label name, so that
// no resolver search list is ever applied to it.
func absName(domain string) (string, error) {
	ascii, err := service.DomainToASCII(strings.TrimSuffix(domain, "."))
	if err != nil {
		return "", err
	}
	return dns.Fqdn(ascii), nil
}

// addrOf returns the address of an A or AAAA record, or the zero Addr.
func addrOf(rr dns.RR) netip.Addr {
	var ip netip.Addr
	switch rr := rr.(type) {
	case *dns.A:
		ip, _ = netip.AddrFromSlice(rr.A)
	case *dns.AAAA:
		ip, _ = netip.AddrFromSlice(rr.AAAA)
	}
	return ip.Unmap()
}

// notPublic are the special-purpose ranges (IANA registries, RFC 6890 and
// successors) that netip's predicates do not cover and no public mail host
// uses.
var notPublic = []netip.Prefix{
	netip.MustParsePrefix("0.0.0.0/8"),       // "this network"
	netip.MustParsePrefix("100.64.0.0/10"),   // carrier-grade NAT
	netip.MustParsePrefix("192.0.0.0/24"),    // IETF protocol assignments
	netip.MustParsePrefix("192.0.2.0/24"),    // documentation
	netip.MustParsePrefix("198.18.0.0/15"),   // benchmarking
	netip.MustParsePrefix("198.51.100.0/24"), // documentation
	netip.MustParsePrefix("203.0.113.0/24"),  // documentation
	netip.MustParsePrefix("240.0.0.0/4"),     // reserved
	netip.MustParsePrefix("64:ff9b:1::/48"),  // local-use NAT64
	netip.MustParsePrefix("100::/64"),        // discard-only
	netip.MustParsePrefix("2001:db8::/32"),   // documentation
	netip.MustParsePrefix("3fff::/20"),       // documentation
}

// IsPublic reports whether ip is a global unicast address a mail host on
// the Internet could have: not loopback, private, link-local, multicast,
// unspecified, documentation, carrier-grade NAT or reserved.
func IsPublic(ip netip.Addr) bool {
	ip = ip.Unmap()
	if !ip.IsGlobalUnicast() || ip.IsPrivate() {
		return false
	}
	for _, p := range notPublic {
		if p.Contains(ip) {
			return false
		}
	}
	return true
}
