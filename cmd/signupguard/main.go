// Command signupguard protects newsletter signup forms: it turns away known
// spammer IPs, floods, bots and undeliverable addresses, and stores each real
// address once in Postgres. Run "signupguard --help" for commands and
// settings.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
)

const usage = `signupguard protects newsletter signup forms.

Usage:
  signupguard serve     run the HTTP API (applies pending migrations first)
  signupguard migrate   apply pending migrations and exit
  signupguard refresh   fetch every blocklist source once and store what passes
                        the guards; exit 1 when any source failed (for cron)
  signupguard check IP-OR-EMAIL
                        print the verdict serve would give and why;
                        exit 0 accept, 1 reject, 2 error

Every setting is an environment variable:

`

// errUsage marks a command-line mistake; main exits 2 for it.
var errUsage = errors.New("usage")

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args, os.Getenv, os.Stdout, os.Stderr)
	stop()
	if err != nil {
		if !errors.Is(err, errRejected) { // check has printed why
			fmt.Fprintln(os.Stderr, "signupguard:", err)
		}
		os.Exit(exitCode(err))
	}
}

// exitCode is the process's exit status for run's error: 0 for none, 2 for
// a usage error or a check that refuses, 1 for anything else.
func exitCode(err error) int {
	if err == nil {
		return 0
	}
	var failed checkFailed
	if errors.Is(err, errUsage) || errors.As(err, &failed) {
		return 2
	}
	return 1
}

// run is the whole program with its inputs passed in, so tests can call it.
func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	if len(args) < 2 {
		io.WriteString(stderr, usage)
		writeSettings(stderr)
		return fmt.Errorf("%w: no command given", errUsage)
	}
	switch args[1] {
	case "-h", "-help", "--help", "help":
		io.WriteString(stdout, usage)
		writeSettings(stdout)
		return nil
	}
	cfg, err := loadConfig(getenv)
	if err != nil {
		if args[1] == "check" {
			return checkFailed{err}
		}
		return err
	}
	log := newLogger(stderr, cfg.LogLevel)
	switch args[1] {
	case "serve":
		return serve(ctx, cfg, log)
	case "migrate":
		return migrate(ctx, cfg, log)
	case "refresh":
		return refresh(ctx, cfg, stdout)
	case "check":
		return check(ctx, cfg, log, args[2:], stdout)
	}
	return fmt.Errorf("%w: unknown command %q (try --help)", errUsage, args[1])
}

func newLogger(w io.Writer, level string) *slog.Logger {
	var l slog.Level
	l.UnmarshalText([]byte(level)) // loadConfig has checked it
	return slog.New(slog.NewJSONHandler(w, &slog.HandlerOptions{Level: l}))
}
