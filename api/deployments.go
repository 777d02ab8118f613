package api

import (
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/reliquary/reliquary/api/wire"
	"github.com/reliquary/reliquary/internal/library"
)

// CMDB: the cross-product release search and deployment records.

// ReleaseSearchResult is a page of GET /releases.
type ReleaseSearchResult = wire.ReleasePage

func (s *Server) searchReleases(c *gin.Context) {
	limit, ok := queryInt(c, "limit", 100, library.MaxPage)
	if !ok {
		return
	}
	list, next, err := s.lib.SearchReleases(c, principal(c), library.ReleaseSearch{
		ChangeID: c.Query("change_id"), CIID: c.Query("ci_id"), Label: c.Query("label"),
		State: library.State(c.Query("state")), Limit: limit, Cursor: c.Query("cursor"),
		SHA256: c.Query("sha256"),
	})
	if err != nil {
		fail(c, err)
		return
	}
	out := ReleaseSearchResult{Releases: make([]wire.Release, 0, len(list)), NextCursor: next}
	for _, r := range list {
		r.Artifacts = nil // as in listings: GET the release for its artifacts
		out.Releases = append(out.Releases, wireRelease(r))
	}
	c.JSON(http.StatusOK, out)
}

func (s *Server) recordDeployment(c *gin.Context) {
	var in wire.DeploymentInput
	if !decodeJSON(c, &in) {
		return
	}
	d, err := s.lib.RecordDeployment(c, principal(c), libDeploymentInput(in))
	if err != nil {
		fail(c, err)
		return
	}
	c.JSON(http.StatusCreated, wireDeployment(d))
}

// DeploymentList is a page of GET /deployments.
type DeploymentList = wire.DeploymentPage

func (s *Server) listDeployments(c *gin.Context) {
	limit, ok := queryInt(c, "limit", 100, library.MaxPage)
	if !ok {
		return
	}
	list, next, err := s.lib.Deployments(c, principal(c), library.DeploymentFilter{
		Product: c.Query("product"), Version: c.Query("version"), Environment: c.Query("environment"),
		Target: c.Query("target"), Limit: limit, Cursor: c.Query("cursor"),
	})
	if err != nil {
		fail(c, err)
		return
	}
	out := DeploymentList{Deployments: make([]wire.Deployment, 0, len(list)), NextCursor: next}
	for _, d := range list {
		out.Deployments = append(out.Deployments, wireDeployment(d))
	}
	c.JSON(http.StatusOK, out)
}

func (s *Server) getEnvironment(c *gin.Context) {
	v, err := s.lib.Environment(c, principal(c), c.Param("environment"))
	if err != nil {
		fail(c, err)
		return
	}
	c.JSON(http.StatusOK, wireEnvironment(v))
}
