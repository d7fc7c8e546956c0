package api

import (
	"bytes"
	"log/slog"
	"net/http"
	"runtime/pprof"
	"strconv"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/signupguard/signupguard/service"
)

// CPU profiles are bounded by the server's WriteTimeout (15 s): the answer
// is written only when the profile ends.
const (
	defaultProfileTime = 5 * time.Second
	maxProfileTime     = 10 * time.Second
)

// handleProfile serves GET /admin/debug/pprof/{name}: Go's runtime profiles
// in pprof's format, for `go tool pprof`. "profile" samples the CPU for
// ?seconds= (default 5, at most 10); the other names are runtime/pprof's
// (heap, goroutine, allocs, block, mutex, threadcreate). It is
// runtime/pprof served under the admin token rather than net/http/pprof,
// which registers itself on http.DefaultServeMux and serves /debug/pprof/.
func handleProfile(log *slog.Logger) gin.HandlerFunc {
	return func(c *gin.Context) {
		var buf bytes.Buffer
		name := c.Param("name")
		if name == "profile" {
			d, err := profileTime(c.Query("seconds"))
			if err != nil {
				writeError(c, log, err)
				return
			}
			if err := pprof.StartCPUProfile(&buf); err != nil {
				writeError(c, log, service.Errorf(service.CodeUnavailable, "A CPU profile is being taken already."))
				return
			}
			t := time.NewTimer(d)
			select {
			case <-t.C:
			case <-c.Request.Context().Done():
				t.Stop()
			}
			pprof.StopCPUProfile()
		} else {
			p := pprof.Lookup(name)
			if p == nil {
				writeError(c, log, service.Errorf(codeNotFound, "No such profile."))
				return
			}
			if err := p.WriteTo(&buf, 0); err != nil {
				writeError(c, log, err)
				return
			}
		}
		c.Header("Content-Disposition", `attachment; filename="`+name+`.pprof"`)
		c.Data(http.StatusOK, "application/octet-stream", buf.Bytes())
	}
}

// profileTime reads ?seconds= of a CPU profile.
func profileTime(v string) (time.Duration, error) {
	if v == "" {
		return defaultProfileTime, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 || time.Duration(n)*time.Second > maxProfileTime {
		return 0, service.Errorf(service.CodeInvalidRequest, "seconds must be a whole number from 1 to %d.", int(maxProfileTime/time.Second))
	}
	return time.Duration(n) * time.Second, nil
}
