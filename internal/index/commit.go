package index

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/reliquary/reliquary/internal/journal"
	"github.com/reliquary/reliquary/internal/library"
	"github.com/reliquary/reliquary/storage"
)

// Committer makes a transaction's events the journal's next entry in the
// bucket (DESIGN §9: the bucket's journal is the commit point). Commit is
// called inside the index transaction, after fn has run and before bbolt
// commits: nil means the events are committed (the index then applies
// them); an error matching ErrLostRace means another node committed that
// seq first (the index rolls back, catches up and re-decides); any other
// error means the outcome is not known to be a commit, and the write is
// refused with nothing applied.
type Committer interface {
	Commit(ctx context.Context, evs []*journal.Event) error
}

// ErrLostRace is a Committer's answer when the seq is taken by another
// node's transaction.
var ErrLostRace = errors.New("another node committed this journal seq first")

// commitRetries bounds how often a transaction that lost the race is
// re-decided before the write is refused (503).
const commitRetries = 8

// SetCommitter makes every Update commit through c; catchUp brings the
// index level with the bucket after a lost race (the follower's pull). Set
// both before serving; with none the index commits locally (tools, tests).
func (ix *Index) SetCommitter(c Committer, catchUp func(ctx context.Context) error) {
	ix.committer, ix.catchUp = c, catchUp
}

// UpdateContext is Update with the request's context: the commit's store
// calls run under it, and a seq recorder carried by it
// (library.WithSeqRecorder) learns the seq of the last event committed.
func (ix *Index) UpdateContext(ctx context.Context, fn func(library.WriteTx) error) error {
	for attempt := 0; ; attempt++ {
		t := &tx{}
		err := ix.db.Update(func(btx *bolt.Tx) error {
			t.btx = btx
			if err := fn(t); err != nil {
				return err
			}
			if len(t.pending) > 0 {
				return errUnrecorded
			}
			if ix.committer != nil && len(t.events) > 0 {
				return ix.committer.Commit(ctx, t.events)
			}
			return nil
		})
		if errors.Is(err, ErrLostRace) {
			if attempt+1 >= commitRetries {
				return fmt.Errorf("journal commit: lost the race for the next seq %d times: %w", commitRetries, storage.ErrUnavailable)
			}
			if ix.catchUp != nil {
				if cerr := ix.catchUp(ctx); cerr != nil {
					return fmt.Errorf("journal commit: catch up after a lost race: %w", errors.Join(cerr, storage.ErrUnavailable))
				}
			}
			if attempt > 0 { // two nodes racing again: step apart
				select {
				case <-ctx.Done():
					return ctx.Err()
				case <-time.After(time.Duration(rand.Int64N(int64(attempt) * int64(5*time.Millisecond)))):
				}
			}
			continue // re-run fn against the new state: it re-decides
		}
		if err != nil && !errors.Is(err, storage.ErrUnavailable) && ix.catchUp != nil && attempt+1 < commitRetries && ctx.Err() == nil {
			// fn refused on this node's state: decided on a stale index
			// when other nodes have committed since. Catch up; if that
			// brought anything, decide again.
			before, _, herr := ix.Head()
			if herr == nil && ix.catchUp(ctx) == nil {
				if after, _, herr := ix.Head(); herr == nil && after != before {
					continue
				}
			}
		}
		if err != nil {
			return mapCommitErr(err)
		}
		if len(t.events) > 0 {
			library.RecordSeq(ctx, t.events[len(t.events)-1].Seq)
			if ix.onCommit != nil {
				ix.onCommit(t.events)
			}
		}
		return nil
	}
}
