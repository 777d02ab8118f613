package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/reliquary/reliquary/internal/index"
	"github.com/reliquary/reliquary/internal/journal"
	"github.com/reliquary/reliquary/internal/signing"
	"github.com/reliquary/reliquary/storage"
)

// errCatchingUp is the readiness state of a fresh index whose bucket could
// not be read at start: it catches up (then bootstraps) once it can.
var errCatchingUp = errors.New("catching up from the bucket's journal: the store has not answered yet")

// catchUp brings the index level with the bucket's journal before the
// server serves (and before the signing key is loaded or generated, and
// the bootstrap admin written):
//   - a data dir without its signing key over a bucket that already holds
//     a journal refuses to start: a new key would be generated silently and
//     nothing the library signed would verify with it;
//   - the events the bucket's journal has beyond the index (a restored hot
//     backup is behind the bucket; a fresh data dir has nothing) are
//     replayed into the index, so it never serves an empty or stale library;
//   - a foreign journal (the bucket and the index differ) is not fatal:
//     /readyz fails with it, naming the fix;
//   - a fresh index whose store does not answer at start starts not ready
//     and catches up in the background once the store answers.
type catchUp struct {
	dataDir string
	store   storage.BlobStore
	ix      *index.Index
	log     *slog.Logger
	// keyed: the library's key was there before this start (a file in
	// the data dir, or --signing-key).
	keyed bool

	mu    sync.Mutex
	state error // nil, errCatchingUp, a foreign journal, or a fatal reason
}

func newCatchUp(dataDir, signingKey string, store storage.BlobStore, ix *index.Index, log *slog.Logger) *catchUp {
	keyed := signingKey != ""
	if _, err := os.Stat(filepath.Join(dataDir, signing.DefaultKeyFile)); err == nil {
		keyed = true
	}
	return &catchUp{dataDir: dataDir, store: store, ix: ix, log: log, keyed: keyed}
}

// Err is the readiness check.
func (c *catchUp) Err() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.state
}

func (c *catchUp) set(err error) {
	c.mu.Lock()
	c.state = err
	c.mu.Unlock()
}

// pending reports whether the start-up attempt could not reach the store.
func (c *catchUp) pending() bool { return errors.Is(c.Err(), errCatchingUp) }

// attempt is one try; the error is fatal (refuse to start).
func (c *catchUp) attempt(ctx context.Context) error {
	head, _, err := c.ix.Head()
	if err != nil {
		return err
	}
	has, err := journal.HasJournal(ctx, c.store)
	if errors.Is(err, storage.ErrUnavailable) {
		if head > 0 {
			c.log.Warn("cannot reach the bucket to compare its journal with the index; serving the index as it is", "err", err)
			return nil
		}
		c.log.Warn("cannot reach the bucket to catch up from its journal; not ready until it answers", "err", err)
		c.set(errCatchingUp)
		return nil
	}
	if err != nil {
		return fmt.Errorf("read the bucket's journal before serving: %w", err)
	}
	if !has {
		c.set(nil)
		return nil
	}
	if !c.keyed {
		return fmt.Errorf("the bucket already holds a library's journal but %s has no signing key: "+
			"copy the library's %s into it or pass --signing-key (a new key would sign nothing the library signed)",
			c.dataDir, signing.DefaultKeyFile)
	}
	n, err := journal.CatchUp(ctx, c.store, c.ix)
	if errors.Is(err, journal.ErrForeignJournal) {
		c.log.Error("journal check failed; /readyz reports it", "err", err)
		c.set(err)
		return nil
	}
	if err != nil {
		return fmt.Errorf("catch up from the bucket's journal: %w", err)
	}
	if n > 0 {
		c.log.Info("caught up from the bucket's journal", "events", n, "from_seq", head+1)
	}
	c.set(nil)
	return nil
}

// retry keeps attempting a pending catch-up until it settles, then runs
// then (the bootstrap admin, deferred so it cannot fork the journal). A
// fatal reason stays the readiness state: the server never becomes ready.
func (c *catchUp) retry(ctx context.Context, then func()) {
	for c.pending() {
		select {
		case <-ctx.Done():
			return
		case <-time.After(2 * time.Second):
		}
		if err := c.attempt(ctx); err != nil {
			c.log.Error("cannot serve this library", "err", err)
			c.set(err)
			return
		}
	}
	if c.Err() == nil {
		then()
	}
}
