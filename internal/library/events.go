package library

import (
	"context"
	"os"
	"strings"
	"time"

	"github.com/reliquary/reliquary/internal/journal"
)

// The journal as callers see it: the public event feed with its scope and
// long-poll wait, and the audit log (DESIGN §8 "Scope", "Bounded memory").

// Journal is what the feed, the audit, webhooks and backups need of the
// index (internal/index implements it).
type Journal interface {
	EventsAfter(after uint64, limit int) ([]*journal.Event, error)
	// ScanEvents calls fn with each event after `after`, in order, until
	// fn returns false, in one short read transaction (fn must not do I/O).
	ScanEvents(after uint64, fn func(e *journal.Event, size int) bool) error
	Head() (uint64, string, error)
	VerifyJournal() (journal.VerifyReport, error)
	CreateWebhook(w *journal.Webhook, ev Event) error
	DeleteWebhook(id string, ev Event) error
	Webhooks() ([]*journal.Webhook, map[string]uint64, error)
	Deliveries(id string, limit int) ([]journal.Delivery, error)
	// Snapshot copies the index to a temporary file (a short read
	// transaction) that the backup then streams.
	Snapshot() (*os.File, int64, error)
}

// Journal types as the library's callers see them.
type (
	// JournalEvent is one committed event of the journal.
	JournalEvent = journal.Event
	// VerifyReport is the result of checking the journal's hash chain.
	VerifyReport = journal.VerifyReport
	// Webhook is a registered webhook.
	Webhook = journal.Webhook
	// Delivery is one attempt to deliver one event to one webhook.
	Delivery = journal.Delivery
)

// Journal errors.
var (
	// ErrWebhookNotFound: no such webhook, or one the caller may not see.
	ErrWebhookNotFound = journal.ErrWebhookNotFound
	// ErrJournalBroken: the journal's hash chain does not verify.
	ErrJournalBroken = journal.ErrBroken
	// ErrWebhookTargetForbidden: a webhook URL reaches a loopback,
	// private, link-local or unique-local address.
	ErrWebhookTargetForbidden = journal.ErrTargetForbidden
)

// MaxEventPage is the largest limit of one page of the feed or the audit.
const MaxEventPage = 1000

// maxEventScan bounds how many journal events one request looks at.
const maxEventScan = MaxEventPage

// ChunkBytes is how much of a page is gathered (in one short read
// transaction) before it is written.
const ChunkBytes = 256 << 10

// MatchType reports whether an event type matches a pattern of a feed's
// type filter or of a webhook: the type itself, or a family ending in
// ".*" ("release.*" matches "release.approved", not "release").
func MatchType(pattern, typ string) bool { return journal.MatchType(pattern, typ) }

// EventQuery selects a page of the public feed.
type EventQuery struct {
	// After is the last seq the caller has seen.
	After uint64
	// Limit is the page size (0: 100; at most MaxEventPage).
	Limit int
	// Wait is how long to wait for the first event (long poll).
	Wait time.Duration
	// Types filters by event type (MatchType patterns); empty: all.
	Types []string
	// Product filters by the product an event concerns.
	Product string
}

// viewer is the principal's view of the journal.
func viewer(pr Principal) journal.Viewer {
	return journal.Viewer{Admin: pr.Role >= RoleAdmin, Products: pr.Products}
}

// feedProduct is the product an event concerns ("" for none): the part of
// its subject before "@".
func feedProduct(e *journal.Event) string {
	if strings.HasPrefix(e.Type, "token.") || strings.HasPrefix(e.Type, "webhook.") || strings.HasPrefix(e.Type, "baseline.") {
		return ""
	}
	p, _, _ := strings.Cut(e.Subject, "@")
	if ValidateProductName(p) != nil {
		return ""
	}
	return p
}

