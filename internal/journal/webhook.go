package journal

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"time"
)

// ErrWebhookNotFound: no hook with that id.
var ErrWebhookNotFound = errors.New("webhook not found")

// Webhook is a subscription: matching events are POSTed to URL, in order,
// at least once, each body signed with HMAC-SHA256 of Secret.
type Webhook struct {
	ID        string    `json:"id"`
	URL       string    `json:"url"`
	Types     []string  `json:"types"` // event types; empty means every type
	Secret    string    `json:"secret,omitempty"`
	CreatedBy string    `json:"created_by"`
	CreatedAt time.Time `json:"created_at"`
	// Products is the scope of the admin who registered the hook (empty:
	// unscoped): the hook receives only events that scope may see.
	Products []string `json:"products,omitempty"`
	// Unreadable, when set, says why this node cannot unseal the hook's
	// URL and secret (a record sealed under another --secrets-key): the
	// hook is listed but not delivered to from here.
	Unreadable string `json:"-"`
}

// Viewer is the hook's view of the journal: an admin with the scope of
// the admin who registered it.
func (w *Webhook) Viewer() Viewer { return Viewer{Admin: true, Products: w.Products} }

// Matches reports whether the hook wants events of type t. A type ending in
// ".*" matches a family ("release.*").
func (w *Webhook) Matches(t string) bool {
	if len(w.Types) == 0 {
		return true
	}
	for _, want := range w.Types {
		if MatchType(want, t) {
			return true
		}
	}
	return false
}

// Delivery is one attempt to deliver one event to one hook.
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

// Signature headers of webhook deliveries.
const (
	HeaderSignature = "X-Reliquary-Signature" // sha256=<hex HMAC-SHA256(secret, body)>
	HeaderEvent     = "X-Reliquary-Event"
	HeaderDelivery  = "X-Reliquary-Delivery"
)

// Sign returns the value of the signature header for body.
func Sign(secret string, body []byte) string {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write(body)
	return "sha256=" + hex.EncodeToString(m.Sum(nil))
}

// VerifySignature checks a signature header in constant time.
func VerifySignature(secret string, body []byte, header string) bool {
	return hmac.Equal([]byte(Sign(secret, body)), []byte(header))
}

// Public is the event as the feed and webhooks show it: redacted (see
// Redact) and without the index changes it carries (those are for audit,
// mirror and rebuild).
func Public(e *Event) *Event { return redact(e, true) }
