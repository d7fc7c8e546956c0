// Package service holds signupguard's domain: the signup pipeline, its rules
// and the small interfaces it needs from storage, DNS, blocklists and limits.
// It knows nothing of HTTP or SQL.
package service

import (
	"context"
	"net/netip"
	"time"
)

// Request is one signup attempt as the HTTP layer decoded it.
type Request struct {
	Client   netip.Addr // the client IP the HTTP layer decided to believe
	Email    string     // as submitted
	List     string     // "" means DefaultList
	Name     string     // optional display name
	Honeypot string     // value of the honeypot field; bots fill it
}

// DefaultList is the list a request without a list name joins.
const DefaultList = "default"

// Subscriber is a row to store.
type Subscriber struct {
	List    string
	Address Address
	Name    string
	Client  netip.Addr
}

// Outcome says what a successful Subscribe did.
type Outcome int

const (
	Created   Outcome = iota + 1 // a new row was stored
	Duplicate                    // the mailbox was already on the list
	Trapped                      // the honeypot was filled; nothing stored
)

// Verdict is the answer to a request that was not refused.
type Verdict struct {
	Outcome Outcome
	Email   string // the address as stored: local part as typed, A-label domain
}

// Store keeps subscribers. Implementations must make concurrent adds of one
// (List, Key) create exactly one row.
type Store interface {
	// AddSubscriber stores s unless its (List, Address.Key) is already
	// stored; created reports which. A non-nil error means the outcome is
	// unknown: the row may or may not have been committed.
	AddSubscriber(ctx context.Context, s Subscriber) (created bool, err error)
}

// IPChecker names the list and prefix covering ip. It speaks netip types only,
// so blocklist.Set satisfies it without importing this package.
type IPChecker interface {
	Lookup(ip netip.Addr) (source string, prefix netip.Prefix, found bool)
}

// Limiter decides whether a client may make a request now and remembers
// abuse. Implementations key clients as they see fit (an IPv6 /64, say).
type Limiter interface {
	// Allow returns nil, or an *Error with CodeRateLimited and RetryAfter.
	Allow(ctx context.Context, client netip.Addr) error
	// Strike records that client's request was refused as abusive, for bans.
	Strike(ctx context.Context, client netip.Addr, why Code)
}

// MXVerifier decides whether a domain can receive mail.
type MXVerifier interface {
	// VerifyMX returns nil when domain (an A-label, no trailing dot) has a
	// mail host with a public address; an *Error with CodeUndeliverable when
	// it has none; CodeUnavailable when DNS failed temporarily.
	VerifyMX(ctx context.Context, domain string) error
}

// DomainChecker recognises domains of disposable-mail providers.
type DomainChecker interface {
	IsDisposable(domain string) bool
}

// Config holds the pipeline's settings.
type Config struct {
	Lists            []string      // accepted list names; empty means only DefaultList
	MXTimeout        time.Duration // budget of one MX verification; zero means none beyond ctx
	AcceptMXTempfail bool          // store addresses whose MX check failed temporarily
}
