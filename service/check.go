package service

import (
	"context"
	"errors"
	"slices"
)

// Finding is what one step of the pipeline concluded about a request.
type Finding struct {
	Step   string
	Detail string // what the step saw; for a refusal, the cause
}

// MXExplainer is an MXVerifier that can show the DNS answers its verdict on
// a domain rests on. Check prints them; Subscribe never asks.
type MXExplainer interface {
	ExplainMX(ctx context.Context, domain string) []string
}

// checkSkips are the steps Check leaves out: they remember the client or
// store the address, and a dry run must change nothing.
var checkSkips = map[string]bool{stepLimit: true, stepHoneypot: true, stepStore: true}

// Check runs req through the same steps as Subscribe, minus the rate limit,
// the honeypot and the insert, and reports what each step saw. With no
// Email only the blocklist step runs; with no valid Client it is skipped.
// A nil error means Subscribe would accept req (given a free rate limit and
// a working database); otherwise the error is the refusal it would give.
func (s *Signup) Check(ctx context.Context, req Request) ([]Finding, error) {
	a := &attempt{req: req, dryRun: true}
	var found []Finding
	for _, st := range slices.Concat(s.admit, s.steps) {
		switch {
		case checkSkips[st.name]:
			continue
		case st.name == stepBlocklist && !req.Client.IsValid():
			continue
		case st.name != stepBlocklist && req.Email == "":
			continue
		}
		if _, err := st.run(ctx, a); err != nil {
			d := cause(err)
			if st.name == stepMX {
				d += s.answers(ctx, a.addr.Domain)
			}
			return append(found, Finding{Step: st.name, Detail: d}), err
		}
		found = append(found, Finding{Step: st.name, Detail: s.detail(ctx, st.name, a)})
	}
	return found, nil
}

// detail says what a step that passed saw.
func (s *Signup) detail(ctx context.Context, step string, a *attempt) string {
	switch step {
	case stepBlocklist:
		return a.req.Client.String() + " is on no blocklist"
	case stepList:
		return "list " + a.req.List + " exists"
	case stepEmail:
		return "address " + a.addr.String() + ", dedupe key " + a.addr.Key
	case stepDisposable:
		return a.addr.Domain + " is not a disposable-mail domain"
	case stepMX:
		if a.mxUnsure != nil {
			return a.addr.Domain + " not verified, accepted as SIGNUPGUARD_MX_TEMPFAIL=accept says: " + cause(a.mxUnsure) + s.answers(ctx, a.addr.Domain)
		}
		return a.addr.Domain + " can receive mail" + s.answers(ctx, a.addr.Domain)
	}
	return "passed"
}

// answers lists the DNS answers the MX verdict on domain rests on, when the
// verifier can say.
func (s *Signup) answers(ctx context.Context, domain string) string {
	ex, ok := s.mx.(MXExplainer)
	if !ok {
		return ""
	}
	out := ""
	for _, ans := range ex.ExplainMX(ctx, domain) {
		out += "\n    DNS: " + ans
	}
	return out
}

// cause is the most telling text of a refusal: the underlying cause, which
// names the list and prefix or the DNS answer, else the user's message.
func cause(err error) string {
	var e *Error
	if errors.As(err, &e) {
		if e.Err != nil {
			return string(e.Code) + ": " + e.Err.Error()
		}
		return string(e.Code) + ": " + e.Message
	}
	return err.Error()
}
