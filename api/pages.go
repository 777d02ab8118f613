package api

import (
	"encoding/json"
	"net/http"
	"strconv"

	"github.com/gin-gonic/gin"

	"github.com/reliquary/reliquary/internal/journal"
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
const chunkBytes = 256 << 10

// maxEventScan bounds how many journal events one request looks at.
const maxEventScan = maxEventPage

// eventCursor is the progress of one page of events.
type eventCursor struct {
	next                  uint64 // the last seq looked at
	limit                 int
	count, scanned, bytes int
	done                  bool // the page is complete (limit, scan or size bound)
}

// eventChunk gathers the page's next events that pick keeps (pick returns
// the event to serve, or nil to skip it), up to chunkBytes, in one read
// transaction. end reports that it reached the end of the journal.
func (s *Server) eventChunk(ec *eventCursor, pick func(*journal.Event) *journal.Event) (evs []*journal.Event, end bool, err error) {
	chunk := 0
	end = true
	err = s.journal.ScanEvents(ec.next, func(e *journal.Event, _ int) bool {
		if ec.count >= ec.limit || ec.scanned >= maxEventScan {
			ec.done, end = true, false
			return false
		}
		out := pick(e)
		if out == nil {
			ec.scanned++
			ec.next = e.Seq
			return true
		}
		n := len(out.Data) + 256
		if ec.count > 0 && ec.bytes+n > MaxPageBytes {
			ec.done, end = true, false
			return false
		}
		if len(evs) > 0 && chunk+n > chunkBytes {
			end = false // the page goes on in the next chunk
			return false
		}
		ec.scanned++
		ec.next = e.Seq
		ec.count++
		ec.bytes += n
		chunk += n
		evs = append(evs, out)
		return true
	})
	return evs, end, err
}

// writeEventPage writes a page whose first chunk is evs, reading and
// writing the following chunks one at a time.
func (s *Server) writeEventPage(c *gin.Context, ec *eventCursor, evs []*journal.Event, end bool, pick func(*journal.Event) *journal.Event) {
	c.Header("Content-Type", "application/json; charset=utf-8")
	c.Status(http.StatusOK)
	w := c.Writer
	_, _ = w.WriteString(`{"events":[`)
	first := true
	for {
		for i, e := range evs {
			b, err := json.Marshal(e)
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
		if end || ec.done {
			break
		}
		var err error
		if evs, end, err = s.eventChunk(ec, pick); err != nil {
			s.log.Warn("event page cut short", "after", ec.next, "err", err)
			panic(http.ErrAbortHandler)
		}
	}
	_, _ = w.WriteString(`],"next_after":` + strconv.FormatUint(ec.next, 10) + "}")
}
