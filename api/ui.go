package api

import (
	"errors"
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/reliquary/reliquary/internal/library"
	"github.com/reliquary/reliquary/internal/ui"
)

// mountUI serves the web UI (DESIGN.md §10) at /ui/ and redirects / there.
// The UI is not part of /api/v1 and not in the route table (nor in
// openapi.yaml); it borrows the table's permissions and the error table
// so it can never do more than the API.
func (s *Server) mountUI(r *gin.Engine) {
	if s.lib == nil {
		return
	}
	h := ui.New(ui.Config{Library: s.lib, Journal: s.journal, Notifier: s.notifier,
		Permission: s.permission, Classify: classify, SessionTTL: s.uiSessionTTL, Logger: s.log})
	serve := gin.WrapH(h)
	r.Any(ui.Prefix, serve)
	r.Any(ui.Prefix+"/*path", serve)
	r.GET("/", func(c *gin.Context) { c.Redirect(http.StatusSeeOther, ui.Prefix+"/") })
}

// permission is the least role the route (method, gin path) of the route
// table needs; a route it does not know needs an admin.
func (s *Server) permission(method, path string) library.Role {
	for _, rt := range s.Routes() {
		if rt.Method == method && rt.Path == path {
			return rt.Perm
		}
	}
	return library.RoleAdmin
}

// classify maps an error through errorTable as fail does, for the UI.
func classify(err error) (status int, code, message string) {
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
