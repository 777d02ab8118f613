package api

import (
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/reliquary/reliquary/api/wire"
)

// Rollout: pilots, canaries and deadlines (DESIGN.md §14).

func (s *Server) getRollout(c *gin.Context) {
	v, err := s.lib.Rollout(c, c.Param("product"), c.Param("version"))
	if err != nil {
		fail(c, err)
		return
	}
	c.JSON(http.StatusOK, wireRolloutView(v))
}

func (s *Server) setRollout(c *gin.Context) {
	var in wire.RolloutInput
	if !decodeJSON(c, &in) {
		return
	}
	v, err := s.lib.SetRollout(c, principal(c), c.Param("product"), c.Param("version"), libRolloutInput(in))
	if err != nil {
		fail(c, err)
		return
	}
	c.JSON(http.StatusOK, wireRolloutView(v))
}
