package journal

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"strconv"
	"sync"
	"time"
)

// HookStore is the durable state of webhooks.
type HookStore interface {
	Webhooks() ([]*Webhook, map[string]uint64, error)
	HookNext(id string) (uint64, bool, error)
	AdvanceHook(id string, seq uint64, d *Delivery) error
}

// Dispatcher delivers events to webhooks: one worker per hook, in seq
// order, each event retried with exponential backoff and jitter until the
// receiver answers 2xx. A hook's position is durable, so a restart resumes
// with the first event not yet acknowledged: nothing is lost or skipped
// (delivery is at least once; receivers dedupe on X-Reliquary-Delivery).
type Dispatcher struct {
	Source   Source
	Hooks    HookStore
	Notifier *Notifier
	Client   *http.Client
	Log      *slog.Logger
	// MinBackoff and MaxBackoff bound the retry delays (500ms and 5m).
	MinBackoff, MaxBackoff time.Duration
	// Poll is the longest pause between checks for new hooks (default 2s).
	Poll time.Duration
	// AllowPrivate lets deliveries reach loopback, private and link-local
	// addresses (--webhook-allow-private); used when Client is nil.
	AllowPrivate bool

	mu      sync.Mutex
	workers map[string]context.CancelFunc
}

// Run supervises the hook workers until ctx ends.
func (d *Dispatcher) Run(ctx context.Context) {
	if d.MinBackoff == 0 {
		d.MinBackoff = 500 * time.Millisecond
	}
	if d.MaxBackoff == 0 {
		d.MaxBackoff = 5 * time.Minute
	}
	if d.Poll == 0 {
		d.Poll = 2 * time.Second
	}
	if d.Client == nil {
		d.Client = TargetClient(d.AllowPrivate, 30*time.Second)
	}
	d.workers = map[string]context.CancelFunc{}
	var wg sync.WaitGroup
	defer wg.Wait()
	for {
		wake := d.Notifier.Wait()
		hooks, _, err := d.Hooks.Webhooks()
		if err != nil {
			d.Log.Warn("list webhooks", "err", err)
		}
		live := map[string]bool{}
		for _, h := range hooks {
			if h.Unreadable != "" {
				continue // sealed under another --secrets-key: not ours to deliver
			}
			live[h.ID] = true
			d.mu.Lock()
			if _, ok := d.workers[h.ID]; !ok {
				wctx, cancel := context.WithCancel(ctx)
				d.workers[h.ID] = cancel
				wg.Add(1)
				go func(h *Webhook) { defer wg.Done(); d.work(wctx, h) }(h)
			}
			d.mu.Unlock()
		}
		d.mu.Lock()
		for id, cancel := range d.workers {
			if !live[id] {
				cancel()
				delete(d.workers, id)
			}
		}
		d.mu.Unlock()
		select {
		case <-ctx.Done():
			return
		case <-wake:
		case <-time.After(d.Poll):
		}
	}
}

func (d *Dispatcher) work(ctx context.Context, h *Webhook) {
	for ctx.Err() == nil {
		wake := d.Notifier.Wait()
		next, ok, err := d.Hooks.HookNext(h.ID)
		if err != nil || !ok {
			return // deleted
		}
		evs, err := d.Source.EventsAfter(next-1, 100)
		if err != nil {
			d.Log.Warn("webhook worker read journal", "hook", h.ID, "err", err)
		}
		for _, e := range evs {
			if !h.Matches(e.Type) || !h.Viewer().Visible(e) {
				if err := d.Hooks.AdvanceHook(h.ID, e.Seq, nil); err != nil {
					d.Log.Warn("webhook advance", "hook", h.ID, "err", err)
					break
				}
				continue
			}
			if !d.deliver(ctx, h, e) {
				return
			}
		}
		if len(evs) > 0 {
			continue
		}
		select {
		case <-ctx.Done():
			return
		case <-wake:
		case <-time.After(d.Poll):
		}
	}
}

// deliver posts one event until it is acknowledged; false when ctx ended.
func (d *Dispatcher) deliver(ctx context.Context, h *Webhook, e *Event) bool {
	body, err := json.Marshal(Public(e))
	if err != nil {
		d.Log.Error("webhook payload", "seq", e.Seq, "err", err)
		return false
	}
	sig := Sign(h.Secret, body)
	for attempt := 1; ; attempt++ {
		del := d.post(ctx, h, e, body, sig, attempt)
		if ctx.Err() != nil {
			return false
		}
		if err := d.Hooks.AdvanceHook(h.ID, e.Seq, &del); err != nil {
			d.Log.Warn("webhook record delivery", "hook", h.ID, "err", err)
		}
		if del.OK {
			return true
		}
		wait := min(d.MaxBackoff, d.MinBackoff<<min(attempt-1, 20))
		wait = wait/2 + rand.N(wait/2+1) // jitter in [wait/2, wait]
		d.Log.Info("webhook delivery failed; retrying", "hook", h.ID, "seq", e.Seq, "attempt", attempt,
			"status", del.StatusCode, "err", del.Error, "retry_in", wait)
		select {
		case <-ctx.Done():
			return false
		case <-time.After(wait):
		}
		if _, ok, _ := d.Hooks.HookNext(h.ID); !ok {
			return false // deleted while failing
		}
	}
}

func (d *Dispatcher) post(ctx context.Context, h *Webhook, e *Event, body []byte, sig string, attempt int) Delivery {
	start := time.Now()
	del := Delivery{Seq: e.Seq, Type: e.Type, Attempt: attempt, At: start.UTC()}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, h.URL, bytes.NewReader(body))
	if err != nil {
		del.Error = err.Error()
		return del
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "reliquary-webhook")
	req.Header.Set(HeaderSignature, sig)
	req.Header.Set(HeaderEvent, e.Type)
	req.Header.Set(HeaderDelivery, h.ID+"-"+strconv.FormatUint(e.Seq, 10))
	resp, err := d.Client.Do(req)
	del.DurationMS = time.Since(start).Milliseconds()
	if err != nil {
		del.Error = err.Error()
		return del
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
	del.StatusCode = resp.StatusCode
	del.OK = resp.StatusCode >= 200 && resp.StatusCode < 300
	if !del.OK {
		del.Error = fmt.Sprintf("receiver answered %d", resp.StatusCode)
	}
	return del
}
