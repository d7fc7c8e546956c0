package service

import (
	"errors"
	"fmt"
	"time"
)

// Code says why a request was refused. Values are API error codes: renaming
// one breaks clients.
type Code string

const (
	CodeInvalidRequest Code = "invalid_request"      // the body is malformed or lacks the address
	CodeBlockedIP      Code = "blocked_ip"           // the client's IP is on a blocklist
	CodeInvalidEmail   Code = "invalid_email"        // the address breaks the syntax rules of ParseAddress
	CodeUndeliverable  Code = "undeliverable_domain" // the domain cannot receive mail (MXVerifier)
	CodeDisposable     Code = "disposable_email"     // the domain is a disposable-mail provider's
	CodeUnknownList    Code = "unknown_list"         // no newsletter list has that name
	CodeRateLimited    Code = "rate_limited"         // over a rate limit, or banned; see RetryAfter
	CodeUnavailable    Code = "unavailable"          // DNS or Postgres failed; retry later
)

// Codes returns every Code, so the HTTP layer can prove it maps each one.
func Codes() []Code {
	return []Code{
		CodeInvalidRequest, CodeBlockedIP, CodeInvalidEmail, CodeUndeliverable,
		CodeDisposable, CodeUnknownList, CodeRateLimited, CodeUnavailable,
	}
}

// Error is a refusal. Message is safe to show the user; Err is the cause, for
// logs only.
type Error struct {
	Code       Code
	Message    string
	RetryAfter time.Duration // zero: no Retry-After advice
	Err        error
}

func (e *Error) Error() string {
	if e.Err != nil {
		return fmt.Sprintf("%s: %s: %v", e.Code, e.Message, e.Err)
	}
	return fmt.Sprintf("%s: %s", e.Code, e.Message)
}

func (e *Error) Unwrap() error { return e.Err }

// Errorf returns an *Error with a formatted user-facing message.
func Errorf(code Code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// ErrorCode returns the Code of the first *Error in err's chain, or "" when
// err is nil or carries none (our fault, not the client's).
func ErrorCode(err error) Code {
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return ""
}
