package api

import (
	"errors"
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/reliquary/reliquary/internal/library"
)

// UIPrefix is where the web UI is served.
const UIPrefix = "/ui"

// SetUI gives the server the web UI's handler (internal/ui), served at
// UIPrefix behind the API's middleware; call it before Handler.
func (s *Server) SetUI(h http.Handler) { s.ui = h }

// mountUI serves the web UI (DESIGN.md §10) at /ui/ and redirects / there.
// The UI is not part of /api/v1 and not in the route table (nor in
// openapi.yaml); it borrows the table's permissions (Permission) and the
// error table (Classify) so it can never do more than the API.
func (s *Server) mountUI(r *gin.Engine) {
	if s.ui == nil {
		return
	}
	serve := gin.WrapH(s.ui)
	r.Any(UIPrefix, serve)
	r.Any(UIPrefix+"/*path", serve)
	r.GET("/", func(c *gin.Context) { c.Redirect(http.StatusSeeOther, UIPrefix+"/") })
}

// Permission is the least role the route (method, gin path) of the route
// table needs; a route it does not know needs an admin.
func (s *Server) Permission(method, path string) library.Role {
	for _, rt := range s.Routes() {
		if rt.Method == method && rt.Path == path {
			return rt.Perm
		}
	}
	return library.RoleAdmin
}

// Classify maps an error through errorTable as fail does, for the UI.
func Classify(err error) (status int, code, message string) {
	msg := err.Error()
	var de *library.DetailedError
	if errors.As(err, &de) {
		msg = de.Error()
	}
	for _, e := range errorTable {
		if errors.Is(err, e.err) {
			if e.status >= 500 {
				msg = "the server could not do this now; see its log"
			}
			return e.status, e.code, msg
		}
	}
	return http.StatusInternalServerError, CodeInternal, "internal error; see the server log"
}
