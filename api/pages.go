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
// holds at most MaxPageBytes of JSON, whatever its limit, and is written
// element by element.

// MaxPageBytes bounds the JSON of one page of a list or feed.
const MaxPageBytes = library.MaxPageBytes

// maxEventScan bounds how many journal events one request looks at.
const maxEventScan = maxEventPage

// eventPage collects up to limit events after `after` that pick keeps
// (pick returns the event to serve, or nil to skip it), looking at no more
// than maxEventScan events and keeping the page under MaxPageBytes. more
// reports that it stopped before the end of the journal.
func (s *Server) eventPage(after uint64, limit int, pick func(*journal.Event) *journal.Event) (page EventPage, more bool, err error) {
	page = EventPage{Events: []*journal.Event{}, NextAfter: after}
	scanned, bytes := 0, 0
	err = s.journal.ScanEvents(after, func(e *journal.Event, size int) bool {
		if len(page.Events) >= limit || scanned >= maxEventScan || len(page.Events) > 0 && bytes+size > MaxPageBytes {
			more = true
			return false
		}
		scanned++
		page.NextAfter = e.Seq
		if out := pick(e); out != nil {
			page.Events = append(page.Events, out)
			bytes += len(out.Data) + 512
		}
		return true
	})
	return page, more, err
}

// writeEventPage writes the page one event at a time, never the whole
// document in one buffer.
func writeEventPage(c *gin.Context, page EventPage) {
	c.Header("Content-Type", "application/json; charset=utf-8")
	c.Status(http.StatusOK)
	w := c.Writer
	_, _ = w.WriteString(`{"events":[`)
	for i, e := range page.Events {
		if i > 0 {
			_, _ = w.WriteString(",")
		}
		b, err := json.Marshal(e)
		if err != nil {
			panic(http.ErrAbortHandler) // headers are out: cut the response
		}
		if _, err := w.Write(b); err != nil {
			return
		}
		page.Events[i] = nil // let the collector have it
	}
	_, _ = w.WriteString(`],"next_after":` + strconv.FormatUint(page.NextAfter, 10) + "}")
}
