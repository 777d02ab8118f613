package api

import (
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/reliquary/reliquary/api/wire"
	"github.com/reliquary/reliquary/internal/library"
)

// PublisherView is a trusted publisher as the API shows it (its role by name).
type PublisherView = wire.Publisher

func publisherView(p *library.TrustedPublisher) PublisherView { return wirePublisher(p) }

// PublisherList is the answer of GET /products/{p}/publishers.
type PublisherList = wire.PublisherList

func (s *Server) createPublisher(c *gin.Context) {
	var in wire.PublisherInput
	if !decodeJSON(c, &in) {
		return
	}
	p, err := s.lib.CreatePublisher(c, principal(c), c.Param("product"), libPublisherInput(in))
	if err != nil {
		fail(c, err)
		return
	}
	c.JSON(http.StatusCreated, publisherView(p))
}

func (s *Server) listPublishers(c *gin.Context) {
	list, err := s.lib.Publishers(c, c.Param("product"))
	if err != nil {
		fail(c, err)
		return
	}
	out := PublisherList{Publishers: make([]PublisherView, 0, len(list))}
	for _, p := range list {
		out.Publishers = append(out.Publishers, publisherView(p))
	}
	c.JSON(http.StatusOK, out)
}

func (s *Server) deletePublisher(c *gin.Context) {
	if err := s.lib.DeletePublisher(c, principal(c), c.Param("product"), c.Param("id")); err != nil {
		fail(c, err)
		return
	}
	c.Status(http.StatusNoContent)
}
