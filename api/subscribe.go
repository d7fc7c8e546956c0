package api

import (
	"log/slog"
	"net/http"

	"github.com/gin-gonic/gin"
	"github.com/signupguard/signupguard/service"
)

// subscribeResponse is the answer to a signup that was not refused.
type subscribeResponse struct {
	Status string `json:"status"`
	Email  string `json:"email"`
}

// handleSubscribe serves POST /subscribe: decode, then the service pipeline.
func handleSubscribe(log *slog.Logger, signup *service.Signup, cfg Config) gin.HandlerFunc {
	return func(c *gin.Context) {
		mt, body, err := readBody(c.Request)
		if err != nil {
			writeError(c, log, err)
			return
		}
		f, err := decodeSignup(mt, body, cfg.HoneypotField)
		if err != nil {
			writeError(c, log, err)
			return
		}
		c.Set(ctxEmail, f.Email)
		v, err := signup.Subscribe(c.Request.Context(), service.Request{
			Client:   clientOf(c),
			Email:    f.Email,
			List:     f.List,
			Name:     f.Name,
			Honeypot: f.Website,
		})
		if err != nil {
			writeError(c, log, err)
			return
		}
		status, resp := http.StatusAccepted, subscribeResponse{Status: "accepted", Email: v.Email}
		if cfg.RevealDuplicates {
			status, resp.Status = http.StatusCreated, "subscribed"
			if v.Outcome == service.Duplicate {
				status, resp.Status = http.StatusOK, "already_subscribed"
			}
		}
		c.Set(ctxOutcome, outcomeName(v.Outcome))
		c.JSON(status, resp)
	}
}

// outcomeName names an outcome in logs and metrics.
func outcomeName(o service.Outcome) string {
	switch o {
	case service.Created:
		return "created"
	case service.Duplicate:
		return "duplicate"
	case service.Trapped:
		return "honeypot"
	}
	return "unknown"
}
