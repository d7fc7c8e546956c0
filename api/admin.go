package api

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"log/slog"
	"net/http"
	"net/netip"
	"strings"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/signupguard/signupguard/service"
)

// Admin holds the parts the /admin/ routes expose. The routes are served
// only when Config.AdminToken is set; a nil part leaves its routes out, so
// they answer 404 like any unknown path.
type Admin struct {
	Sources SourceLister // GET /admin/blocklists
	IPs     IPMatcher    // GET /admin/ip/{ip}
	Reload  Reloader     // POST /admin/blocklists/reload
	Bans    BanKeeper    // GET /admin/bans, DELETE /admin/bans/{key}
}

// SourceLister describes the configured blocklist sources.
type SourceLister interface {
	Sources(ctx context.Context) ([]Source, error)
}

// Source is one blocklist source as an operator sees it.
type Source struct {
	Name        string    `json:"name"`
	Location    string    `json:"location,omitempty"`    // URL or file it is fetched from
	Entries     int       `json:"entries"`               // prefixes in force
	FetchedAt   time.Time `json:"fetched_at,omitzero"`   // when the copy in force was downloaded; zero: none
	LastRefresh time.Time `json:"last_refresh,omitzero"` // last successful check; zero: never
	LastError   string    `json:"last_error,omitempty"`  // why the last check failed; empty when it succeeded
}

// IPMatcher names every source and prefix listing an IP, not only the
// first one the pipeline stops at, and reports whether the allowlist
// covers it (then it is never blocked, listed or not).
type IPMatcher interface {
	Matches(ip netip.Addr) (matches []Match, allowlisted bool)
}

// ipReport is the answer of GET /admin/ip/{ip}.
type ipReport struct {
	IP          netip.Addr `json:"ip"`
	Listed      bool       `json:"listed"`      // some source lists it
	Allowlisted bool       `json:"allowlisted"` // SIGNUPGUARD_ALLOWLIST covers it
	Blocked     bool       `json:"blocked"`     // listed and not allowlisted: /subscribe answers 403
	Matches     []Match    `json:"matches"`
}

// Match is one source listing an IP.
type Match struct {
	Source string       `json:"source"`
	Prefix netip.Prefix `json:"prefix"`
}

// Reloader loads the stored blocklists now, as a refresh notification would.
type Reloader interface {
	Reload(ctx context.Context) error
}

// BanKeeper lists and lifts the limiter's bans.
type BanKeeper interface {
	Bans(ctx context.Context) ([]Ban, error)
	// Lift ends the ban on key. Lifting a key that is not banned is not an
	// error: DELETE is idempotent.
	Lift(ctx context.Context, key string) error
}

// Ban is a client the limiter turns away until a time.
type Ban struct {
	Key   string    `json:"key"`   // the client: an IPv4 address or an IPv6 /64
	Until time.Time `json:"until"` // when the ban ends
	Level int       `json:"level"` // 1 for a first ban; each repeat doubles its length
}

// requireToken refuses requests for /admin and below without
// "Authorization: Bearer <token>"; other paths pass. Both sides are hashed
// before the constant-time comparison, so neither the content nor the
// length of the token leaks through timing.
func requireToken(log *slog.Logger, token string) gin.HandlerFunc {
	want := sha256.Sum256([]byte(token))
	return func(c *gin.Context) {
		if p := c.Request.URL.Path; p != "/admin" && !strings.HasPrefix(p, "/admin/") {
			return
		}
		scheme, got, _ := strings.Cut(c.GetHeader("Authorization"), " ")
		sum := sha256.Sum256([]byte(got))
		if !strings.EqualFold(scheme, "Bearer") || subtle.ConstantTimeCompare(sum[:], want[:]) != 1 {
			c.Header("WWW-Authenticate", `Bearer realm="signupguard admin"`)
			writeError(c, log, service.Errorf(codeUnauthorized, "Send the admin token as a bearer token."))
		}
	}
}

func handleSources(log *slog.Logger, src SourceLister) gin.HandlerFunc {
	return func(c *gin.Context) {
		sources, err := src.Sources(c.Request.Context())
		if err != nil {
			writeError(c, log, err)
			return
		}
		if sources == nil {
			sources = []Source{}
		}
		c.JSON(http.StatusOK, gin.H{"sources": sources})
	}
}

func handleIP(log *slog.Logger, ips IPMatcher) gin.HandlerFunc {
	return func(c *gin.Context) {
		ip, err := netip.ParseAddr(c.Param("ip"))
		if err != nil || ip.Zone() != "" {
			writeError(c, log, service.Errorf(service.CodeInvalidRequest, "That is not an IP address."))
			return
		}
		ip = ip.Unmap()
		matches, allowed := ips.Matches(ip)
		if matches == nil {
			matches = []Match{}
		}
		c.JSON(http.StatusOK, ipReport{IP: ip, Listed: len(matches) > 0, Allowlisted: allowed, Blocked: len(matches) > 0 && !allowed, Matches: matches})
	}
}

func handleReload(log *slog.Logger, r Reloader) gin.HandlerFunc {
	return func(c *gin.Context) {
		if err := r.Reload(c.Request.Context()); err != nil {
			writeError(c, log, err)
			return
		}
		c.JSON(http.StatusOK, gin.H{"status": "reloaded"})
	}
}

func handleBans(log *slog.Logger, b BanKeeper) gin.HandlerFunc {
	return func(c *gin.Context) {
		bans, err := b.Bans(c.Request.Context())
		if err != nil {
			writeError(c, log, err)
			return
		}
		if bans == nil {
			bans = []Ban{}
		}
		c.JSON(http.StatusOK, gin.H{"bans": bans})
	}
}

// handleLift serves DELETE /admin/bans/*key. The key is a catch-all since
// keys such as an IPv6 /64 hold a slash.
func handleLift(log *slog.Logger, b BanKeeper) gin.HandlerFunc {
	return func(c *gin.Context) {
		key := strings.TrimPrefix(c.Param("key"), "/")
		if key == "" {
			writeError(c, log, service.Errorf(service.CodeInvalidRequest, "Name the ban to lift."))
			return
		}
		if err := b.Lift(c.Request.Context(), key); err != nil {
			writeError(c, log, err)
			return
		}
		c.Status(http.StatusNoContent)
	}
}
