package api

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/reliquary/reliquary/internal/journal"
	"github.com/reliquary/reliquary/internal/library"
)

// JournalIndex is what the journal, webhook and backup endpoints need of
// the index.
type JournalIndex interface {
	EventsAfter(after uint64, limit int) ([]*journal.Event, error)
	// ScanEvents calls fn with each event after `after`, in order, until
	// fn returns false, in one short read transaction (fn must not do I/O).
	ScanEvents(after uint64, fn func(e *journal.Event, size int) bool) error
	Head() (uint64, string, error)
	VerifyJournal() (journal.VerifyReport, error)
	CreateWebhook(w *journal.Webhook, ev library.Event) error
	DeleteWebhook(id string, ev library.Event) error
	Webhooks() ([]*journal.Webhook, map[string]uint64, error)
	Deliveries(id string, limit int) ([]journal.Delivery, error)
	// Snapshot copies the index to a temporary file (a short read
	// transaction) that the backup then streams.
	Snapshot() (*os.File, int64, error)
}

// EventPage is a page of the journal.
type EventPage struct {
	Events []*journal.Event `json:"events"`
	// NextAfter is the `after` of the next request: the last seq looked at.
	NextAfter uint64 `json:"next_after"`
}

const maxEventPage = 1000

func (s *Server) audit(c *gin.Context) {
	after, ok := queryUint(c, "after")
	limit, ok2 := queryInt(c, "limit", 100, maxEventPage)
	if !ok || !ok2 {
		return
	}
	if limit == 0 {
		limit = 100
	}
	v := viewer(principal(c))
	pick := func(e *journal.Event) *journal.Event {
		if !v.Visible(e) {
			return nil
		}
		return journal.Redact(e)
	}
	ec := &eventCursor{next: after, limit: limit}
	evs, end, err := s.eventChunk(ec, pick)
	if err != nil {
		fail(c, err)
		return
	}
	s.writeEventPage(c, ec, evs, end, pick)
}

func (s *Server) auditVerify(c *gin.Context) {
	rep, err := s.journal.VerifyJournal()
	if err != nil {
		fail(c, err)
		return
	}
	c.JSON(http.StatusOK, rep)
}

// events serves the feed: public events (no index changes) in seq order,
// filtered by type and product and by the token's product scope, waiting
// up to `wait` seconds for the first one.
func (s *Server) events(c *gin.Context) {
	after, ok := queryUint(c, "after")
	limit, ok2 := queryInt(c, "limit", 100, maxEventPage)
	wait, ok3 := queryInt(c, "wait", 0, 60)
	if !ok || !ok2 || !ok3 {
		return
	}
	if limit == 0 {
		limit = 100
	}
	var types []string
	if t := c.Query("type"); t != "" {
		types = strings.Split(t, ",")
	}
	product := c.Query("product")
	if product != "" {
		if err := library.ValidateProductName(product); err != nil {
			fail(c, err)
			return
		}
	}
	v := viewer(principal(c))
	pick := func(e *journal.Event) *journal.Event {
		if len(types) > 0 && !slices.ContainsFunc(types, func(t string) bool {
			return t == e.Type || strings.HasSuffix(t, ".*") && strings.HasPrefix(e.Type, strings.TrimSuffix(t, "*"))
		}) {
			return nil
		}
		if product != "" && eventProduct(e) != product {
			return nil
		}
		if !v.Visible(e) {
			return nil
		}
		return journal.Public(e)
	}
	deadline := time.Now().Add(time.Duration(wait) * time.Second)
	for {
		wake := s.notifier.Wait()
		ec := &eventCursor{next: after, limit: limit}
		evs, end, err := s.eventChunk(ec, pick)
		if err != nil {
			fail(c, err)
			return
		}
		if len(evs) > 0 || !end || !time.Now().Before(deadline) {
			s.writeEventPage(c, ec, evs, end, pick)
			return
		}
		after = ec.next // nothing here for this caller: wait past it
		select {
		case <-wake:
		case <-time.After(time.Until(deadline)):
		case <-c.Request.Context().Done():
			return
		}
	}
}