// Events opens a page of the feed: public events (no index changes) in seq
// order, filtered by type and product and by the principal's product
// scope, waiting up to q.Wait for the first one. It returns when the page
// has its first chunk; ctx ending during the wait is its error.
func (s *Service) Events(ctx context.Context, pr Principal, q EventQuery) (*EventCursor, error) {
	if q.Product != "" {
		if err := ValidateProductName(q.Product); err != nil {
			return nil, err
		}
	}
	if q.Limit == 0 {
		q.Limit = 100
	}
	v := viewer(pr)
	pick := func(e *journal.Event) *journal.Event {
		if len(q.Types) > 0 && !matchAny(q.Types, e.Type) {
			return nil
		}
		if q.Product != "" && feedProduct(e) != q.Product {
			return nil
		}
		if !v.Visible(e) {
			return nil
		}
		return journal.Public(e)
	}
	after := q.After
	deadline := time.Now().Add(q.Wait)
	for {
		wake := s.notifier.Wait()
		ec := &EventCursor{s: s, next: after, limit: q.Limit, pick: pick}
		if err := ec.fill(); err != nil {
			return nil, err
		}
		if len(ec.pending) > 0 || !ec.end || !time.Now().Before(deadline) {
			return ec, nil
		}
		after = ec.next // nothing here for this caller: wait past it
		select {
		case <-wake:
		case <-time.After(time.Until(deadline)):
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}

func matchAny(patterns []string, typ string) bool {
	for _, p := range patterns {
		if MatchType(p, typ) {
			return true
		}
	}
	return false
}

// Audit opens a page of the audit log: every event the principal may see,
// with its index changes redacted.
func (s *Service) Audit(_ context.Context, pr Principal, after uint64, limit int) (*EventCursor, error) {
	if limit == 0 {
		limit = 100
	}
	v := viewer(pr)
	ec := &EventCursor{s: s, next: after, limit: limit, pick: func(e *journal.Event) *journal.Event {
		if !v.Visible(e) {
			return nil
		}
		return journal.Redact(e)
	}}
	if err := ec.fill(); err != nil {
		return nil, err
	}
	return ec, nil
}

// VerifyJournal checks the journal's hash chain.
func (s *Service) VerifyJournal(context.Context) (VerifyReport, error) {
	return s.journal.VerifyJournal()
}

// EventCursor is one page of events, read a chunk at a time: each chunk
// in one short read transaction, so a page holds at most about ChunkBytes
// of events in memory while it is written.
type EventCursor struct {
	s                     *Service
	pick                  func(*journal.Event) *journal.Event
	next                  uint64 // the last seq looked at
	limit                 int
	count, scanned, bytes int
	done                  bool // the page is complete (limit, scan or size bound)
	end                   bool // the last chunk reached the end of the journal
	pending               []*journal.Event
	started               bool
}

// Next returns the page's next chunk of events, nil at the page's end.
func (ec *EventCursor) Next() ([]*journal.Event, error) {
	if !ec.started {
		ec.started = true
		evs := ec.pending
		ec.pending = nil
		if evs != nil {
			return evs, nil
		}
	}
	if ec.end || ec.done {
		return nil, nil
	}
	if err := ec.fill(); err != nil {
		return nil, err
	}
	evs := ec.pending
	ec.pending = nil
	return evs, nil
}

// NextAfter is the `after` of the next page: the last seq looked at.
func (ec *EventCursor) NextAfter() uint64 { return ec.next }

// fill gathers the page's next events that pick keeps (pick returns the
// event to serve, or nil to skip it), up to ChunkBytes, in one read
// transaction.
func (ec *EventCursor) fill() error {
	chunk := 0
	ec.end = true
	var evs []*journal.Event
	err := ec.s.journal.ScanEvents(ec.next, func(e *journal.Event, _ int) bool {
		if ec.count >= ec.limit || ec.scanned >= maxEventScan {
			ec.done, ec.end = true, false
			return false
		}
		out := ec.pick(e)
		if out == nil {
			ec.scanned++
			ec.next = e.Seq
			return true
		}
		n := len(out.Data) + 256
		if ec.count > 0 && ec.bytes+n > MaxPageBytes {
			ec.done, ec.end = true, false
			return false
		}
		if len(evs) > 0 && chunk+n > ChunkBytes {
			ec.end = false // the page goes on in the next chunk
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
	ec.pending = evs
	return err
}
