package api

import (
	"log/slog"

	"github.com/gin-gonic/gin"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/signupguard/signupguard/service"
)

// addRoutes registers every route signupguard serves.
func addRoutes(r *gin.Engine, log *slog.Logger, signup *service.Signup, cfg Config, ready []Check, admin Admin, reg *prometheus.Registry) {
	allowed := newOrigins(cfg.CORSOrigins)
	// Without a token, /admin/ does not exist: every path is a 404. With
	// one, every /admin/ path, known or not, first needs the token, so an
	// unauthenticated client learns nothing of which routes exist.
	if cfg.AdminToken != "" {
		r.Use(requireToken(log, cfg.AdminToken))
	}
	r.POST("/subscribe", cors(allowed), handleSubscribe(log, signup, cfg, allowed))
	r.OPTIONS("/subscribe", cors(allowed))
	r.GET("/signupguard.js", handleScript())
	r.GET("/healthz", handleHealthz())
	r.GET("/readyz", handleReadyz(ready))
	r.GET("/metrics", gin.WrapH(promhttp.HandlerFor(reg, promhttp.HandlerOpts{Registry: reg})))
	r.GET("/openapi.yaml", handleOpenAPI())
	if cfg.AdminToken != "" {
		g := r.Group("/admin")
		if admin.Sources != nil {
			g.GET("/blocklists", handleSources(log, admin.Sources))
		}
		if admin.Reload != nil {
			g.POST("/blocklists/reload", handleReload(log, admin.Reload))
		}
		if admin.IPs != nil {
			g.GET("/ip/:ip", handleIP(log, admin.IPs))
		}
		if admin.Bans != nil {
			g.GET("/bans", handleBans(log, admin.Bans))
			g.DELETE("/bans/*key", handleLift(log, admin.Bans))
		}
		g.GET("/debug/pprof/:name", handleProfile(log))
	}
	r.NoRoute(func(c *gin.Context) {
		writeError(c, log, service.Errorf(codeNotFound, "No such page."))
	})
	r.NoMethod(func(c *gin.Context) {
		writeError(c, log, service.Errorf(codeMethodNotAllowed, "That method is not allowed here."))
	})
}