// eventProduct is the product an event concerns ("" for none): the part
// of its subject before "@".
func eventProduct(e *journal.Event) string {
	if strings.HasPrefix(e.Type, "token.") || strings.HasPrefix(e.Type, "webhook.") || strings.HasPrefix(e.Type, "baseline.") {
		return ""
	}
	p, _, _ := strings.Cut(e.Subject, "@")
	if library.ValidateProductName(p) != nil {
		return ""
	}
	return p
}

func queryUint(c *gin.Context, name string) (uint64, bool) {
	v := c.Query(name)
	if v == "" {
		return 0, true
	}
	n, err := strconv.ParseUint(v, 10, 64)
	if err != nil || n > maxQuerySeq {
		writeError(c, http.StatusBadRequest, CodeInvalidInput, fmt.Sprintf("query parameter %s must be an integer from 0 to %d", name, uint64(maxQuerySeq)), map[string]any{"parameter": name})
		return 0, false
	}
	return n, true
}

// WebhookInput registers a webhook.
type WebhookInput struct {
	URL    string   `json:"url"`
	Types  []string `json:"types"`
	Secret string   `json:"secret"`
}

// WebhookView is a webhook as the API shows it (the secret only once).
type WebhookView struct {
	ID           string    `json:"id"`
	URL          string    `json:"url"`
	Types        []string  `json:"types"`
	CreatedBy    string    `json:"created_by"`
	CreatedAt    time.Time `json:"created_at"`
	DeliveredSeq uint64    `json:"delivered_seq"`
	Secret       string    `json:"secret,omitempty"`
}

