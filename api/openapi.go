package api

import (
	_ "embed"
	"net/http"

	"github.com/gin-gonic/gin"
)

// OpenAPI is api/openapi.yaml, the API described in OpenAPI 3.1.
// TestOpenAPI validates real answers against it, so it cannot drift.
//
//go:embed openapi.yaml
var OpenAPI []byte

func handleOpenAPI() gin.HandlerFunc {
	return func(c *gin.Context) {
		c.Data(http.StatusOK, "application/yaml; charset=utf-8", OpenAPI)
	}
}
