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
const commitRetries = 24

// SetCommitter makes every Update commit through c; catchUp brings the
// index level with the bucket after a lost race (the follower's pull). Set
// both before serving; with none the index commits locally (tools, tests).
func (ix *Index) SetCommitter(c Committer, catchUp func(ctx context.Context) error) {
	ix.committer, ix.catchUp = c, catchUp
}

// UpdateContext is Update with the request's context: the commit's store
// calls run under it, and a seq recorder carried by it
// (library.WithSeqRecorder) learns the seq of the last event committed.
//
// With a committer, concurrent writes are committed in groups
// (group_commit.go): one bbolt transaction and one journal object for all
// the transactions that queued while the previous group committed.
func (ix *Index) UpdateContext(ctx context.Context, fn func(library.WriteTx) error) error {
	if ix.committer != nil {
		if err := ix.PublishTail(ctx); err != nil {
			return err
		}
		return ix.groupDo(ctx, fn)
	}
	return ix.updateSolo(ctx, fn)
}

// updateSolo runs one transaction on its own: a transaction a group could
// not take (it refused, so the group ran without it), and every write of
// an index without a committer.
func (ix *Index) updateSolo(ctx context.Context, fn func(library.WriteTx) error) error {
	for attempt := 0; ; attempt++ {
		t := &tx{}
		inBucket := false
		err := ix.db.Update(func(btx *bolt.Tx) error {
			t.btx = btx
			if err := fn(t); err != nil {
				return err
			}
			if len(t.pending) > 0 {
				return errUnrecorded
			}
			if ix.committer != nil && len(t.events) > 0 {
				if err := ix.committer.Commit(ctx, t.events); err != nil {
					return err
				}
				inBucket = true
				return btx.Bucket(bucketMeta).Put(keyJournalCommitted, seqKey(t.events[len(t.events)-1].Seq))
			}
			return nil
		})
		if errors.Is(err, ErrLostRace) {
			if attempt+1 >= commitRetries {
				return fmt.Errorf("journal commit: lost the race for the next seq %d times: %w", commitRetries, storage.ErrUnavailable)
			}
			// Nodes racing again: step apart first, then catch up and
			// re-run fn against the newest state at once: it re-decides
			// (a pause after the catch-up would only let the others move
			// the head again).
			if attempt > 0 {
				time.Sleep(raceBackoff(attempt - 1))
			}
			if ix.catchUp != nil {
				if cerr := ix.catchUp(ctx); cerr != nil {
					return fmt.Errorf("journal commit: catch up after a lost race: %w", errors.Join(cerr, storage.ErrUnavailable))
				}
			}
			continue
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
			return committedErr(inBucket, mapCommitErr(err))
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

// CommittedSeq is the last event known to be in the bucket's journal.
func (ix *Index) CommittedSeq() (uint64, error) {
	var seq uint64
	err := ix.db.View(func(btx *bolt.Tx) error {
		seq = committedIn(btx)
		return nil
	})
	return seq, err
}

func committedIn(btx *bolt.Tx) uint64 {
	meta := btx.Bucket(bucketMeta)
	v := meta.Get(keyJournalCommitted)
	if len(v) != 8 {
		v = meta.Get(keyMirrorCursor) // an index from before the commit point: the mirror's
	}
	if len(v) == 8 {
		return seqFromKey(v)
	}
	return 0
}

// PublishTail commits to the bucket the events this index holds beyond
// CommittedSeq: written before the bucket became the commit point (the
// asynchronous mirror had not copied them yet) or offline (`reliquary
// token reset-admin`). Each goes as its own object, byte for byte what
// the mirror wrote; one already there with the same bytes is fine. One
// the bucket holds with other content means the index forked from the
// bucket: a *journal.ForeignJournalError, nothing written. Nothing else
// commits until the tail is in the bucket.
func (ix *Index) PublishTail(ctx context.Context) error {
	var evs []*journal.Event
	read := func() error { // one read transaction: a commit in between cannot split them
		return ix.db.View(func(btx *bolt.Tx) error {
			evs = nil
			committed := committedIn(btx)
			head, _ := decodeHead(btx.Bucket(bucketMeta).Get(keyJournalHead))
			if head <= committed {
				return nil
			}
			var err error
			evs, err = (&tx{btx: btx}).Events(committed, 0)
			return err
		})
	}
	if err := read(); err != nil || len(evs) == 0 {
		return err
	}
	ix.publishMu.Lock()
	defer ix.publishMu.Unlock()
	if err := read(); err != nil { // another request may have published it meanwhile
		return err
	}
	for _, e := range evs {
		if err := ix.committer.Commit(ctx, []*journal.Event{e}); err != nil {
			if errors.Is(err, ErrLostRace) {
				return fmt.Errorf("publish this index's event %d to the bucket: %w", e.Seq,
					&journal.ForeignJournalError{Seq: e.Seq, Fix: journal.ForeignJournalFix})
			}
			return fmt.Errorf("publish this index's event %d to the bucket: %w", e.Seq, err)
		}
		if err := ix.db.Update(func(btx *bolt.Tx) error {
			return btx.Bucket(bucketMeta).Put(keyJournalCommitted, seqKey(e.Seq))
		}); err != nil {
			return err
		}
	}
	return nil
}

// raceBackoff is a random pause after the attempt-th lost race (0-based):
// up to 2 ms, doubling each time, at most 100 ms.
func raceBackoff(attempt int) time.Duration {
	return time.Duration(rand.Int64N(int64(min(100*time.Millisecond, (2*time.Millisecond)<<min(attempt, 6)))))
}

// committedErr marks a failed bbolt commit whose events were already
// committed to the bucket: the change stands (the follower applies it
// once the index can take it) and nothing it names may be removed.
func committedErr(inBucket bool, err error) error {
	if !inBucket {
		return err
	}
	return fmt.Errorf("%w: %w", library.ErrCommittedNotApplied, err)
}