func (s *Server) createWebhook(c *gin.Context) {
	var in WebhookInput
	if !decodeJSON(c, &in) {
		return
	}
	u, err := url.Parse(in.URL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil || len(in.URL) > 2048 {
		writeError(c, http.StatusBadRequest, CodeInvalidInput, "url must be an absolute http(s) URL without credentials", map[string]any{"field": "url"})
		return
	}
	if !s.hookAllowPrivate {
		if err := journal.CheckTargetURL(c, u); err != nil {
			writeError(c, http.StatusBadRequest, CodeWebhookTargetForbidden,
				"the webhook URL must not reach a loopback, private, link-local or unique-local address (see --webhook-allow-private): "+err.Error(),
				map[string]any{"field": "url"})
			return
		}
	}
	for _, t := range in.Types {
		if t == "" || len(t) > 64 || strings.ContainsAny(t, " ,\t\n") {
			writeError(c, http.StatusBadRequest, CodeInvalidInput, fmt.Sprintf("event type %q is not valid", t), map[string]any{"field": "types"})
			return
		}
	}
	if in.Secret == "" {
		var b [24]byte
		_, _ = rand.Read(b[:])
		in.Secret = hex.EncodeToString(b[:])
	} else if len(in.Secret) < 16 || len(in.Secret) > 256 {
		writeError(c, http.StatusBadRequest, CodeInvalidInput, "secret must be 16 to 256 characters", map[string]any{"field": "secret"})
		return
	}
	var b [8]byte
	_, _ = rand.Read(b[:])
	pr := principal(c)
	w := &journal.Webhook{ID: "wh_" + hex.EncodeToString(b[:]), URL: in.URL, Types: nonNil(in.Types), Secret: in.Secret,
		CreatedBy: pr.Name, CreatedAt: time.Now().UTC(), Products: pr.Products}
	// The event names the hook by id and host: a URL's path and query may
	// be a secret (incoming-webhook URLs), and the journal leaves the node.
	ev := library.Event{Time: w.CreatedAt, Actor: pr.Name, Type: library.EvWebhookCreated, Subject: w.ID,
		Data: map[string]any{"id": w.ID, "host": u.Host, "types": w.Types}}
	if err := s.journal.CreateWebhook(w, ev); err != nil {
		fail(c, err)
		return
	}
	s.notifier.Notify()
	c.JSON(http.StatusCreated, WebhookView{ID: w.ID, URL: w.URL, Types: w.Types, CreatedBy: w.CreatedBy, CreatedAt: w.CreatedAt, Secret: w.Secret})
}

// WebhookList is the answer of GET /webhooks.
type WebhookList struct {
	Webhooks []WebhookView `json:"webhooks"`
}

func (s *Server) listWebhooks(c *gin.Context) {
	hooks, state, err := s.journal.Webhooks()
	if err != nil {
		fail(c, err)
		return
	}
	out := WebhookList{Webhooks: []WebhookView{}}
	pr := principal(c)
	for _, w := range hooks {
		if !hookVisible(pr, w) {
			continue
		}
		out.Webhooks = append(out.Webhooks, WebhookView{ID: w.ID, URL: w.URL, Types: nonNil(w.Types), CreatedBy: w.CreatedBy,
			CreatedAt: w.CreatedAt, DeliveredSeq: state[w.ID]})
	}
	c.JSON(http.StatusOK, out)
}

func (s *Server) deleteWebhook(c *gin.Context) {
	id := c.Param("id")
	pr := principal(c)
	if !s.hookFound(c, id) {
		return
	}
	ev := library.Event{Time: time.Now().UTC(), Actor: pr.Name, Type: library.EvWebhookDeleted, Subject: id, Data: map[string]any{"id": id}}
	if err := s.journal.DeleteWebhook(id, ev); err != nil {
		fail(c, err)
		return
	}
	s.notifier.Notify()
	c.Status(http.StatusNoContent)
}

// hookFound answers 404 unless the webhook exists and the caller may see
// it (a scoped admin sees only its own hooks).
func (s *Server) hookFound(c *gin.Context, id string) bool {
	hooks, _, err := s.journal.Webhooks()
	if err != nil {
		fail(c, err)
		return false
	}
	pr := principal(c)
	if !slices.ContainsFunc(hooks, func(w *journal.Webhook) bool { return w.ID == id && hookVisible(pr, w) }) {
		writeError(c, http.StatusNotFound, CodeWebhookNotFound, "webhook "+id+" not found", nil)
		return false
	}
	return true
}

// DeliveryList is the delivery log of one webhook, newest first.
type DeliveryList struct {
	Deliveries []journal.Delivery `json:"deliveries"`
}

func (s *Server) webhookDeliveries(c *gin.Context) {
	limit, ok := queryInt(c, "limit", 50, 200)
	if !ok {
		return
	}
	if !s.hookFound(c, c.Param("id")) {
		return
	}
	list, err := s.journal.Deliveries(c.Param("id"), limit)
	if err != nil {
		fail(c, err)
		return
	}
	c.JSON(http.StatusOK, DeliveryList{Deliveries: nonNil(list)})
}

// backup streams a consistent copy of the index file. The copy is made
// first into a temporary file, so a slow client never holds a bbolt read
// transaction (DESIGN §8 "No client holds the index"). The whole index holds
// every product and every webhook: only an unscoped admin may take it.
func (s *Server) backup(c *gin.Context) {
	if !requireUnscoped(c, "a backup holds the whole index") {
		return
	}
	f, size, err := s.journal.Snapshot()
	if err != nil {
		fail(c, err)
		return
	}
	defer f.Close()
	c.Header("Content-Type", "application/octet-stream")
	c.Header("Content-Length", strconv.FormatInt(size, 10))
	c.Header("Content-Disposition", `attachment; filename="reliquary-index-`+time.Now().UTC().Format("20060102T150405Z")+`.db"`)
	c.Status(http.StatusOK)
	if _, err := io.Copy(c.Writer, f); err != nil {
		s.log.Warn("backup interrupted", "err", err)
		panic(http.ErrAbortHandler)
	}
}
