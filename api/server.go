// Package api is signupguard's HTTP layer on gin: routes, handlers,
// middleware and the one table that turns service error codes into statuses.
// It is the only package that imports gin.
package api

import (
	"context"
	"log/slog"
	"net/http"
	"net/netip"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/signupguard/signupguard/service"
)

// Config holds the HTTP layer's settings.
type Config struct {
	// RevealDuplicates answers 201 for a new address and 200 for a known
	// one; otherwise both get the same 202, so nobody can probe who is
	// subscribed.
	RevealDuplicates bool
	// HoneypotField names the hidden form field that bots fill; empty
	// means "website".
	HoneypotField string
	// TrustedProxies are the proxies whose X-Forwarded-For is believed;
	// with none, the client is the TCP peer. See clientIP.
	TrustedProxies []netip.Prefix
	// AdminToken is the bearer token of /admin/; empty turns /admin/ off.
	AdminToken string
	// CORSOrigins are the websites (scheme://host[:port]) whose pages may
	// post from a browser and read the answer, and which a plain form post
	// may be redirected back to.
	CORSOrigins []string
}

// Check is one readiness condition: nil when ready, else the reason.
type Check struct {
	Name  string
	Check func(ctx context.Context) error
	// Soft checks name a part the service works without, less well (Redis:
	// limits become per instance). A failed one is reported under
	// "degraded" and does not fail readiness.
	Soft bool
}

// NewServer returns the HTTP handler of signupguard. admin holds the parts
// /admin/ exposes when cfg.AdminToken is set. The HTTP metrics are
// registered on reg, and everything on reg is served at /metrics.
func NewServer(log *slog.Logger, signup *service.Signup, cfg Config, ready []Check, admin Admin, reg *prometheus.Registry) http.Handler {
	gin.SetMode(gin.ReleaseMode)
	r := gin.New()
	// gin.New trusts every proxy's X-Forwarded-For; the client IP is
	// decided by withClientIP instead, so trust none here.
	if err := r.SetTrustedProxies(nil); err != nil {
		panic(err) // nil is always accepted
	}
	r.ForwardedByClientIP = false
	r.HandleMethodNotAllowed = true
	r.Use(recoverer(log), logRequests(log, newMetrics(reg)), withClientIP(cfg.TrustedProxies))
	addRoutes(r, log, signup, cfg, ready, admin, reg)
	return r
}

// NewHTTPServer returns a server for h with timeouts against slow clients:
// gin's Run uses none, so one slow client could hold a connection forever.
func NewHTTPServer(addr string, h http.Handler, log *slog.Logger) *http.Server {
	return &http.Server{
		Addr:              addr,
		Handler:           h,
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       10 * time.Second,
		WriteTimeout:      15 * time.Second,
		IdleTimeout:       60 * time.Second,
		MaxHeaderBytes:    16 << 10,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
}
