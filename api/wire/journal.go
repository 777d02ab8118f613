package wire

import (
	"encoding/json"
	"time"
)

// Event is one journal event. Hash = sha256(prev_hash || canonical event).
type Event struct {
	Seq      uint64          `json:"seq"`
	Time     time.Time       `json:"time"`
	Actor    string          `json:"actor"`
	Type     string          `json:"type"`
	Subject  string          `json:"subject"`
	Data     json.RawMessage `json:"data"`
	PrevHash string          `json:"prev_hash"`
	Hash     string          `json:"hash"`
}

// EventPage is a page of the feed or the audit log; NextAfter is the
// `after` of the next request.
type EventPage struct {
	Events    []Event `json:"events"`
	NextAfter uint64  `json:"next_after"`
}

// AuditReport is the server's verification of its journal's hash chain.
type AuditReport struct {
	OK        bool   `json:"ok"`
	Events    uint64 `json:"events"`
	HeadSeq   uint64 `json:"head_seq"`
	HeadHash  string `json:"head_hash"`
	BrokenSeq uint64 `json:"broken_seq,omitempty"`
	Reason    string `json:"reason,omitempty"`
}

// WebhookInput registers a webhook; Secret signs deliveries (HMAC-SHA256).
type WebhookInput struct {
	URL    string   `json:"url"`
	Types  []string `json:"types,omitempty"`
	Secret string   `json:"secret,omitempty"`
}

// Webhook is a registered webhook; Secret is set only in the answer of
// CreateWebhook.
type Webhook struct {
	ID           string    `json:"id"`
	URL          string    `json:"url"`
	Types        []string  `json:"types"`
	CreatedBy    string    `json:"created_by"`
	CreatedAt    time.Time `json:"created_at"`
	DeliveredSeq uint64    `json:"delivered_seq"`
	Secret       string    `json:"secret,omitempty"`
}

// Delivery is one delivery attempt of a webhook.
type Delivery struct {
	Seq        uint64    `json:"seq"`
	Type       string    `json:"type"`
	Attempt    int       `json:"attempt"`
	At         time.Time `json:"at"`
	StatusCode int       `json:"status_code"`
	Error      string    `json:"error,omitempty"`
	DurationMS int64     `json:"duration_ms"`
	OK         bool      `json:"ok"`
}

// WebhookList is the answer of GET /webhooks.
type WebhookList struct {
	Webhooks []Webhook `json:"webhooks"`
}

// DeliveryList is the delivery log of one webhook, newest first.
type DeliveryList struct {
	Deliveries []Delivery `json:"deliveries"`
}
