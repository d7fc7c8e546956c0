// Package mock holds stand-ins for the parts of the signup pipeline that
// have no real test double: each method calls a function field, in the style
// of benbjohnson/wtf's mock package. The store never gets one: tests use a
// real Postgres (sql/sqltest).
package mock

import (
	"context"
	"net/netip"

	"github.com/signupguard/signupguard/service"
)

var (
	_ service.IPChecker     = (*IPChecker)(nil)
	_ service.Limiter       = (*Limiter)(nil)
	_ service.DomainChecker = (*DomainChecker)(nil)
	_ service.MXVerifier    = (*MXVerifier)(nil)
	_ service.MXExplainer   = (*MXExplainer)(nil)
)

// IPChecker stands in for a blocklist.
type IPChecker struct {
	LookupFn func(ip netip.Addr) (string, netip.Prefix, bool)
}

func (m *IPChecker) Lookup(ip netip.Addr) (string, netip.Prefix, bool) { return m.LookupFn(ip) }

// Limiter allows everything when AllowFn is nil, and ignores strikes when
// StrikeFn is nil.
type Limiter struct {
	AllowFn  func(ctx context.Context, client netip.Addr) error
	StrikeFn func(ctx context.Context, client netip.Addr, why service.Code)
}

func (m *Limiter) Allow(ctx context.Context, client netip.Addr) error {
	if m.AllowFn == nil {
		return nil
	}
	return m.AllowFn(ctx, client)
}

func (m *Limiter) Strike(ctx context.Context, client netip.Addr, why service.Code) {
	if m.StrikeFn != nil {
		m.StrikeFn(ctx, client, why)
	}
}

// DomainChecker stands in for the disposable-domain list.
type DomainChecker struct {
	IsDisposableFn func(domain string) bool
}

func (m *DomainChecker) IsDisposable(domain string) bool { return m.IsDisposableFn(domain) }

// MXVerifier stands in for DNS.
type MXVerifier struct {
	VerifyMXFn func(ctx context.Context, domain string) error
}

func (m *MXVerifier) VerifyMX(ctx context.Context, domain string) error {
	return m.VerifyMXFn(ctx, domain)
}

// MXExplainer is an MXVerifier that can also say which answers it used.
type MXExplainer struct {
	MXVerifier
	ExplainMXFn func(ctx context.Context, domain string) []string
}

func (m *MXExplainer) ExplainMX(ctx context.Context, domain string) []string {
	return m.ExplainMXFn(ctx, domain)
}
