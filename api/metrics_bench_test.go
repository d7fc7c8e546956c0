package api

import (
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/gin-gonic/gin"
	"github.com/prometheus/client_golang/prometheus"
)

// BenchmarkRequestOverhead measures what the middleware (request log,
// metrics, client IP, recoverer) adds to a request: "bare" is the same
// handler on a gin engine without it, the baseline.
func BenchmarkRequestOverhead(b *testing.B) {
	gin.SetMode(gin.ReleaseMode)
	bare := gin.New()
	bare.GET("/healthz", handleHealthz())
	full := NewServer(slog.New(slog.NewJSONHandler(io.Discard, nil)), nil, Config{}, nil, Admin{}, prometheus.NewRegistry())
	for _, bb := range []struct {
		name string
		h    http.Handler
	}{{"bare", bare}, {"full", full}} {
		b.Run(bb.name, func(b *testing.B) {
			req := httptest.NewRequest("GET", "/healthz", nil)
			req.RemoteAddr = "192.0.2.10:4321"
			b.ReportAllocs()
			for b.Loop() {
				w := httptest.NewRecorder()
				bb.h.ServeHTTP(w, req)
				if w.Code != http.StatusOK {
					b.Fatal(w.Code)
				}
			}
		})
	}
}
