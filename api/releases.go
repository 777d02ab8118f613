package api

import (
	"encoding/json"
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/reliquary/reliquary/api/wire"
	"github.com/reliquary/reliquary/internal/library"
)

func (s *Server) createRelease(c *gin.Context) {
	var in wire.ReleaseInput
	if !decodeJSON(c, &in) {
		return
	}
	r, err := s.lib.CreateRelease(c, principal(c), c.Param("product"), libReleaseInput(in))
	if err != nil {
		fail(c, err)
		return
	}
	c.Header("Location", APIPrefix+"/products/"+r.Product+"/releases/"+r.Version)
	c.JSON(http.StatusCreated, wireRelease(r))
}

// ReleaseList is a page of GET /products/{p}/releases.
type ReleaseList = wire.ReleasePage

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
			b, err := json.Marshal(wireRelease(r))
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
	c.JSON(http.StatusOK, wireRelease(r))
}
