package api

import (
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/reliquary/reliquary/api/wire"
	"github.com/reliquary/reliquary/internal/library"
)

// EventPage is a page of the journal.
type EventPage = wire.EventPage

func (s *Server) audit(c *gin.Context) {
	after, ok := queryUint(c, "after")
	limit, ok2 := queryInt(c, "limit", 100, library.MaxEventPage)
	if !ok || !ok2 {
		return
	}
	cur, err := s.lib.Audit(c, principal(c), after, limit)
	if err != nil {
		fail(c, err)
		return
	}
	s.writeEventPage(c, cur)
}

func (s *Server) auditVerify(c *gin.Context) {
	rep, err := s.lib.VerifyJournal(c)
	if err != nil {
		fail(c, err)
		return
	}
	c.JSON(http.StatusOK, wireAuditReport(rep))
}

// events serves the feed: public events (no index changes) in seq order,
// filtered by type and product and by the token's product scope, waiting
// up to `wait` seconds for the first one.
func (s *Server) events(c *gin.Context) {
	after, ok := queryUint(c, "after")
	limit, ok2 := queryInt(c, "limit", 100, library.MaxEventPage)
	wait, ok3 := queryInt(c, "wait", 0, 60)
	if !ok || !ok2 || !ok3 {
		return
	}
	q := library.EventQuery{After: after, Limit: limit, Wait: time.Duration(wait) * time.Second, Product: c.Query("product")}
	if t := c.Query("type"); t != "" {
		q.Types = strings.Split(t, ",")
	}
	cur, err := s.lib.Events(c.Request.Context(), principal(c), q)
	if err != nil {
		if c.Request.Context().Err() != nil {
			return // the client went away during the wait
		}
		fail(c, err)
		return
	}
	s.writeEventPage(c, cur)
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
type WebhookInput = wire.WebhookInput

// WebhookView is a webhook as the API shows it (the secret only once).
type WebhookView = wire.Webhook

func (s *Server) createWebhook(c *gin.Context) {
	var in WebhookInput
	if !decodeJSON(c, &in) {
		return
	}
	w, err := s.lib.CreateWebhook(c, principal(c), library.WebhookInput{URL: in.URL, Types: in.Types, Secret: in.Secret})
	if err != nil {
		fail(c, err)
		return
	}
	out := wireWebhook(w, 0)
	out.Secret = w.Secret
	c.JSON(http.StatusCreated, out)
}

// WebhookList is the answer of GET /webhooks.
type WebhookList = wire.WebhookList

func (s *Server) listWebhooks(c *gin.Context) {
	hooks, err := s.lib.Webhooks(c, principal(c))
	if err != nil {
		fail(c, err)
		return
	}
	out := WebhookList{Webhooks: make([]WebhookView, 0, len(hooks))}
	for _, h := range hooks {
		out.Webhooks = append(out.Webhooks, wireWebhook(h.Webhook, h.DeliveredSeq))
	}
	c.JSON(http.StatusOK, out)
}

func (s *Server) deleteWebhook(c *gin.Context) {
	if err := s.lib.DeleteWebhook(c, principal(c), c.Param("id")); err != nil {
		fail(c, err)
		return
	}
	c.Status(http.StatusNoContent)
}

// DeliveryList is the delivery log of one webhook, newest first.
type DeliveryList = wire.DeliveryList

func (s *Server) webhookDeliveries(c *gin.Context) {
	limit, ok := queryInt(c, "limit", 50, 200)
	if !ok {
		return
	}
	list, err := s.lib.WebhookDeliveries(c, principal(c), c.Param("id"), limit)
	if err != nil {
		fail(c, err)
		return
	}
	out := DeliveryList{Deliveries: make([]wire.Delivery, 0, len(list))}
	for _, d := range list {
		out.Deliveries = append(out.Deliveries, wireDelivery(d))
	}
	c.JSON(http.StatusOK, out)
}

// backup streams a consistent copy of the index file. The copy is made
// first into a temporary file, so a slow client never holds a bbolt read
// transaction (DESIGN §8 "No client holds the index"). The whole index holds
// every product and every webhook: only an unscoped admin may take it.
func (s *Server) backup(c *gin.Context) {
	if !requireUnscoped(c, "a backup holds the whole index") {
		return
	}
	f, size, err := s.lib.Backup(c)
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
