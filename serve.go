package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/signupguard/signupguard/api"
	"github.com/signupguard/signupguard/blocklist"
	"github.com/signupguard/signupguard/service"
	"github.com/signupguard/signupguard/service/mx"
	"github.com/signupguard/signupguard/sql"
)

// openDB connects to DATABASE_URL.
func openDB(ctx context.Context, cfg Config) (*sql.DB, error) {
	if cfg.DatabaseURL == "" {
		return nil, fmt.Errorf("DATABASE_URL is not set (scripts/run starts a local Postgres for you)")
	}
	return sql.Open(ctx, cfg.DatabaseURL)
}

func migrate(ctx context.Context, cfg Config, log *slog.Logger) error {
	db, err := openDB(ctx, cfg)
	if err != nil {
		return err
	}
	defer db.Close()
	if err := db.Migrate(ctx); err != nil {
		return err
	}
	log.Info("migrations applied")
	return nil
}

// serve runs the HTTP API until ctx is cancelled (SIGTERM), then stops
// accepting, lets in-flight requests finish and returns nil.
func serve(ctx context.Context, cfg Config, log *slog.Logger) error {
	db, err := openDB(ctx, cfg)
	if err != nil {
		return err
	}
	defer db.Close()
	if err := db.Migrate(ctx); err != nil {
		return err
	}

	// One registry per serve, not the global one: tests run several.
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))

	var verifier service.MXVerifier // nil: no MX step
	if cfg.VerifyMX {
		v, err := mx.New(mx.Config{Servers: cfg.DNSServers}, reg)
		if err != nil {
			return err
		}
		verifier = v
	}
	lim, limitChecks, closeLimiter, err := newLimiter(ctx, cfg, log, reg)
	if err != nil {
		return err
	}
	defer closeLimiter()
	disposable, err := newDisposable(cfg, log)
	if err != nil {
		return err
	}
	// Readers use lists through a Live, which swaps in each new Set
	// atomically; startBlocklists keeps it current.
	lists := new(blocklist.Live)
	bl, err := startBlocklists(ctx, cfg, db, lists, reg, log)
	if err != nil {
		return err
	}
	defer bl.stop()

	signup := service.NewSignup(db, lists, lim, disposable, verifier, service.Config{
		Lists:            cfg.Lists,
		MXTimeout:        cfg.MXTimeout,
		AcceptMXTempfail: cfg.AcceptMXTempfail,
	})
	ready := append([]api.Check{{Name: "postgres", Check: db.Ping}, {Name: "blocklists", Check: lists.Ready}}, limitChecks...)
	handler := api.NewServer(log, signup, api.Config{RevealDuplicates: cfg.RevealDuplicates, HoneypotField: cfg.HoneypotField, TrustedProxies: cfg.TrustedProxies}, ready, reg)

	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	srv := api.NewHTTPServer(cfg.Listen, handler, log)
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	log.Info("listening", "addr", ln.Addr().String())

	select {
	case err := <-errc:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	log.Info("shutting down", "timeout", cfg.ShutdownTimeout.String())
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cfg.ShutdownTimeout)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	if err := <-errc; !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("serve: %w", err)
	}
	log.Info("stopped")
	return nil
}
