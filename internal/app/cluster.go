package app

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/reliquary/reliquary/internal/index"
	"github.com/reliquary/reliquary/internal/journal"
	"github.com/reliquary/reliquary/internal/library"
	"github.com/reliquary/reliquary/storage"
)

// The bucket's journal is the commit point (DESIGN §9). A transaction is
// committed when its object journal/<20-digit seq>.json is created in the
// store (create-only: If-None-Match on S3, a no-replace link on disk); the
// index applies it only then. Other nodes' commits reach this node through
// the follower, which reads journal/<head+1>.json until it is missing.

// commitAttempts bounds the PUTs of one commit whose outcome stays unknown.
const commitAttempts = 3

// commitTimeout bounds one commit's store calls.
const commitTimeout = 10 * time.Second

// storeDownPause is how long a node refuses commits without trying the
// store after a commit found the store unavailable: commits are serial
// (bbolt has one writer), so without it every write queued behind a hung
// store would wait out its own timeout before its 503.
const storeDownPause = time.Second

// bucketCommitter is index.Committer on the blob store.
type bucketCommitter struct {
	store  storage.BlobStore
	nodeID string
	log    *slog.Logger
	// now is the clock of the store-down pause (nil: time.Now).
	now func() time.Time
	// downUntil (unix nanoseconds) ends the current store-down pause.
	downUntil atomic.Int64
}

func (c *bucketCommitter) clock() time.Time {
	if c.now != nil {
		return c.now()
	}
	return time.Now()
}

// Commit creates the transaction's journal object. nil: committed (by this
// call, or by an earlier attempt whose answer was lost, recognised by its
// bytes: the object carries this transaction's event hashes, its time to
// the nanosecond and its actor, which no other transaction repeats).
// index.ErrLostRace: another node's transaction holds the seq. Anything
// else is storage.ErrUnavailable: the write is refused, nothing applied
// (when a lost answer hid a commit after all, the follower applies it).
func (c *bucketCommitter) Commit(ctx context.Context, evs []*journal.Event) error {
	if until := c.downUntil.Load(); c.clock().UnixNano() < until {
		return fmt.Errorf("journal commit: the store did not answer the last commit; retrying it after %s: %w",
			time.Unix(0, until).UTC().Format(time.RFC3339Nano), storage.ErrUnavailable)
	}
	err := c.commit(ctx, evs)
	if errors.Is(err, storage.ErrUnavailable) {
		c.downUntil.Store(c.clock().Add(storeDownPause).UnixNano())
	}
	return err
}

func (c *bucketCommitter) commit(ctx context.Context, evs []*journal.Event) error {
	body, err := journal.EncodeObject(evs)
	if err != nil {
		return err
	}
	key := storage.JournalKey(evs[0].Seq)
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), commitTimeout)
	defer cancel()
	var last error
	for range commitAttempts {
		_, err := c.store.Put(ctx, key, bytes.NewReader(body), int64(len(body)), storage.PutOptions{ContentType: "application/json",
			Metadata: map[string]string{"reliquary-writer": c.nodeID}})
		if err == nil {
			return nil
		}
		if !errors.Is(err, storage.ErrExists) {
			c.log.Warn("journal commit: the store's answer is unknown; reading the object back", "key", key, "err", err)
		}
		// ErrExists, or an unknown outcome: whose object is it?
		ours, rerr := c.readBack(ctx, key, body)
		switch {
		case rerr == nil && ours:
			return nil
		case rerr == nil:
			return fmt.Errorf("%s: %w", key, index.ErrLostRace)
		case errors.Is(rerr, storage.ErrNotFound) && !errors.Is(err, storage.ErrExists):
			last = err // absent: the PUT did not land; the same bytes again are safe
			continue
		default:
			last = errors.Join(err, rerr)
		}
		if ctx.Err() != nil {
			break
		}
	}
	return fmt.Errorf("journal commit of %s: %w: %w", key, storage.ErrUnavailable, last)
}

// readBack compares the object at key with body.
func (c *bucketCommitter) readBack(ctx context.Context, key string, body []byte) (bool, error) {
	rc, _, err := c.store.Get(ctx, key, 0, -1)
	if err != nil {
		return false, err
	}
	defer rc.Close()
	have, err := io.ReadAll(io.LimitReader(rc, int64(len(body))+1))
	if err != nil {
		return false, err
	}
	return bytes.Equal(have, body), nil
}

// pollInterval is how often an idle node looks for the next journal object.
const pollInterval = 200 * time.Millisecond

// follower applies the events other nodes commit: it reads
// journal/<head+1>.json until the store says it is missing, verifies each
// against the chain and applies it (index.AppendJournal, which also wakes
// the event feed and the webhook workers). A journal object that does not
// continue the chain is a fork or a foreign bucket: readiness fails with
// it and nothing is applied.
type follower struct {
	store storage.BlobStore
	ix    *index.Index
	log   *slog.Logger
	poke  chan struct{}

	mu      sync.Mutex // one pull at a time
	err     atomic.Pointer[error]
	applied *journal.Notifier
}

