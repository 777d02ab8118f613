package api

import (
	"encoding/base64"
	"net/http"
	"strconv"

	"github.com/gin-gonic/gin"

	"github.com/reliquary/reliquary/api/wire"
)

// The signed log and release statements (DESIGN §12).

// Proof is the answer of the proof endpoints: the proof's node hashes,
// base64, in RFC 6962 order.
type Proof = wire.Proof

// logParam reads a required unsigned query parameter.
func logParam(c *gin.Context, name string) (uint64, bool) {
	v := c.Query(name)
	n, err := strconv.ParseUint(v, 10, 64)
	if err != nil {
		writeError(c, http.StatusBadRequest, CodeInvalidInput, "query parameter "+name+" must be a non-negative integer", map[string]any{"parameter": name})
		return 0, false
	}
	return n, true
}

func (s *Server) logReady(c *gin.Context) bool {
	if err := s.lib.SignedLogReady(); err != nil {
		fail(c, err)
		return false
	}
	return true
}

// logCheckpoint serves a signed checkpoint of the log (C2SP tlog-checkpoint).
func (s *Server) logCheckpoint(c *gin.Context) {
	note, err := s.lib.LogCheckpoint(c)
	if err != nil {
		fail(c, err)
		return
	}
	c.Data(http.StatusOK, "text/plain; charset=utf-8", note)
}

func writeProof(c *gin.Context, hashes [][]byte) {
	out := Proof{Hashes: make([]string, len(hashes))}
	for i, h := range hashes {
		out.Hashes[i] = base64.StdEncoding.EncodeToString(h)
	}
	c.JSON(http.StatusOK, out)
}

// logInclusion proves event seq is leaf seq-1 of the tree of size leaves.
func (s *Server) logInclusion(c *gin.Context) {
	if !s.logReady(c) {
		return
	}
	seq, ok := logParam(c, "seq")
	if !ok {
		return
	}
	size, ok := logParam(c, "size")
	if !ok {
		return
	}
	hashes, err := s.lib.InclusionProof(c, seq, size)
	if err != nil {
		fail(c, err)
		return
	}
	writeProof(c, hashes)
}

// logConsistency proves the tree of from leaves is a prefix of the tree of
// to leaves.
func (s *Server) logConsistency(c *gin.Context) {
	if !s.logReady(c) {
		return
	}
	from, ok := logParam(c, "from")
	if !ok {
		return
	}
	to, ok := logParam(c, "to")
	if !ok {
		return
	}
	hashes, err := s.lib.ConsistencyProof(c, from, to)
	if err != nil {
		fail(c, err)
		return
	}
	writeProof(c, hashes)
}

// releaseStatement serves the release's latest statement: a DSSE envelope
// of an in-toto Statement v1 (predicate https://reliquary.dev/release/v1).
func (s *Server) releaseStatement(c *gin.Context) {
	env, err := s.lib.ReleaseStatement(c, c.Param("product"), c.Param("version"))
	if err != nil {
		fail(c, err)
		return
	}
	c.Data(http.StatusOK, "application/json", env)
}
