package main

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"os"

	"github.com/gin-gonic/gin"
)

// serveBaseline is the bare gin handler every figure is compared with: it
// reads the body and answers a small JSON document, as /subscribe does, and
// nothing else. It runs in a process of its own, like the service, so both
// compete with the load generator for the same cores.
func serveBaseline() error {
	gin.SetMode(gin.ReleaseMode)
	r := gin.New()
	r.POST("/subscribe", func(c *gin.Context) {
		if _, err := io.Copy(io.Discard, http.MaxBytesReader(c.Writer, c.Request.Body, 16<<10)); err != nil {
			c.AbortWithStatus(http.StatusRequestEntityTooLarge)
			return
		}
		c.JSON(http.StatusAccepted, gin.H{"status": "accepted"})
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	fmt.Fprintln(os.Stdout, ln.Addr().String())
	return http.Serve(ln, r)
}
