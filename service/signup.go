package service

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"slices"
)

// Signup runs the signup pipeline: an ordered list of checks, cheapest
// first, ending with the insert. A request refused by one check never
// reaches the next, so a blocked IP costs no DNS or database work.
//
// The pipeline has two phases. Admit runs the checks that need only the
// client's address (blocklists, rate limits and bans), before the HTTP layer
// parses the body; Subscribe runs the rest and needs the Admission that only
// Admit hands out, so no caller can skip the first phase.
type Signup struct {
	admit []step     // the client checks
	steps []step     // the checks of the request's content, then the insert
	mx    MXVerifier // for Check, which asks it for the answers it used
}

// Admission says that a client passed Signup.Admit. The zero Admission
// admits nobody.
type Admission struct {
	client netip.Addr
	ok     bool
}

// attempt is the state one request carries through the steps.
type attempt struct {
	req      Request
	addr     Address // set by the email step
	dryRun   bool    // Check: remember nothing about the client
	mxUnsure error   // set by the MX step when it let a DNS failure pass (AcceptMXTempfail)
}

// Step names, as Check reports them.
const (
	stepBlocklist  = "blocklist"
	stepLimit      = "limit"
	stepHoneypot   = "honeypot"
	stepList       = "list"
	stepEmail      = "email"
	stepDisposable = "disposable"
	stepMX         = "mx"
	stepStore      = "store"
)

// A step returns a non-nil Verdict to end the pipeline with success, an
// error to refuse, or neither to pass the attempt on.
type step struct {
	name string
	run  func(ctx context.Context, a *attempt) (*Verdict, error)
}

// NewSignup returns the pipeline. A nil ips, lim, disposable or mx turns
// that check off; store is required.
func NewSignup(store Store, ips IPChecker, lim Limiter, disposable DomainChecker, mx MXVerifier, cfg Config) *Signup {
	if len(cfg.Lists) == 0 {
		cfg.Lists = []string{DefaultList}
	}
	strike := func(ctx context.Context, a *attempt, why Code) {
		if lim != nil && !a.dryRun {
			lim.Strike(ctx, a.req.Client, why)
		}
	}
	var admit, steps []step
	if ips != nil {
		admit = append(admit, step{stepBlocklist, func(ctx context.Context, a *attempt) (*Verdict, error) {
			if source, prefix, found := ips.Lookup(a.req.Client); found {
				return nil, &Error{Code: CodeBlockedIP, Message: "Signups from your network are not accepted.",
					Err: fmt.Errorf("%s is listed by %s as %s", a.req.Client, source, prefix)}
			}
			return nil, nil
		}})
	}
	if lim != nil {
		admit = append(admit, step{stepLimit, func(ctx context.Context, a *attempt) (*Verdict, error) {
			return nil, lim.Allow(ctx, a.req.Client)
		}})
	}
	steps = append(steps,
		step{stepHoneypot, func(ctx context.Context, a *attempt) (*Verdict, error) {
			if a.req.Honeypot == "" {
				return nil, nil
			}
			strike(ctx, a, CodeInvalidRequest)
			// Answer exactly as for a new address, so a bot learns nothing.
			email := a.req.Email
			if addr, err := ParseAddress(email); err == nil {
				email = addr.String()
			}
			return &Verdict{Outcome: Trapped, Email: email}, nil
		}},
		step{stepList, func(ctx context.Context, a *attempt) (*Verdict, error) {
			if a.req.List == "" {
				a.req.List = DefaultList
			}
			if !slices.Contains(cfg.Lists, a.req.List) {
				return nil, Errorf(CodeUnknownList, "There is no newsletter list of that name.")
			}
			return nil, nil
		}},
		step{stepEmail, func(ctx context.Context, a *attempt) (*Verdict, error) {
			addr, err := ParseAddress(a.req.Email)
			if err != nil {
				strike(ctx, a, CodeInvalidEmail)
				return nil, err
			}
			a.addr = addr
			return nil, nil
		}},
	)
	if disposable != nil {
		steps = append(steps, step{stepDisposable, func(ctx context.Context, a *attempt) (*Verdict, error) {
			if disposable.IsDisposable(a.addr.Domain) {
				strike(ctx, a, CodeDisposable)
				return nil, Errorf(CodeDisposable, "Please use a permanent e-mail address, not a disposable one.")
			}
			return nil, nil
		}})
	}
	if mx != nil {
		steps = append(steps, step{stepMX, func(ctx context.Context, a *attempt) (*Verdict, error) {
			if cfg.MXTimeout > 0 {
				var cancel context.CancelFunc
				ctx, cancel = context.WithTimeout(ctx, cfg.MXTimeout)
				defer cancel()
			}
			err := mx.VerifyMX(ctx, a.addr.Domain)
			switch ErrorCode(err) {
			case "":
				if err != nil {
					return nil, &Error{Code: CodeUnavailable, Message: "We could not check your address right now. Please try again shortly.", Err: err}
				}
				return nil, nil
			case CodeUnavailable:
				if cfg.AcceptMXTempfail {
					a.mxUnsure = err
					return nil, nil
				}
			case CodeUndeliverable:
				strike(ctx, a, CodeUndeliverable)
			}
			return nil, fmt.Errorf("verify mx of %s: %w", a.addr.Domain, err)
		}})
	}
	steps = append(steps, step{stepStore, func(ctx context.Context, a *attempt) (*Verdict, error) {
		created, err := store.AddSubscriber(ctx, Subscriber{List: a.req.List, Address: a.addr, Name: a.req.Name, Client: a.req.Client})
		if err != nil {
			return nil, &Error{Code: CodeUnavailable, Message: "We could not save your signup right now. Please try again shortly.", Err: err}
		}
		v := &Verdict{Outcome: Duplicate, Email: a.addr.String()}
		if created {
			v.Outcome = Created
		}
		return v, nil
	}})
	return &Signup{admit: admit, steps: steps, mx: mx}
}

// Admit runs the client checks: blocklists, then rate limits and bans. It
// returns an Admission for Subscribe, or an error whose *Error says why the
// client is refused.
func (s *Signup) Admit(ctx context.Context, client netip.Addr) (Admission, error) {
	if _, err := run(ctx, s.admit, &attempt{req: Request{Client: client}}); err != nil {
		return Admission{}, err
	}
	return Admission{client: client, ok: true}, nil
}

// Subscribe runs req through the rest of the pipeline for the client adm
// admitted; req.Client is ignored. It returns a Verdict, or an error whose
// *Error says why the request was refused.
func (s *Signup) Subscribe(ctx context.Context, adm Admission, req Request) (Verdict, error) {
	if !adm.ok {
		return Verdict{}, errors.New("service: Subscribe without an Admission")
	}
	req.Client = adm.client
	v, err := run(ctx, s.steps, &attempt{req: req})
	if err != nil {
		return Verdict{}, err
	}
	if v == nil {
		panic("service: pipeline ended without a verdict") // the store step always answers
	}
	return *v, nil
}

// run runs the steps in order until one refuses or answers.
func run(ctx context.Context, steps []step, a *attempt) (*Verdict, error) {
	for _, st := range steps {
		if v, err := st.run(ctx, a); err != nil || v != nil {
			return v, err
		}
	}
	return nil, nil
}
