package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/netip"
	"strings"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/signupguard/signupguard/service"
)

// errRejected is check's answer "the service would refuse this"; main exits
// 1 for it and 2 for any other error of check.
var errRejected = errors.New("rejected")

// checkFailed marks an error that kept check from reaching a verdict.
type checkFailed struct{ err error }

func (e checkFailed) Error() string { return e.err.Error() }
func (e checkFailed) Unwrap() error { return e.err }

// check prints the verdict serve would give target (an IP or an address)
// and why, built by the same wire as serve from the same settings and
// database.
func check(ctx context.Context, cfg Config, log *slog.Logger, args []string, stdout io.Writer) error {
	if len(args) != 1 || strings.TrimSpace(args[0]) == "" {
		return fmt.Errorf("%w: check takes one IP address or e-mail address", errUsage)
	}
	target := strings.TrimSpace(args[0])
	db, err := openDB(ctx, cfg)
	if err != nil {
		return checkFailed{err}
	}
	defer db.Close()
	// A throwaway registry: check serves no metrics, but the parts register theirs.
	p, err := wire(ctx, cfg, db, log, prometheus.NewRegistry())
	if err != nil {
		return checkFailed{err}
	}
	defer p.close()
	var req service.Request
	if ip, err := netip.ParseAddr(target); err == nil {
		req.Client = ip.Unmap().WithZone("")
	} else {
		req.Email = target
	}
	findings, err := p.signup.Check(ctx, req)
	fmt.Fprintf(stdout, "check %s\n", target)
	for _, f := range findings {
		fmt.Fprintf(stdout, "  %-11s %s\n", f.Step, f.Detail)
	}
	if len(findings) == 0 {
		fmt.Fprintln(stdout, "  (no check applies: nothing is configured for this kind of input)")
	}
	switch code := service.ErrorCode(err); {
	case err == nil:
		fmt.Fprintln(stdout, "accept")
		return nil
	case code == "":
		fmt.Fprintf(stdout, "error: %v\n", err)
		return checkFailed{err}
	case code == service.CodeUnavailable:
		fmt.Fprintln(stdout, "error: unavailable (temporary; serve would answer 503)")
		return checkFailed{err}
	default:
		fmt.Fprintf(stdout, "reject: %s\n", code)
		return errRejected
	}
}
