package api

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/reliquary/reliquary/internal/library"
)

// Cluster headers (DESIGN §9).
const (
	// HeaderSeq is on every write response: the seq of the last journal
	// event the request committed (or, when it committed none, the last
	// event the node had applied when it answered).
	HeaderSeq = "X-Reliquary-Seq"
	// HeaderMinSeq on any request makes the node wait (at most
	// minSeqWait) until it has applied that event, else 503
	// NOT_CAUGHT_UP. "latest" first reads the bucket's journal to its
	// head: a linearizable read.
	HeaderMinSeq = "X-Reliquary-Min-Seq"
)

// minSeqWait bounds an X-Reliquary-Min-Seq wait.
const minSeqWait = 5 * time.Second

// clusterHeaders answers X-Reliquary-Min-Seq before the handler runs and
// puts X-Reliquary-Seq on write responses.
func (s *Server) clusterHeaders(c *gin.Context) {
	if v := c.GetHeader(HeaderMinSeq); v != "" {
		if !s.waitMinSeq(c, v) {
			return
		}
	}
	switch c.Request.Method {
	case http.MethodGet, http.MethodHead, http.MethodOptions:
		c.Next()
		return
	}
	ctx, rec := library.WithSeqRecorder(c.Request.Context())
	c.Request = c.Request.WithContext(ctx)
	c.Writer = &seqWriter{ResponseWriter: c.Writer, rec: rec, lib: s.lib}
	c.Next()
}

// waitMinSeq handles X-Reliquary-Min-Seq; false: it answered.
func (s *Server) waitMinSeq(c *gin.Context, v string) bool {
	ctx, cancel := context.WithTimeout(c.Request.Context(), minSeqWait)
	defer cancel()
	var n uint64
	if v == "latest" {
		if err := s.lib.SyncToBucketHead(ctx); err != nil {
			fail(c, err)
			return false
		}
		return true
	}
	n, err := strconv.ParseUint(v, 10, 64)
	if err != nil || len(v) > 20 || v[0] == '+' {
		writeError(c, http.StatusBadRequest, CodeInvalidInput,
			HeaderMinSeq+" must be a journal seq (a decimal number) or \"latest\"", map[string]any{"header": HeaderMinSeq})
		return false
	}
	if err := s.lib.WaitForSeq(ctx, n); err != nil {
		if errors.Is(err, library.ErrNotCaughtUp) && c.Request.Context().Err() == nil {
			writeError(c, http.StatusServiceUnavailable, CodeNotCaughtUp, err.Error(), map[string]any{"min_seq": n})
			return false
		}
		fail(c, err)
		return false
	}
	return true
}

// seqWriter sets X-Reliquary-Seq when the response's header goes out.
type seqWriter struct {
	gin.ResponseWriter
	rec  *library.SeqRecorder
	lib  *library.Service
	done bool
}

func (w *seqWriter) setSeq() {
	if w.done || w.ResponseWriter.Written() {
		return
	}
	w.done = true
	seq := w.rec.Seq()
	if seq == 0 {
		var err error
		if seq, err = w.lib.AppliedSeq(); err != nil {
			return
		}
	}
	w.Header().Set(HeaderSeq, strconv.FormatUint(seq, 10))
}

func (w *seqWriter) WriteHeader(code int) { w.setSeq(); w.ResponseWriter.WriteHeader(code) }
func (w *seqWriter) WriteHeaderNow()      { w.setSeq(); w.ResponseWriter.WriteHeaderNow() }
func (w *seqWriter) Write(b []byte) (int, error) {
	w.setSeq()
	return w.ResponseWriter.Write(b)
}
func (w *seqWriter) WriteString(s string) (int, error) {
	w.setSeq()
	return w.ResponseWriter.WriteString(s)
}
