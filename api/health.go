package api

import (
	"context"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"
)

// readyTimeout bounds all readiness checks together.
const readyTimeout = 2 * time.Second

func handleHealthz() gin.HandlerFunc {
	return func(c *gin.Context) {
		c.JSON(http.StatusOK, gin.H{"status": "ok"})
	}
}

// handleReadyz answers 200 when every check passes, else 503 naming each
// failed check and why. Failed soft checks are named under "degraded"
// and leave the answer 200.
func handleReadyz(checks []Check) gin.HandlerFunc {
	return func(c *gin.Context) {
		ctx, cancel := context.WithTimeout(c.Request.Context(), readyTimeout)
		defer cancel()
		failed, degraded := map[string]string{}, map[string]string{}
		for _, ch := range checks {
			if err := ch.Check(ctx); err != nil && ch.Soft {
				degraded[ch.Name] = err.Error()
			} else if err != nil {
				failed[ch.Name] = err.Error()
			}
		}
		body := gin.H{"status": "ready"}
		if len(degraded) > 0 {
			body["degraded"] = degraded
		}
		if len(failed) > 0 {
			body["status"], body["failed"] = "unavailable", failed
			c.Header("Retry-After", retryAfter(defaultRetryAfter))
			c.JSON(http.StatusServiceUnavailable, body)
			return
		}
		c.JSON(http.StatusOK, body)
	}
}
