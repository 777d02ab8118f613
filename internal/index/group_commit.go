package index

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/reliquary/reliquary/internal/journal"
	"github.com/reliquary/reliquary/internal/library"
	"github.com/reliquary/reliquary/storage"
)

// Group commit (DESIGN §9 allows it): writes that arrive while a commit is
// in flight queue up; the next commit runs all of them, in arrival order,
// in one bbolt transaction, and creates one journal object holding all
// their events (journal.EncodeObject). Each transaction still sees the
// ones before it, exactly as if they had run one after another. A
// transaction that refuses (its fn returns an error) aborts the group's
// bbolt transaction; it then runs on its own (updateSolo, which answers
// its error) and the group runs again without it. A lost race re-runs the
// whole group after catching up; a refused commit fails every member.

// maxGroup bounds the transactions of one group.
const maxGroup = 64

type groupCall struct {
	ctx  context.Context
	fn   func(library.WriteTx) error
	done chan error
}

type groupQueue struct {
	mu      sync.Mutex
	queue   []*groupCall
	running bool
}

// panicError carries a panic of a group member's fn back to its caller.
type panicError struct{ v any }

func (p *panicError) Error() string { return fmt.Sprint("panic in a transaction: ", p.v) }

var errMemberRefused = errors.New("a group member refused")

// groupDo queues fn and waits for its group's outcome.
func (ix *Index) groupDo(ctx context.Context, fn func(library.WriteTx) error) error {
	c := &groupCall{ctx: ctx, fn: fn, done: make(chan error, 1)}
	g := &ix.group
	g.mu.Lock()
	g.queue = append(g.queue, c)
	if !g.running {
		g.running = true
		go ix.groupLeader()
	}
	g.mu.Unlock()
	err := <-c.done
	var pe *panicError
	if errors.As(err, &pe) {
		panic(pe.v) // in the caller's goroutine, where it is recovered as before
	}
	return err
}

// groupLeader commits queued groups until the queue is empty.
func (ix *Index) groupLeader() {
	g := &ix.group
	for {
		g.mu.Lock()
		n := min(len(g.queue), maxGroup)
		batch := g.queue[:n:n]
		g.queue = g.queue[n:]
		if n == 0 {
			g.running = false
			g.mu.Unlock()
			return
		}
		g.mu.Unlock()
		ix.commitGroup(batch)
	}
}

// runMember runs one member's fn, turning a panic into a *panicError.
func runMember(c *groupCall, t *tx) (err error) {
	defer func() {
		if v := recover(); v != nil {
			err = &panicError{v: v}
		}
	}()
	return c.fn(t)
}

func (ix *Index) commitGroup(batch []*groupCall) {
	for attempt := 0; len(batch) > 0; {
		failed := -1
		var memberErr error
		txs := make([]*tx, 0, len(batch))
		var all []*journal.Event
		inBucket := false
		err := ix.db.Update(func(btx *bolt.Tx) error {
			for i, c := range batch {
				t := &tx{btx: btx}
				err := runMember(c, t)
				if err == nil && len(t.pending) > 0 {
					err = errUnrecorded
				}
				if err != nil {
					failed, memberErr = i, err
					return errMemberRefused
				}
				txs = append(txs, t)
				all = append(all, t.events...)
			}
			if len(all) == 0 {
				return nil
			}
			if err := ix.committer.Commit(batch[0].ctx, all); err != nil {
				return err
			}
			inBucket = true
			return btx.Bucket(bucketMeta).Put(keyJournalCommitted, seqKey(all[len(all)-1].Seq))
		})
		if failed >= 0 && errors.Is(err, errMemberRefused) {
			c := batch[failed]
			var pe *panicError
			if errors.As(memberErr, &pe) || len(batch) == 1 && errors.Is(memberErr, errUnrecorded) {
				c.done <- memberErr
			} else {
				c.done <- ix.updateSolo(c.ctx, c.fn) // its own answer, decided alone
			}
			batch = append(batch[:failed:failed], batch[failed+1:]...)
			continue
		}
		if errors.Is(err, ErrLostRace) {
			attempt++
			if attempt >= commitRetries {
				err = fmt.Errorf("journal commit: lost the race for the next seq %d times: %w", commitRetries, storage.ErrUnavailable)
			} else {
				// Nodes racing again: step apart first, then catch up
				// and re-run every member against the newest state at
				// once (a pause after the catch-up would only let the
				// others move the head again).
				if attempt > 1 {
					time.Sleep(raceBackoff(attempt - 2))
				}
				if cerr := ix.groupCatchUp(batch[0].ctx); cerr != nil {
					err = fmt.Errorf("journal commit: catch up after a lost race: %w", errors.Join(cerr, storage.ErrUnavailable))
				} else {
					continue
				}
			}
		}
		if err != nil {
			err = committedErr(inBucket, mapCommitErr(err))
			for _, c := range batch {
				c.done <- err
			}
			return
		}
		if len(all) > 0 && ix.onCommit != nil { // before the answers: a caller may go on to set it
			ix.onCommit(all)
		}
		for i, c := range batch {
			if evs := txs[i].events; len(evs) > 0 {
				library.RecordSeq(c.ctx, evs[len(evs)-1].Seq)
			}
			c.done <- nil
		}
		return
	}
}

// groupCatchUp applies the events another node committed first.
func (ix *Index) groupCatchUp(ctx context.Context) error {
	if ix.catchUp == nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	return ix.catchUp(ctx)
}
