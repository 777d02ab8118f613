package api

import (
	"encoding/json"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/reliquary/reliquary/internal/library"
)

func (s *Server) createProduct(c *gin.Context) {
	var in library.ProductInput
	if !decodeJSON(c, &in) {
		return
	}
	pr := principal(c)
	if !pr.CanAccess(in.Name) {
		writeError(c, http.StatusForbidden, CodeForbidden, "this token is not scoped to product "+in.Name, map[string]any{"product": in.Name})
		return
	}
	p, err := s.lib.CreateProduct(c, pr, in)
	if err != nil {
		fail(c, err)
		return
	}
	c.Header("Location", APIPrefix+"/products/"+p.Name)
	c.JSON(http.StatusCreated, p)
}

// ProductList is the answer of GET /products.
type ProductList struct {
	Products []*library.Product `json:"products"`
}

func (s *Server) listProducts(c *gin.Context) {
	list, err := s.lib.Products(c, principal(c))
	if err != nil {
		fail(c, err)
		return
	}
	c.JSON(http.StatusOK, ProductList{Products: nonNil(list)})
}

func (s *Server) getProduct(c *gin.Context) {
	p, err := s.lib.Product(c, c.Param("product"))
	if err != nil {
		fail(c, err)
		return
	}
	c.JSON(http.StatusOK, p)
}

func (s *Server) setPolicy(c *gin.Context) {
	var in library.PolicyInput
	if !decodeJSON(c, &in) {
		return
	}
	p, err := s.lib.SetPolicy(c, principal(c), c.Param("product"), in)
	if err != nil {
		fail(c, err)
		return
	}
	c.JSON(http.StatusOK, p)
}

func (s *Server) createRelease(c *gin.Context) {
	var in library.ReleaseInput
	if !decodeJSON(c, &in) {
		return
	}
	r, err := s.lib.CreateRelease(c, principal(c), c.Param("product"), in)
	if err != nil {
		fail(c, err)
		return
	}
	c.Header("Location", APIPrefix+"/products/"+r.Product+"/releases/"+r.Version)
	c.JSON(http.StatusCreated, r)
}

// ReleaseList is a page of GET /products/{p}/releases.
type ReleaseList struct {
	Releases   []*library.Release `json:"releases"`
	NextCursor string             `json:"next_cursor,omitempty"`
}

func (s *Server) listReleases(c *gin.Context) {
	limit, ok := queryInt(c, "limit", 100, library.MaxPage)
	if !ok {
		return
	}
	if limit == 0 {
		limit = 100
	}
	// The page (at most limit releases and MaxPageBytes of records) is
	// read and written in chunks of chunkBytes, each in its own short read
	// transaction, so a request holds little of it at a time.
	f := library.ReleaseFilter{
		State: library.State(c.Query("state")), Type: library.ReleaseType(c.Query("type")),
		Constraint: c.Query("constraint"), Label: c.Query("label"), Limit: limit, Cursor: c.Query("cursor"),
		MaxBytes: chunkBytes,
	}
	list, next, err := s.lib.Releases(c, c.Param("product"), f)
	if err != nil {
		fail(c, err)
		return
	}
	c.Header("Content-Type", "application/json; charset=utf-8")
	c.Status(http.StatusOK)
	w := c.Writer
	_, _ = w.WriteString(`{"releases":[`)
	count, written := 0, 0
	for {
		for _, r := range list {
			r.Artifacts = nil // listings stay small; GET the release for its artifacts
			b, err := json.Marshal(r)
			if err != nil {
				panic(http.ErrAbortHandler)
			}
			if count > 0 {
				_, _ = w.WriteString(",")
			}
			if _, err := w.Write(b); err != nil {
				return
			}
			count++
			written += len(b)
		}
		if next == "" || count >= limit || written >= MaxPageBytes-chunkBytes {
			break
		}
		f.Cursor, f.Limit = next, limit-count
		if list, next, err = s.lib.Releases(c, c.Param("product"), f); err != nil {
			s.log.Warn("release listing cut short", "err", err)
			panic(http.ErrAbortHandler)
		}
	}
	tail := "]"
	if next != "" {
		nc, _ := json.Marshal(next)
		tail += `,"next_cursor":` + string(nc)
	}
	_, _ = w.WriteString(tail + "}")
}

func (s *Server) getRelease(c *gin.Context) {
	r, err := s.lib.Release(c, c.Param("product"), c.Param("version"))
	if err != nil {
		fail(c, err)
		return
	}
	c.JSON(http.StatusOK, r)
}

// TokenView is a token as the API shows it: never its secret or hash.
type TokenView struct {
	ID        string    `json:"id"`
	Name      string    `json:"name"`
	Role      string    `json:"role"`
	Products  []string  `json:"products"`
	CreatedBy string    `json:"created_by"`
	CreatedAt time.Time `json:"created_at"`
	// Secret is set only in the answer to POST /tokens; Token carries the
	// same value for clients that look for it under that name.
	Secret string `json:"secret,omitempty"`
	Token  string `json:"token,omitempty"`
	// Lifetimes (DESIGN §11); null when the token never expires or was
	// never used.
	ExpiresAt  *time.Time         `json:"expires_at"`
	LastUsedAt *time.Time         `json:"last_used_at"`
	Versions   string             `json:"versions,omitempty"`
	OIDC       *library.TokenOIDC `json:"oidc,omitempty"`
}

func tokenView(t *library.Token) TokenView {
	return TokenView{ID: t.ID, Name: t.Name, Role: t.Role.String(), Products: nonNil(t.Products), CreatedBy: t.CreatedBy, CreatedAt: t.CreatedAt,
		ExpiresAt: t.ExpiresAt, LastUsedAt: t.LastUsedAt, Versions: t.Versions, OIDC: t.OIDC}
}

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
type TokenList struct {
	Tokens []TokenView `json:"tokens"`
}

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

func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}
