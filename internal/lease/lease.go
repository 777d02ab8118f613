// Package lease is a cluster-wide lease kept in the blob store, so that a
// piece of work (webhook deliveries, retention) runs on one node of a
// cluster at a time and moves to another node when its holder dies.
//
// A lease is a series of create-only epoch objects
//
//	leases/<name>/<20-digit epoch>.json   {"holder": …, "expires": …, "state": …}
//
// and the newest epoch rules. A node acquires the lease by creating the
// epoch after the newest one when that one is expired (or its own); it
// renews by creating the next epoch before its own expires, carrying the
// work's state (webhook delivery cursors) forward; it releases on shutdown
// with an epoch that is already expired. Creation is the store's
// create-only Put (If-None-Match: * on S3, a no-replace link on disk), so
// of two nodes racing for one epoch exactly one wins; the loser reads the
// winner's epoch and waits for it to expire. Only Put, Get, List and
// Delete are used: nothing is ever overwritten. Old epochs are pruned
// (the newest few are kept).
//
// Clocks. The holder stops its work at its own monotonic clock TTL-Skew
// after it sent the epoch's Put; another node takes over only once its
// wall clock is past the epoch's expires (the holder's wall clock at the
// Put, plus TTL) plus Skew. So two nodes never both believe they hold a
// lease as long as their wall clocks differ by less than Skew (default
// 2 s; keep nodes on NTP). Work done under a lease must still tolerate a
// brief overlap (a paused process can outlive its lease): webhook
// deliveries are at least once.
package lease

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/reliquary/reliquary/storage"
)

// Defaults of Config.
const (
	DefaultTTL  = 15 * time.Second
	DefaultSkew = 2 * time.Second
	// keepEpochs is how many of the newest epochs pruning leaves.
	keepEpochs = 3
	// maxRecord bounds the size of an epoch object read back.
	maxRecord = 4 << 20
)

// ErrLost: the lease is no longer held (another node created a newer
// epoch, or it was never acquired).
var ErrLost = errors.New("lease lost")

// Record is the content of one epoch object.
type Record struct {
	Holder  string          `json:"holder"`
	Expires time.Time       `json:"expires"`
	State   json.RawMessage `json:"state,omitempty"`
}

// Config names a lease and its holder.
type Config struct {
	Store storage.BlobStore
	// Name is the lease ("webhooks", "retention"): a single key segment.
	Name string
	// Holder is this node's id (--node-id).
	Holder string
	// TTL is how long an epoch is valid (DefaultTTL); it is renewed every
	// TTL/3.
	TTL time.Duration
	// Skew is the clock skew tolerated between nodes (DefaultSkew); it
	// must be less than TTL/3.
	Skew time.Duration
	Log  *slog.Logger
	// Now is the wall clock written into epochs (time.Now).
	Now func() time.Time
	// Observe, when set, is given the state of another holder's live
	// epoch each time this node finds the lease taken (every TTL/3 in
	// Run): a node that does not hold the lease can still show the work's
	// progress. It must not block.
	Observe func(state json.RawMessage)
}

// Lease is one node's side of a named lease. Its methods are safe for
// concurrent use, but one Lease is meant to be driven by one Run.
type Lease struct {
	cfg Config

	mu       sync.Mutex
	epoch    uint64          // the epoch we created last (while held)
	deadline time.Time       // monotonic: when we must stop the work
	state    json.RawMessage // the state of the epoch we acquired from
	held     atomic.Bool
}

