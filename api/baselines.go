package api

import (
	"net/http"
	"slices"

	"github.com/gin-gonic/gin"

	"github.com/reliquary/reliquary/api/wire"
	"github.com/reliquary/reliquary/internal/library"
)

// Baselines: named, immutable, signed sets of (product, version) pairs.

func (s *Server) createBaseline(c *gin.Context) {
	var in wire.BaselineInput
	if !decodeJSON(c, &in) {
		return
	}
	b, err := s.lib.CreateBaseline(c, principal(c), libBaselineInput(in))
	if err != nil {
		fail(c, err)
		return
	}
	c.Header("Location", APIPrefix+"/baselines/"+b.Name)
	c.JSON(http.StatusCreated, wireBaselineView(b))
}

// BaselineList is the answer of GET /baselines.
type BaselineList = wire.BaselineList

func (s *Server) listBaselines(c *gin.Context) {
	list, err := s.lib.Baselines(c)
	if err != nil {
		fail(c, err)
		return
	}
	pr := principal(c)
	list = slices.DeleteFunc(list, func(b *library.Baseline) bool { return !baselineInScope(pr, baselineProducts(b.Releases)) })
	out := BaselineList{Baselines: make([]wire.Baseline, 0, len(list))}
	for _, b := range list {
		out.Baselines = append(out.Baselines, wireBaseline(b))
	}
	c.JSON(http.StatusOK, out)
}

func (s *Server) getBaseline(c *gin.Context) {
	b, ok := s.scopedBaseline(c, c.Param("baseline"))
	if !ok {
		return
	}
	c.JSON(http.StatusOK, wireBaselineView(b))
}

// scopedBaseline loads a baseline the caller may see: one with a member
// outside a scoped token's products answers 404 as if it did not exist.
func (s *Server) scopedBaseline(c *gin.Context, name string) (*library.BaselineView, bool) {
	b, err := s.lib.Baseline(c, name)
	if err != nil {
		fail(c, err)
		return nil, false
	}
	products := make([]string, 0, len(b.Releases))
	for _, m := range b.Releases {
		products = append(products, m.Product)
	}
	if !baselineInScope(principal(c), products) {
		writeError(c, http.StatusNotFound, CodeBaselineNotFound, "baseline "+name+" not found", map[string]any{"baseline": name})
		return nil, false
	}
	return b, true
}

func baselineProducts(members []library.BaselineMember) []string {
	out := make([]string, 0, len(members))
	for _, m := range members {
		out = append(out, m.Product)
	}
	return out
}

func (s *Server) baselineManifest(c *gin.Context) {
	if _, ok := s.scopedBaseline(c, c.Param("baseline")); !ok {
		return
	}
	body, _, err := s.lib.BaselineManifest(c, c.Param("baseline"))
	if err != nil {
		fail(c, err)
		return
	}
	c.Data(http.StatusOK, "application/json", body)
}

func (s *Server) baselineSignature(c *gin.Context) {
	if _, ok := s.scopedBaseline(c, c.Param("baseline")); !ok {
		return
	}
	_, sig, err := s.lib.BaselineManifest(c, c.Param("baseline"))
	if err != nil {
		fail(c, err)
		return
	}
	c.Data(http.StatusOK, "text/plain; charset=utf-8", sig)
}

func (s *Server) diffBaselines(c *gin.Context) {
	for _, name := range []string{c.Param("baseline"), c.Param("other")} {
		if _, ok := s.scopedBaseline(c, name); !ok {
			return
		}
	}
	d, err := s.lib.DiffBaselines(c, c.Param("baseline"), c.Param("other"))
	if err != nil {
		fail(c, err)
		return
	}
	c.JSON(http.StatusOK, wireBaselineDiff(d))
}
