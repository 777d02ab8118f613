package client

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/reliquary/reliquary/api/wire"
)

// EventQuery asks Events for the events after a sequence number.
type EventQuery struct {
	After uint64
	Limit int
	// Wait long-polls: the server answers as soon as an event arrives, or
	// empty after Wait (at most 60 s).
	Wait time.Duration
	// Types filters by event type ("release.*" matches a prefix).
	Types   []string
	Product string
}

// Events reads the public event feed (GET /events).
func (c *Client) Events(ctx context.Context, q EventQuery) (*EventPage, error) {
	v := url.Values{}
	if q.After > 0 {
		v.Set("after", strconv.FormatUint(q.After, 10))
	}
	if q.Limit > 0 {
		v.Set("limit", strconv.Itoa(q.Limit))
	}
	if q.Wait > 0 {
		v.Set("wait", strconv.Itoa(int(q.Wait.Round(time.Second)/time.Second)))
	}
	if len(q.Types) > 0 {
		v.Set("type", strings.Join(q.Types, ","))
	}
	if q.Product != "" {
		v.Set("product", q.Product)
	}
	var out EventPage
	return &out, c.getJSON(ctx, "/events", v, &out)
}

// Audit reads the full hash-chained journal (admin).
func (c *Client) Audit(ctx context.Context, after uint64, limit int) (*EventPage, error) {
	v := url.Values{}
	if after > 0 {
		v.Set("after", strconv.FormatUint(after, 10))
	}
	if limit > 0 {
		v.Set("limit", strconv.Itoa(limit))
	}
	var out EventPage
	return &out, c.getJSON(ctx, "/audit", v, &out)
}

// AuditVerify asks the server to verify its journal (admin).
func (c *Client) AuditVerify(ctx context.Context) (*AuditReport, error) {
	var out AuditReport
	return &out, c.getJSON(ctx, "/audit/verify", nil, &out)
}

// CreateWebhook registers a webhook (admin).
func (c *Client) CreateWebhook(ctx context.Context, in WebhookInput) (*Webhook, error) {
	var out Webhook
	return &out, c.sendJSON(ctx, http.MethodPost, "/webhooks", in, &out)
}

// Webhooks lists the webhooks (admin).
func (c *Client) Webhooks(ctx context.Context) ([]Webhook, error) {
	var out wire.WebhookList
	return out.Webhooks, c.getJSON(ctx, "/webhooks", nil, &out)
}

// DeleteWebhook removes a webhook (admin).
func (c *Client) DeleteWebhook(ctx context.Context, id string) error {
	return c.doJSON(ctx, &request{method: http.MethodDelete, path: "/webhooks/" + seg(id)}, nil)
}

// WebhookDeliveries returns a webhook's delivery log, newest first (admin).
func (c *Client) WebhookDeliveries(ctx context.Context, id string, limit int) ([]Delivery, error) {
	v := url.Values{}
	if limit > 0 {
		v.Set("limit", strconv.Itoa(limit))
	}
	var out wire.DeliveryList
	return out.Deliveries, c.getJSON(ctx, "/webhooks/"+seg(id)+"/deliveries", v, &out)
}

// Backup streams a consistent copy of the server's index into w (admin)
// and returns the bytes written. A broken stream is an error, never
// retried half way: write to a temporary file and keep it only on success.
func (c *Client) Backup(ctx context.Context, w io.Writer) (int64, error) {
	resp, err := c.do(ctx, &request{method: http.MethodGet, path: "/admin/backup", retryable: true,
		header: http.Header{"Accept": {"application/octet-stream"}}})
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	n, err := io.Copy(w, resp.Body)
	if err != nil {
		return n, fmt.Errorf("backup: %w", err)
	}
	if resp.ContentLength >= 0 && n != resp.ContentLength {
		return n, fmt.Errorf("backup: got %d of %d bytes", n, resp.ContentLength)
	}
	return n, nil
}
