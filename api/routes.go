package api

import (
	"log/slog"
	"net/http"

	"github.com/gin-gonic/gin"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/signupguard/signupguard/service"
)

// addRoutes registers every route signupguard serves.
func addRoutes(r *gin.Engine, log *slog.Logger, signup *service.Signup, cfg Config, ready []Check, reg *prometheus.Registry) {
	r.POST("/subscribe", handleSubscribe(log, signup, cfg))
	r.GET("/healthz", handleHealthz())
	r.GET("/readyz", handleReadyz(ready))
	r.GET("/metrics", gin.WrapH(promhttp.HandlerFor(reg, promhttp.HandlerOpts{Registry: reg})))
	r.NoRoute(func(c *gin.Context) {
		c.AbortWithStatusJSON(http.StatusNotFound, errorBody{Error: errorDetail{Code: "not_found", Message: "No such page."}})
	})
	r.NoMethod(func(c *gin.Context) {
		c.AbortWithStatusJSON(http.StatusMethodNotAllowed, errorBody{Error: errorDetail{Code: "method_not_allowed", Message: "That method is not allowed here."}})
	})
}
