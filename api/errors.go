package api

import (
	"errors"
	"log/slog"
	"math"
	"net/http"
	"strconv"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/signupguard/signupguard/service"
)

// Codes the HTTP layer refuses with itself, before the service sees a request.
const (
	codeTooLarge         service.Code = "payload_too_large"
	codeUnsupportedMedia service.Code = "unsupported_media_type"
	codeUnauthorized     service.Code = "unauthorized"
	codeNotFound         service.Code = "not_found"
	codeMethodNotAllowed service.Code = "method_not_allowed"
)

// statusOf is the only place a Code becomes an HTTP status.
// TestStatusOf fails if a Code lacks a row.
var statusOf = map[service.Code]int{
	service.CodeInvalidRequest: http.StatusBadRequest,
	service.CodeBlockedIP:      http.StatusForbidden,
	codeTooLarge:               http.StatusRequestEntityTooLarge,
	codeUnsupportedMedia:       http.StatusUnsupportedMediaType,
	codeUnauthorized:           http.StatusUnauthorized,
	codeNotFound:               http.StatusNotFound,
	codeMethodNotAllowed:       http.StatusMethodNotAllowed,
	service.CodeInvalidEmail:   http.StatusUnprocessableEntity,
	service.CodeUndeliverable:  http.StatusUnprocessableEntity,
	service.CodeDisposable:     http.StatusUnprocessableEntity,
	service.CodeUnknownList:    http.StatusUnprocessableEntity,
	service.CodeRateLimited:    http.StatusTooManyRequests,
	service.CodeUnavailable:    http.StatusServiceUnavailable,
}

// errOurFault answers what is our fault, not the client's: no input may
// yield a 500.
var errOurFault = &service.Error{Code: service.CodeUnavailable, Message: "Please try again shortly."}

// defaultRetryAfter is the advice for a 503 or 429 whose cause gave none.
const defaultRetryAfter = 5 * time.Second

// errorBody is the shape of every error answer.
type errorBody struct {
	Error errorDetail `json:"error"`
}

type errorDetail struct {
	Code    service.Code `json:"code"`
	Message string       `json:"message"`
}

// writeError answers err as JSON. An error without a Code is our fault, not
// the client's: it is logged in full and answered "unavailable", since no
// input may yield a 500.
func writeError(c *gin.Context, log *slog.Logger, err error) {
	status, e := classify(c, log, err)
	c.AbortWithStatusJSON(status, errorBody{Error: errorDetail{Code: e.Code, Message: e.Message}})
}

// classify returns the status and the *service.Error to answer err with,
// whatever the body's format. It sets Retry-After and the logged outcome.
func classify(c *gin.Context, log *slog.Logger, err error) (int, *service.Error) {
	var e *service.Error
	if !errors.As(err, &e) {
		log.ErrorContext(c.Request.Context(), "unclassified error", "err", err)
		e = errOurFault
	}
	status, ok := statusOf[e.Code]
	if !ok {
		log.ErrorContext(c.Request.Context(), "error code without a status", "code", e.Code, "err", err)
		status, e = http.StatusServiceUnavailable, errOurFault
	}
	if status == http.StatusTooManyRequests || status == http.StatusServiceUnavailable {
		c.Header("Retry-After", retryAfter(e.RetryAfter))
	}
	c.Set(ctxOutcome, string(e.Code))
	return status, e
}

// retryAfter renders d as whole seconds, rounded up, at least 1.
func retryAfter(d time.Duration) string {
	if d <= 0 {
		d = defaultRetryAfter
	}
	return strconv.Itoa(int(math.Ceil(d.Seconds())))
}
