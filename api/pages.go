package api

import (
	"encoding/json"
	"net/http"
	"strconv"

	"github.com/gin-gonic/gin"

	"github.com/reliquary/reliquary/internal/library"
)

// Bounded pages (DESIGN §8 "Bounded memory"): a page of events or releases
// holds at most MaxPageBytes of JSON, whatever its limit, and is gathered
// and written a chunk at a time: each chunk is read in one short read
// transaction and written to the client before the next is read, so a
// request holds at most about chunkBytes of records.

// MaxPageBytes bounds the JSON of one page of a list or feed.
const MaxPageBytes = library.MaxPageBytes

// chunkBytes is how much of a page is gathered before it is written.
const chunkBytes = library.ChunkBytes

// writeEventPage writes a page of events, reading and writing its chunks
// one at a time (the cursor holds the first).
func (s *Server) writeEventPage(c *gin.Context, cur *library.EventCursor) {
	c.Header("Content-Type", "application/json; charset=utf-8")
	c.Status(http.StatusOK)
	w := c.Writer
	_, _ = w.WriteString(`{"events":[`)
	first := true
	for {
		evs, err := cur.Next()
		if err != nil {
			s.log.Warn("event page cut short", "after", cur.NextAfter(), "err", err)
			panic(http.ErrAbortHandler)
		}
		if len(evs) == 0 {
			break
		}
		for i, e := range evs {
			b, err := json.Marshal(wireEvent(e))
			if err != nil {
				s.log.Error("encode event", "seq", e.Seq, "err", err)
				panic(http.ErrAbortHandler) // the status is out: cut the response
			}
			if !first {
				_, _ = w.WriteString(",")
			}
			first = false
			if _, err := w.Write(b); err != nil {
				return
			}
			evs[i] = nil
		}
	}
	_, _ = w.WriteString(`],"next_after":` + strconv.FormatUint(cur.NextAfter(), 10) + "}")
}
