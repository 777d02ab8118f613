package library

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/url"
	"slices"
	"strings"

	"github.com/reliquary/reliquary/internal/journal"
)

// Webhooks: registration (target check, id and secret), listing and
// deletion within the caller's scope, and the delivery log (DESIGN §8).

// WebhookInput registers a webhook.
type WebhookInput struct {
	URL    string
	Types  []string
	Secret string
}

// WebhookState is a webhook with how far its deliveries got.
type WebhookState struct {
	*Webhook
	// DeliveredSeq is the last event delivered (or given up on).
	DeliveredSeq uint64
}

func nonNilStrings(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// CreateWebhook registers a webhook: an absolute http(s) URL that reaches
// no private address (unless the service allows them), valid event type
// patterns, and a secret of 16 to 256 characters (one is generated when
// none is given). The answer holds the secret; no later one does.
func (s *Service) CreateWebhook(ctx context.Context, pr Principal, in WebhookInput) (*Webhook, error) {
	u, err := url.Parse(in.URL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil || len(in.URL) > 2048 {
		return nil, withDetails(ErrInvalidInput, "url must be an absolute http(s) URL without credentials", map[string]any{"field": "url"})
	}
	if !s.hookAllowPrivate {
		if err := journal.CheckTargetURL(ctx, u); err != nil {
			return nil, withDetails(ErrWebhookTargetForbidden,
				"the webhook URL must not reach a loopback, private, link-local or unique-local address (see --webhook-allow-private): "+err.Error(),
				map[string]any{"field": "url"})
		}
	}
	for _, t := range in.Types {
		if t == "" || len(t) > 64 || strings.ContainsAny(t, " ,\t\n") {
			return nil, withDetails(ErrInvalidInput, fmt.Sprintf("event type %q is not valid", t), map[string]any{"field": "types"})
		}
	}
	if in.Secret == "" {
		var b [24]byte
		_, _ = rand.Read(b[:])
		in.Secret = hex.EncodeToString(b[:])
	} else if len(in.Secret) < 16 || len(in.Secret) > 256 {
		return nil, withDetails(ErrInvalidInput, "secret must be 16 to 256 characters", map[string]any{"field": "secret"})
	}
	var b [8]byte
	_, _ = rand.Read(b[:])
	w := &journal.Webhook{ID: "wh_" + hex.EncodeToString(b[:]), URL: in.URL, Types: nonNilStrings(in.Types), Secret: in.Secret,
		CreatedBy: pr.Name, CreatedAt: s.clock(), Products: pr.Products}
	// The event names the hook by id and host: a URL's path and query may
	// be a secret (incoming-webhook URLs), and the journal leaves the node.
	ev := Event{Time: w.CreatedAt, Actor: pr.Name, Type: EvWebhookCreated, Subject: w.ID,
		Data: map[string]any{"id": w.ID, "host": u.Host, "types": w.Types}}
	if err := s.journal.CreateWebhook(w, ev); err != nil {
		return nil, err
	}
	s.notifier.Notify()
	return w, nil
}

// Webhooks lists the webhooks the principal may see (callers show no
// secret).
func (s *Service) Webhooks(_ context.Context, pr Principal) ([]WebhookState, error) {
	hooks, state, err := s.journal.Webhooks()
	if err != nil {
		return nil, err
	}
	out := []WebhookState{}
	for _, w := range hooks {
		if hookVisible(pr, w) {
			out = append(out, WebhookState{Webhook: w, DeliveredSeq: state[w.ID]})
		}
	}
	return out, nil
}

// DeleteWebhook removes a webhook the principal may see.
func (s *Service) DeleteWebhook(_ context.Context, pr Principal, id string) error {
	if err := s.hookFound(pr, id); err != nil {
		return err
	}
	ev := Event{Time: s.clock(), Actor: pr.Name, Type: EvWebhookDeleted, Subject: id, Data: map[string]any{"id": id}}
	if err := s.journal.DeleteWebhook(id, ev); err != nil {
		return err
	}
	s.notifier.Notify()
	return nil
}

// WebhookDeliveries is the delivery log of a webhook the principal may
// see, newest first.
func (s *Service) WebhookDeliveries(_ context.Context, pr Principal, id string, limit int) ([]Delivery, error) {
	if err := s.hookFound(pr, id); err != nil {
		return nil, err
	}
	list, err := s.journal.Deliveries(id, limit)
	if list == nil && err == nil {
		list = []Delivery{}
	}
	return list, err
}

// hookFound fails with ErrWebhookNotFound unless the webhook exists and
// the principal may see it (a scoped admin sees only its own hooks).
func (s *Service) hookFound(pr Principal, id string) error {
	hooks, _, err := s.journal.Webhooks()
	if err != nil {
		return err
	}
	if !slices.ContainsFunc(hooks, func(w *journal.Webhook) bool { return w.ID == id && hookVisible(pr, w) }) {
		return withDetails(ErrWebhookNotFound, "webhook "+id+" not found", nil)
	}
	return nil
}

// hookVisible reports whether the principal may see and delete a webhook:
// an unscoped admin every one; a scoped admin only the hooks it registered
// itself (same name, a scope within its own).
func hookVisible(pr Principal, w *journal.Webhook) bool {
	if len(pr.Products) == 0 {
		return true
	}
	return w.CreatedBy == pr.Name && len(w.Products) > 0 &&
		!slices.ContainsFunc(w.Products, func(p string) bool { return !pr.CanAccess(p) })
}
