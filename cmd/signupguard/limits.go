package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/signupguard/signupguard/api"
	"github.com/signupguard/signupguard/service"
	"github.com/signupguard/signupguard/service/disposable"
	"github.com/signupguard/signupguard/service/limit"
)

// redisPrefix starts every key signupguard keeps in Redis.
const redisPrefix = "signupguard:limit:"

// limiter is what serve needs of a limit.Memory or limit.Redis: the
// pipeline's Limiter, and bans for /admin/bans.
type limiter interface {
	service.Limiter
	Bans(ctx context.Context) ([]limit.Ban, error)
	Lift(ctx context.Context, key string) error
}

// limitConfig turns the settings into the limiter's configuration.
func limitConfig(cfg Config) limit.Config {
	c := limit.Config{
		Client:       cfg.RateLimit,
		Network:      cfg.NetworkRateLimit,
		Global:       cfg.GlobalRateLimit,
		Strikes:      cfg.BanStrikes,
		StrikeWindow: cfg.BanWindow,
		BanTime:      cfg.BanTime,
		MaxBanTime:   cfg.BanMaxTime,
		MaxKeys:      cfg.LimitKeys,
	}
	if !c.Client.IsZero() {
		c.Client.Burst = cfg.RateBurst
	}
	return c
}

// newLimiter returns the limiter cfg asks for: shared through Redis when
// REDIS_URL is set, else in process. With Redis it also returns a soft
// readiness check (Redis down degrades, never fails, readiness) and a
// function to close the client.
func newLimiter(ctx context.Context, cfg Config, log *slog.Logger, reg prometheus.Registerer) (limiter, []api.Check, func(), error) {
	lc := limitConfig(cfg)
	if cfg.RedisURL == "" {
		m, err := limit.NewMemory(lc, log, reg)
		return m, nil, func() {}, err
	}
	client, err := limit.DialRedis(cfg.RedisURL, 0)
	if err != nil {
		return nil, nil, nil, err
	}
	r, err := limit.NewRedis(lc, client, redisPrefix, log, reg)
	if err != nil {
		client.Close()
		return nil, nil, nil, err
	}
	// Asked now so that an unreachable Redis is logged at start; serving
	// goes on in process.
	r.Check(ctx)
	return r, []api.Check{{Name: "redis", Check: r.Check, Soft: true}}, func() { client.Close() }, nil
}

// newDisposable returns the disposable-domain check, or nil when
// SIGNUPGUARD_DISPOSABLE is false.
func newDisposable(cfg Config, log *slog.Logger) (service.DomainChecker, error) {
	if !cfg.Disposable {
		return nil, nil
	}
	var extra io.Reader
	if cfg.DisposableFile != "" {
		f, err := os.Open(cfg.DisposableFile)
		if err != nil {
			return nil, fmt.Errorf("SIGNUPGUARD_DISPOSABLE_FILE: %w", err)
		}
		defer f.Close()
		extra = f
	}
	l, err := disposable.New(extra)
	if err != nil {
		return nil, fmt.Errorf("SIGNUPGUARD_DISPOSABLE_FILE %s: %w", cfg.DisposableFile, err)
	}
	log.Info("disposable domains loaded", "domains", l.Len(), "file", cfg.DisposableFile)
	return l, nil
}