func newFollower(store storage.BlobStore, ix *index.Index, log *slog.Logger) *follower {
	return &follower{store: store, ix: ix, log: log, poke: make(chan struct{}, 1), applied: journal.NewNotifier()}
}

// Err is the readiness check: a journal object that would fork the chain.
func (f *follower) Err() error {
	if p := f.err.Load(); p != nil {
		return *p
	}
	return nil
}

// pull applies every event the bucket holds beyond the index's head.
func (f *follower) pull(ctx context.Context) (int, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	n := 0
	for {
		head, _, err := f.ix.Head()
		if err != nil {
			return n, err
		}
		evs, err := f.read(ctx, head+1)
		if errors.Is(err, storage.ErrNotFound) {
			return n, nil
		}
		if err != nil {
			return n, err
		}
		k, err := f.ix.ApplyCommitted(evs)
		if err != nil {
			if errors.Is(err, journal.ErrBroken) {
				ferr := fmt.Errorf("the bucket's journal object %s does not continue this node's chain (a fork, or another library's bucket): %w",
					storage.JournalKey(head+1), err)
				f.err.Store(&ferr)
				return n, ferr
			}
			return n, err
		}
		n += k
		f.applied.Notify()
	}
}

func (f *follower) read(ctx context.Context, seq uint64) ([]*journal.Event, error) {
	rc, _, err := f.store.Get(ctx, storage.JournalKey(seq), 0, -1)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	body, err := io.ReadAll(io.LimitReader(rc, 64<<20))
	if err != nil {
		return nil, err
	}
	return journal.DecodeObject(seq, body)
}

// run polls until ctx ends; a poke polls at once.
func (f *follower) run(ctx context.Context) {
	backoff := pollInterval
	for {
		if f.Err() == nil {
			if _, err := f.pull(ctx); err != nil && ctx.Err() == nil {
				if f.Err() == nil {
					f.log.Warn("journal follower: cannot read the bucket's journal; retrying", "err", err, "retry_in", backoff)
				} else {
					f.log.Error("journal follower stopped; /readyz reports it", "err", err)
				}
				backoff = min(backoff*2, 5*time.Second)
			} else {
				backoff = pollInterval
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-f.poke:
		case <-time.After(backoff):
		}
	}
}

// WaitForSeq implements library.Cluster: it reads the bucket's journal at
// once (not at the next poll) and again until event n is applied or ctx
// ends.
func (f *follower) WaitForSeq(ctx context.Context, n uint64) error {
	for {
		wake := f.applied.Wait()
		head, _, err := f.ix.Head()
		if err != nil {
			return err
		}
		if head >= n {
			return nil
		}
		if f.Err() == nil {
			if k, err := f.pull(ctx); err == nil && k > 0 {
				continue
			}
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("this node has applied the journal up to seq %d, not %d: %w", head, n, library.ErrNotCaughtUp)
		case <-wake:
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// SyncToBucketHead implements library.Cluster: the node applies
// everything the bucket holds now (a linearizable read follows).
func (f *follower) SyncToBucketHead(ctx context.Context) error {
	if err := f.Err(); err != nil {
		return err
	}
	_, err := f.pull(ctx)
	if err != nil && !errors.Is(err, journal.ErrBroken) {
		return fmt.Errorf("read the bucket's journal: %w", errors.Join(err, storage.ErrUnavailable))
	}
	return err
}

// NodeIDFile holds a node's generated id under its data dir.
const NodeIDFile = "node-id"

var nodeIDPattern = regexp.MustCompile(`^[A-Za-z0-9_-][A-Za-z0-9._-]{0,63}$`)

// ValidateNodeID checks a --node-id: 1-64 letters, digits, '.', '_' or
// '-', not starting with '.' (it names objects in the bucket).
func ValidateNodeID(id string) error {
	if !nodeIDPattern.MatchString(id) {
		return fmt.Errorf("%q must be 1-64 letters, digits, '.', '_' or '-', not starting with '.'", id)
	}
	return nil
}

// loadNodeID is --node-id, or the id kept in <data-dir>/node-id (made on
// first start).
func loadNodeID(dataDir, flag string) (string, error) {
	if flag != "" {
		return flag, ValidateNodeID(flag)
	}
	path := filepath.Join(dataDir, NodeIDFile)
	if b, err := os.ReadFile(path); err == nil {
		if id := strings.TrimSpace(string(b)); id != "" {
			if err := ValidateNodeID(id); err != nil {
				return "", fmt.Errorf("node id in %s: %w", path, err)
			}
			return id, nil
		}
	} else if !errors.Is(err, os.ErrNotExist) {
		return "", fmt.Errorf("node id: %w", err)
	}
	var r [8]byte
	if _, err := rand.Read(r[:]); err != nil {
		return "", err
	}
	id := "node-" + hex.EncodeToString(r[:])
	if err := os.WriteFile(path, []byte(id+"\n"), 0o600); err != nil {
		return "", fmt.Errorf("node id: %w", err)
	}
	return id, nil
}
