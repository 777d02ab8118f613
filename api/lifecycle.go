package api

import (
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/reliquary/reliquary/api/wire"
	"github.com/reliquary/reliquary/internal/library"
)

func (s *Server) approve(c *gin.Context) {
	var in CommentInput
	if !emptyBody(c) && !decodeJSON(c, &in) {
		return
	}
	r, err := s.lib.Approve(c, principal(c), c.Param("product"), c.Param("version"), in.Comment)
	if err != nil {
		fail(c, err)
		return
	}
	c.JSON(http.StatusOK, wireRelease(r))
}

func (s *Server) promote(c *gin.Context) {
	var in wire.PromoteInput
	if !decodeJSON(c, &in) {
		return
	}
	r, err := s.lib.Promote(c, principal(c), c.Param("product"), c.Param("version"), libPromoteInput(in))
	if err != nil {
		fail(c, err)
		return
	}
	c.JSON(http.StatusOK, wireRelease(r))
}

func (s *Server) withdraw(c *gin.Context) {
	var in wire.WithdrawInput
	if !decodeJSON(c, &in) {
		return
	}
	r, err := s.lib.Withdraw(c, principal(c), c.Param("product"), c.Param("version"), libWithdrawInput(in))
	if err != nil {
		fail(c, err)
		return
	}
	c.JSON(http.StatusOK, wireRelease(r))
}

// ResolvedArtifact is a matching artifact with where to download it.
type ResolvedArtifact = wire.ResolvedArtifact

// Resolution is the answer of GET /products/{p}/resolve.
type Resolution = wire.Resolution

func (s *Server) resolve(c *gin.Context) {
	current := c.Query("current")
	if current != "" && current != "true" && current != "false" && current != "1" && current != "0" {
		writeError(c, http.StatusBadRequest, CodeInvalidInput, "current must be true or false", map[string]any{"parameter": "current"})
		return
	}
	res, err := s.lib.Resolve(c, c.Param("product"), library.ResolveRequest{
		Constraint: c.Query("constraint"), OS: c.Query("os"), Arch: c.Query("arch"),
		MinState: c.Query("min_state"), Current: current == "true" || current == "1",
		Target: c.Query("target"), Environment: c.Query("environment"),
	})
	if err != nil {
		fail(c, err)
		return
	}
	base := APIPrefix + "/products/" + res.Release.Product + "/releases/" + res.Release.Version
	out := Resolution{Release: wireRelease(res.Release), ManifestURL: base + "/manifest", Artifacts: []ResolvedArtifact{}, Required: res.Required}
	for _, a := range res.Artifacts {
		out.Artifacts = append(out.Artifacts, ResolvedArtifact{Artifact: wireArtifact(&a),
			DownloadURL: base + "/artifacts/" + a.Name, SignatureURL: base + "/artifacts/" + a.Name + "/signature"})
	}
	c.JSON(http.StatusOK, out)
}
