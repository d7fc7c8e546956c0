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

// handleSubscribe serves POST /subscribe: media type, client checks, decode,
// then the rest of the service pipeline.
// A browser's plain form post (isBrowserForm) is answered with a redirect or
// a page instead of JSON.
func handleSubscribe(log *slog.Logger, signup *service.Signup, cfg Config, allowed origins) gin.HandlerFunc {
	return func(c *gin.Context) {
		mt, mtErr := mediaType(c.Request)
		browser := isBrowserForm(c.Request, mt)
		var redirect string
		fail := func(err error) {
			if browser {
				formError(c, log, allowed, redirect, err)
				return
			}
			writeError(c, log, err)
		}
		if mtErr != nil {
			fail(mtErr)
			return
		}
		// The client is admitted (blocklists, limits, bans) before its body
		// is read or parsed: a listed or banned client costs no more.
		adm, err := signup.Admit(c.Request.Context(), clientOf(c))
		if err != nil {
			fail(err)
			return
		}
		body, err := readBody(c.Request)
		if err != nil {
			fail(err)
			return
		}
		f, err := decodeSignup(mt, body, cfg.HoneypotField)
		if err != nil {
			fail(err)
			return
		}
		redirect = f.Redirect
		c.Set(ctxEmail, f.Email)
		v, err := signup.Subscribe(c.Request.Context(), adm, service.Request{
			Email:    f.Email,
			List:     f.List,
			Name:     f.Name,
			Honeypot: f.Website,
		})
		if err != nil {
			fail(err)
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
		if browser {
			msg := "Thank you: " + v.Email + " is signed up."
			if resp.Status == "already_subscribed" {
				msg = "Thank you: " + v.Email + " was already signed up."
			}
			formAnswer(c, allowed, redirect, status, resp.Status, msg)
			return
		}
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
