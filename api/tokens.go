package api

import (
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/reliquary/reliquary/api/wire"
	"github.com/reliquary/reliquary/internal/library"
)

// TokenView is a token as the API shows it: never its secret or hash.
type TokenView = wire.Token

func tokenView(t *library.Token) TokenView { return wireToken(t) }

func (s *Server) createToken(c *gin.Context) {
	var in library.TokenInput
	if !decodeJSON(c, &in) {
		return
	}
	pr := principal(c)
	// A scoped admin can hand out only what it has.
	if len(pr.Products) > 0 {
		if len(in.Products) == 0 {
			writeError(c, http.StatusForbidden, CodeForbidden, "a product-scoped token cannot create an unscoped token", nil)
			return
		}
		for _, p := range in.Products {
			if !pr.CanAccess(p) {
				writeError(c, http.StatusForbidden, CodeForbidden, "this token is not scoped to product "+p, map[string]any{"product": p})
				return
			}
		}
	}
	t, secret, err := s.lib.CreateToken(c, pr, in)
	if err != nil {
		fail(c, err)
		return
	}
	v := tokenView(t)
	v.Secret, v.Token = secret, secret
	c.JSON(http.StatusCreated, v)
}

// TokenList is the answer of GET /tokens.
type TokenList = wire.TokenList

func (s *Server) listTokens(c *gin.Context) {
	list, err := s.lib.Tokens(c)
	if err != nil {
		fail(c, err)
		return
	}
	pr := principal(c)
	out := TokenList{Tokens: []TokenView{}}
	for _, t := range list {
		if withinScope(pr, t) {
			out.Tokens = append(out.Tokens, tokenView(t))
		}
	}
	c.JSON(http.StatusOK, out)
}

// withinScope reports whether a product-scoped admin may see or revoke a
// token: only tokens confined to products of its own scope.
func withinScope(pr library.Principal, t *library.Token) bool {
	if len(pr.Products) == 0 {
		return true
	}
	if len(t.Products) == 0 {
		return false
	}
	for _, p := range t.Products {
		if !pr.CanAccess(p) {
			return false
		}
	}
	return true
}

func (s *Server) revokeToken(c *gin.Context) {
	pr := principal(c)
	if len(pr.Products) > 0 {
		list, err := s.lib.Tokens(c)
		if err != nil {
			fail(c, err)
			return
		}
		for _, t := range list {
			if t.ID == c.Param("id") && !withinScope(pr, t) {
				writeError(c, http.StatusForbidden, CodeForbidden, "a product-scoped token cannot revoke a token outside its scope", nil)
				return
			}
		}
	}
	if err := s.lib.RevokeToken(c, pr, c.Param("id")); err != nil {
		fail(c, err)
		return
	}
	c.Status(http.StatusNoContent)
}
