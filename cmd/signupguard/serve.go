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

// openMigrated connects to DATABASE_URL and applies pending migrations:
// serve and refresh both do, since cron may run before any serve has
// migrated a new database.
func openMigrated(ctx context.Context, cfg Config) (*sql.DB, error) {
	db, err := openDB(ctx, cfg)
	if err != nil {
		return nil, err
	}
	if err := db.Migrate(ctx); err != nil {
		db.Close()
		return nil, err
	}
	return db, nil
}

func migrate(ctx context.Context, cfg Config, log *slog.Logger) error {
	db, err := openMigrated(ctx, cfg)
	if err != nil {
		return err
	}
	db.Close()
	log.Info("migrations applied")
	return nil
}

// parts are what wire builds from the settings: the pipeline, what
// /admin/ exposes, the readiness checks, and close, which releases them.
type parts struct {
	signup *service.Signup
	admin  api.Admin
	ready  []api.Check
	close  func()
}

// wire builds the signup pipeline and its parts from cfg. serve and check
// both call it, so check gives the verdict serve would. Capabilities
// register their metrics on reg. The blocklists are loaded before it
// returns and kept current in the background until close.
func wire(ctx context.Context, cfg Config, db *sql.DB, log *slog.Logger, reg prometheus.Registerer) (parts, error) {
	var verifier service.MXVerifier // nil: no MX step
	if cfg.VerifyMX {
		v, err := mx.New(mx.Config{Servers: cfg.DNSServers}, reg)
		if err != nil {
			return parts{}, err
		}
		verifier = v
	}
	lim, limitChecks, closeLimiter, err := newLimiter(ctx, cfg, log, reg)
	if err != nil {
		return parts{}, err
	}
	disposable, err := newDisposable(cfg, log)
	if err != nil {
		closeLimiter()
		return parts{}, err
	}
	// Readers use lists through a Live, which swaps in each new Set
	// atomically; startBlocklists keeps it current.
	lists := new(blocklist.Live)
	bl, err := startBlocklists(ctx, cfg, db, lists, reg, log)
	if err != nil {
		closeLimiter()
		return parts{}, err
	}
	var store service.Store = db
	closeStore := func() {}
	if cfg.Batch {
		b := sql.NewBatcher(db, sql.BatchConfig{Window: cfg.BatchWindow})
		store, closeStore = b, b.Close
	}
	signup := service.NewSignup(store, lists, lim, disposable, verifier, service.Config{
		Lists:            cfg.Lists,
		MXTimeout:        cfg.MXTimeout,
		AcceptMXTempfail: cfg.AcceptMXTempfail,
	})
	return parts{
		signup: signup,
		admin: api.Admin{
			Sources: storedSources{bl.stored},
			IPs:     liveMatcher{lists},
			Reload:  bl.reloader,
			Bans:    banKeeper{lim},
		},
		ready: append([]api.Check{{Name: "postgres", Check: db.Ping}, {Name: "blocklists", Check: lists.Ready}}, limitChecks...),
		// After the HTTP server has drained, so queued signups are written.
		close: func() { closeStore(); bl.stop(); closeLimiter() },
	}, nil
}

// serve runs the HTTP API until ctx is cancelled (SIGTERM), then stops
// accepting, lets in-flight requests finish and returns nil.
func serve(ctx context.Context, cfg Config, log *slog.Logger) error {
	db, err := openMigrated(ctx, cfg)
	if err != nil {
		return err
	}
	defer db.Close()

	// One registry per serve, not the global one: tests run several.
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))

	if err := db.RegisterMetrics(reg); err != nil {
		return err
	}

	p, err := wire(ctx, cfg, db, log, reg)
	if err != nil {
		return err
	}
	defer p.close()
	handler := api.NewServer(log, p.signup, api.Config{
		RevealDuplicates: cfg.RevealDuplicates,
		HoneypotField:    cfg.HoneypotField,
		TrustedProxies:   cfg.TrustedProxies,
		AdminToken:       cfg.AdminToken,
		CORSOrigins:      cfg.CORSOrigins,
	}, p.ready, p.admin, reg)

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
