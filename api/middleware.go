package api

import (
	"crypto/rand"
	"encoding/hex"
	"log/slog"
	"net/http"
	"net/netip"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/gin-gonic/gin"
)

// Keys of values handlers leave in the gin context for the request log.
const (
	ctxOutcome = "signupguard.outcome"
	ctxEmail   = "signupguard.email"
)

// recoverer turns a panic into a logged 503: no input may yield a 500 or a
// stack trace on the wire.
func recoverer(log *slog.Logger) gin.HandlerFunc {
	return func(c *gin.Context) {
		defer func() {
			if p := recover(); p != nil {
				if p == http.ErrAbortHandler {
					panic(p)
				}
				log.ErrorContext(c.Request.Context(), "panic", "panic", p, "path", c.Request.URL.Path)
				writeError(c, log, errOurFault)
			}
		}()
		c.Next()
	}
}

// logRequests writes one line per request and counts it in m. Addresses are
// masked and client IPs cut to their network: logs are kept longer than they
// should hold personal data. Values are JSON strings, so a CR or LF a client
// sends is escaped and cannot forge a line.
func logRequests(log *slog.Logger, m *metrics) gin.HandlerFunc {
	return func(c *gin.Context) {
		start := time.Now()
		id := newRequestID()
		c.Header("X-Request-Id", id)
		c.Next()
		elapsed := time.Since(start)
		m.observe(c, elapsed)
		attrs := []slog.Attr{
			slog.String("id", id),
			slog.String("method", c.Request.Method),
			slog.String("route", c.FullPath()),
			slog.Int("status", c.Writer.Status()),
			slog.String("outcome", c.GetString(ctxOutcome)),
			slog.Float64("latency_ms", float64(elapsed.Microseconds())/1000),
			slog.String("client", clientPrefix(clientOf(c))),
		}
		if e := c.GetString(ctxEmail); e != "" {
			attrs = append(attrs, slog.String("email", maskEmail(e)))
		}
		log.LogAttrs(c.Request.Context(), slog.LevelInfo, "request", attrs...)
	}
}

func newRequestID() string {
	var b [8]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// maskEmail keeps the first character of the local part and the domain:
// enough to follow a problem with one provider, not enough to name anyone.
func maskEmail(s string) string {
	s = strings.TrimSpace(s)
	at := strings.LastIndexByte(s, '@')
	if at <= 0 {
		return "***"
	}
	_, n := utf8.DecodeRuneInString(s)
	return s[:n] + "***@" + s[at+1:]
}

// clientPrefix returns ip's /24 (IPv4) or /48 (IPv6) for logs.
func clientPrefix(ip netip.Addr) string {
	bits := 48
	if ip.Is4() {
		bits = 24
	}
	p, err := ip.Prefix(bits)
	if err != nil {
		return "unknown"
	}
	return p.String()
}
