package api

import (
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/reliquary/reliquary/api/wire"
)

func (s *Server) createProduct(c *gin.Context) {
	var in wire.ProductInput
	if !decodeJSON(c, &in) {
		return
	}
	pr := principal(c)
	if !pr.CanAccess(in.Name) {
		writeError(c, http.StatusForbidden, CodeForbidden, "this token is not scoped to product "+in.Name, map[string]any{"product": in.Name})
		return
	}
	p, err := s.lib.CreateProduct(c, pr, libProductInput(in))
	if err != nil {
		fail(c, err)
		return
	}
	c.Header("Location", APIPrefix+"/products/"+p.Name)
	c.JSON(http.StatusCreated, wireProduct(p))
}

// ProductList is the answer of GET /products.
type ProductList = wire.ProductList

func (s *Server) listProducts(c *gin.Context) {
	list, err := s.lib.Products(c, principal(c))
	if err != nil {
		fail(c, err)
		return
	}
	out := ProductList{Products: make([]wire.Product, 0, len(list))}
	for _, p := range list {
		out.Products = append(out.Products, wireProduct(p))
	}
	c.JSON(http.StatusOK, out)
}

func (s *Server) getProduct(c *gin.Context) {
	p, err := s.lib.Product(c, c.Param("product"))
	if err != nil {
		fail(c, err)
		return
	}
	c.JSON(http.StatusOK, wireProduct(p))
}

func (s *Server) setPolicy(c *gin.Context) {
	var in wire.PolicyInput
	if !decodeJSON(c, &in) {
		return
	}
	p, err := s.lib.SetPolicy(c, principal(c), c.Param("product"), libPolicyInput(in))
	if err != nil {
		fail(c, err)
		return
	}
	c.JSON(http.StatusOK, wireProduct(p))
}

func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}
