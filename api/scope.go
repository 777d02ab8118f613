package api

import (
	"net/http"
	"slices"

	"github.com/gin-gonic/gin"

	"github.com/reliquary/reliquary/internal/library"
)

// Product scope beyond the :product path parameter (DESIGN §8 "Scope").

// requireUnscoped answers 403 unless the caller's token is unscoped.
func requireUnscoped(c *gin.Context, why string) bool {
	if pr := principal(c); len(pr.Products) > 0 {
		writeError(c, http.StatusForbidden, CodeForbidden, "this token is scoped to products; "+why+": it needs an unscoped token",
			map[string]any{"products": pr.Products})
		return false
	}
	return true
}

// baselineInScope reports whether every member product is in the scope.
func baselineInScope(pr library.Principal, products []string) bool {
	return !slices.ContainsFunc(products, func(p string) bool { return !pr.CanAccess(p) })
}
