package api

import (
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/reliquary/reliquary/internal/library"
)

// Baselines: named, immutable, signed sets of (product, version) pairs.

func (s *Server) createBaseline(c *gin.Context) {
	var in library.BaselineInput
	if !decodeJSON(c, &in) {
		return
	}
	b, err := s.lib.CreateBaseline(c, principal(c), in)
	if err != nil {
		fail(c, err)
		return
	}
	c.Header("Location", APIPrefix+"/baselines/"+b.Name)
	c.JSON(http.StatusCreated, b)
}

// BaselineList is the answer of GET /baselines.
type BaselineList struct {
	Baselines []*library.Baseline `json:"baselines"`
}

func (s *Server) listBaselines(c *gin.Context) {
	list, err := s.lib.Baselines(c)
	if err != nil {
		fail(c, err)
		return
	}
	c.JSON(http.StatusOK, BaselineList{Baselines: nonNil(list)})
}

func (s *Server) getBaseline(c *gin.Context) {
	b, err := s.lib.Baseline(c, c.Param("baseline"))
	if err != nil {
		fail(c, err)
		return
	}
	c.JSON(http.StatusOK, b)
}

func (s *Server) baselineManifest(c *gin.Context) {
	body, _, err := s.lib.BaselineManifest(c, c.Param("baseline"))
	if err != nil {
		fail(c, err)
		return
	}
	c.Data(http.StatusOK, "application/json", body)
}

func (s *Server) baselineSignature(c *gin.Context) {
	_, sig, err := s.lib.BaselineManifest(c, c.Param("baseline"))
	if err != nil {
		fail(c, err)
		return
	}
	c.Data(http.StatusOK, "text/plain; charset=utf-8", sig)
}

func (s *Server) diffBaselines(c *gin.Context) {
	d, err := s.lib.DiffBaselines(c, c.Param("baseline"), c.Param("other"))
	if err != nil {
		fail(c, err)
		return
	}
	c.JSON(http.StatusOK, d)
}
