package api

import (
	"github.com/gin-gonic/gin"

	"github.com/reliquary/reliquary/internal/library"
)

// normalizeVersionParam accepts the "v" prefix CI tags carry in a path's
// {version} (v1.4.0 → 1.4.0) before any handler reads it.
func normalizeVersionParam(c *gin.Context) {
	for i := range c.Params {
		if c.Params[i].Key == "version" {
			c.Params[i].Value = library.NormalizeVersionInput(c.Params[i].Value)
		}
	}
	c.Next()
}