// New checks cfg and fills in its defaults.
func New(cfg Config) (*Lease, error) {
	if cfg.Store == nil {
		return nil, errors.New("lease: no store")
	}
	if cfg.Name == "" || strings.Contains(cfg.Name, "/") || storage.ValidateKey(storage.LeaseKey(cfg.Name, 0)) != nil {
		return nil, fmt.Errorf("lease: name %q is not one key segment", cfg.Name)
	}
	if cfg.Holder == "" {
		return nil, errors.New("lease: no holder id")
	}
	if cfg.TTL <= 0 {
		cfg.TTL = DefaultTTL
	}
	if cfg.Skew <= 0 {
		cfg.Skew = DefaultSkew
	}
	if cfg.Skew >= cfg.TTL/3 {
		return nil, fmt.Errorf("lease %s: clock skew margin %s must be less than a third of the TTL %s", cfg.Name, cfg.Skew, cfg.TTL)
	}
	if cfg.Log == nil {
		cfg.Log = slog.Default()
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Lease{cfg: cfg}, nil
}

// Held reports whether this node holds the lease now.
func (l *Lease) Held() bool {
	if !l.held.Load() {
		return false
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	return time.Now().Before(l.deadline)
}

// Epoch is the epoch this node created last while holding the lease.
func (l *Lease) Epoch() uint64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.epoch
}

// State is the state carried by the epoch this node acquired the lease
// from (the previous holder's last word).
func (l *Lease) State() json.RawMessage {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.state
}

// epochs lists the lease's epochs in ascending order.
func (l *Lease) epochs(ctx context.Context) ([]uint64, error) {
	prefix := storage.LeasePrefix(l.cfg.Name)
	var out []uint64
	err := l.cfg.Store.List(ctx, prefix, func(in storage.Info) error {
		name, ok := strings.CutSuffix(strings.TrimPrefix(in.Key, prefix), ".json")
		if !ok || len(name) != 20 {
			return nil // not an epoch: ignored
		}
		n, err := strconv.ParseUint(name, 10, 64)
		if err == nil {
			out = append(out, n)
		}
		return nil
	})
	return out, err
}

// Newest reads the newest epoch (0 and nil when there is none).
func (l *Lease) Newest(ctx context.Context) (uint64, *Record, error) {
	eps, err := l.epochs(ctx)
	if err != nil || len(eps) == 0 {
		return 0, nil, err
	}
	e := eps[len(eps)-1]
	rc, _, err := l.cfg.Store.Get(ctx, storage.LeaseKey(l.cfg.Name, e), 0, -1)
	if err != nil {
		return e, nil, err
	}
	defer rc.Close()
	raw, err := io.ReadAll(io.LimitReader(rc, maxRecord))
	if err != nil {
		return e, nil, err
	}
	var rec Record
	if err := json.Unmarshal(raw, &rec); err != nil {
		// A damaged epoch blocks nobody: it counts as expired.
		l.cfg.Log.Warn("lease epoch unreadable; treated as expired", "lease", l.cfg.Name, "epoch", e, "err", err)
		return e, &Record{}, nil
	}
	return e, &rec, nil
}

// TryAcquire makes one attempt: it creates the next epoch when the newest
// is expired (by more than Skew) or this node's. False without an error
// means another node holds the lease or won the race.
func (l *Lease) TryAcquire(ctx context.Context) (bool, error) {
	e, rec, err := l.Newest(ctx)
	if errors.Is(err, storage.ErrNotFound) {
		return false, nil // pruned between List and Get: look again later
	}
	if err != nil {
		return false, err
	}
	var state json.RawMessage
	if rec != nil {
		if rec.Holder != l.cfg.Holder && !l.cfg.Now().After(rec.Expires.Add(l.cfg.Skew)) {
			if l.cfg.Observe != nil && len(rec.State) > 0 {
				l.cfg.Observe(rec.State)
			}
			return false, nil
		}
		state = rec.State
	}
	ok, err := l.create(ctx, e+1, state, false)
	if ok {
		l.mu.Lock()
		l.state = state
		l.mu.Unlock()
		l.cfg.Log.Info("lease acquired", "lease", l.cfg.Name, "epoch", e+1, "holder", l.cfg.Holder)
	}
	return ok, err
}

// Renew creates the next epoch carrying state. ErrLost when another node
// created it first; any other error leaves the lease held until its
// deadline (retry sooner).
func (l *Lease) Renew(ctx context.Context, state json.RawMessage) error {
	if !l.Held() {
		l.held.Store(false)
		return ErrLost
	}
	ok, err := l.create(ctx, l.Epoch()+1, state, false)
	if err != nil {
		return err
	}
	if !ok {
		l.held.Store(false)
		return ErrLost
	}
	return nil
}

// Release ends this node's hold with an already-expired epoch carrying
// state, so another node can take over at once.
func (l *Lease) Release(ctx context.Context, state json.RawMessage) error {
	if !l.Held() {
		l.held.Store(false)
		return nil
	}
	_, err := l.create(ctx, l.Epoch()+1, state, true)
	l.held.Store(false)
	if err == nil {
		l.cfg.Log.Info("lease released", "lease", l.cfg.Name, "holder", l.cfg.Holder)
	}
	return err
}

// create writes epoch e; true when it is ours and the newest.
func (l *Lease) create(ctx context.Context, e uint64, state json.RawMessage, release bool) (bool, error) {
	sent := time.Now()
	rec := Record{Holder: l.cfg.Holder, Expires: l.cfg.Now().Add(l.cfg.TTL).UTC(), State: state}
	if release {
		rec.Expires = time.Time{}
	}
	raw, err := json.Marshal(rec)
	if err != nil {
		return false, err
	}
	_, err = l.cfg.Store.Put(ctx, storage.LeaseKey(l.cfg.Name, e), bytes.NewReader(raw), int64(len(raw)),
		storage.PutOptions{ContentType: "application/json"})
	if errors.Is(err, storage.ErrExists) {
		// Ours already, when an earlier attempt whose answer was lost
		// (a timeout) wrote it: settled by reading it back.
		mine, left, rerr := l.mine(ctx, e)
		if rerr != nil || !mine {
			return false, rerr
		}
		sent = time.Now().Add(left - l.cfg.TTL)
	} else if err != nil {
		return false, fmt.Errorf("lease %s epoch %d: %w", l.cfg.Name, e, err)
	}
	// An epoch number re-created after pruning would be stale: ours must
	// be the newest.
	eps, err := l.epochs(ctx)
	if err != nil {
		return false, fmt.Errorf("lease %s: %w", l.cfg.Name, err)
	}
	if len(eps) > 0 && eps[len(eps)-1] != e {
		return false, nil
	}
	l.mu.Lock()
	l.epoch = e
	l.deadline = sent.Add(l.cfg.TTL - l.cfg.Skew)
	l.mu.Unlock()
	l.held.Store(!release)
	for i := 0; i+keepEpochs < len(eps); i++ {
		if err := l.cfg.Store.Delete(ctx, storage.LeaseKey(l.cfg.Name, eps[i])); err != nil {
			l.cfg.Log.Debug("lease prune", "lease", l.cfg.Name, "epoch", eps[i], "err", err)
			break
		}
	}
	return true, nil
}

// mine reads epoch e back: whether this node wrote it, and how long it
// has left by this node's clock.
func (l *Lease) mine(ctx context.Context, e uint64) (bool, time.Duration, error) {
	rc, _, err := l.cfg.Store.Get(ctx, storage.LeaseKey(l.cfg.Name, e), 0, -1)
	if errors.Is(err, storage.ErrNotFound) {
		return false, 0, nil
	}
	if err != nil {
		return false, 0, err
	}
	defer rc.Close()
	var rec Record
	if err := json.NewDecoder(io.LimitReader(rc, maxRecord)).Decode(&rec); err != nil || rec.Holder != l.cfg.Holder {
		return false, 0, nil
	}
	return true, rec.Expires.Sub(l.cfg.Now()), nil
}

// deadlineCtx is ctx bounded by the lease's deadline.
func (l *Lease) deadlineCtx(ctx context.Context) (context.Context, context.CancelFunc) {
	l.mu.Lock()
	d := l.deadline
	l.mu.Unlock()
	return context.WithDeadline(ctx, d)
}

// Run competes for the lease until ctx ends. While this node holds it,
// work runs with a context that ends when the lease is lost (or ctx
// ends), and is given the state the previous holder left; state, when not
// nil, is asked for the state to carry at each renewal and at release.
// On ctx's end the lease is released (after work has returned).
func (l *Lease) Run(ctx context.Context, work func(ctx context.Context, prev json.RawMessage), state func() json.RawMessage) {
	if state == nil {
		state = func() json.RawMessage { return l.State() }
	}
	poll := l.cfg.TTL / 3
	for ctx.Err() == nil {
		ok, err := l.TryAcquire(ctx)
		if err != nil && ctx.Err() == nil {
			l.cfg.Log.Warn("lease acquire", "lease", l.cfg.Name, "err", err)
		}
		if !ok {
			select {
			case <-ctx.Done():
			case <-time.After(poll):
			}
			continue
		}
		wctx, cancel := context.WithCancel(ctx)
		done := make(chan struct{})
		go func() { defer close(done); work(wctx, l.State()) }()
		l.hold(ctx, state)
		cancel()
		<-done
		if ctx.Err() != nil {
			rctx, rcancel := context.WithTimeout(context.Background(), l.cfg.TTL/3)
			if err := l.Release(rctx, state()); err != nil {
				l.cfg.Log.Warn("lease release", "lease", l.cfg.Name, "err", err)
			}
			rcancel()
			return
		}
		l.cfg.Log.Warn("lease lost", "lease", l.cfg.Name, "holder", l.cfg.Holder)
	}
}

// hold renews the lease every TTL/3 until ctx ends or the lease is lost;
// a failed renewal is retried every TTL/10 until the deadline.
func (l *Lease) hold(ctx context.Context, state func() json.RawMessage) {
	wait := l.cfg.TTL / 3
	for {
		l.mu.Lock()
		left := time.Until(l.deadline)
		l.mu.Unlock()
		select {
		case <-ctx.Done():
			return
		case <-time.After(min(wait, left)):
		}
		rctx, cancel := l.deadlineCtx(ctx)
		err := l.Renew(rctx, state())
		cancel()
		switch {
		case err == nil:
			wait = l.cfg.TTL / 3
		case errors.Is(err, ErrLost) || !l.Held():
			l.held.Store(false)
			return
		default:
			if ctx.Err() == nil {
				l.cfg.Log.Warn("lease renew", "lease", l.cfg.Name, "err", err)
			}
			wait = l.cfg.TTL / 10
		}
	}
}
