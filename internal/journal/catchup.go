package journal

import (
	"context"
	"errors"
	"fmt"

	"github.com/reliquary/reliquary/storage"
)

// VerifierAt continues a chain check after event seq with the given hash
// (seq 0: the start of the journal).
func VerifierAt(seq uint64, hash string) *Verifier {
	if seq == 0 {
		return NewVerifier()
	}
	return &Verifier{seq: seq, hash: hash}
}

// Appender is the index as CatchUp feeds it.
type Appender interface {
	Source
	// AppendJournal stores events that continue the index's chain and
	// replays their changes.
	AppendJournal([]*Event) error
}

// ForeignJournalError says the bucket holds a journal that is not this
// index's: at Seq the two differ. Fix names what an operator does about it.
type ForeignJournalError struct {
	Seq uint64
	Fix string
}

func (e *ForeignJournalError) Error() string {
	return fmt.Sprintf("the bucket holds another journal (it differs from this index at seq %d): %s", e.Seq, e.Fix)
}

// ForeignJournalFix is what to do about a foreign journal.
const ForeignJournalFix = "point the server at this index's own bucket, or rebuild the index from this bucket " +
	"(move index.db away, then `reliquary index rebuild --from-bucket`)"

// ErrForeignJournal matches a *ForeignJournalError with errors.Is.
var ErrForeignJournal = errors.New("foreign journal")

// Is makes errors.Is(err, ErrForeignJournal) true.
func (e *ForeignJournalError) Is(target error) bool { return target == ErrForeignJournal }

// CatchUp brings the index level with the journal in the bucket before the
// server serves: the events the bucket has beyond the index's head (a
// restored backup is behind the bucket; a fresh data dir has nothing) are
// verified against the chain and replayed into the index. A bucket whose
// journal differs from the index's where both have events is foreign: a
// *ForeignJournalError, nothing changed. It returns how many events it
// replayed.
func CatchUp(ctx context.Context, store storage.BlobStore, ix Appender) (int, error) {
	head, hash, err := ix.Head()
	if err != nil {
		return 0, err
	}
	if head > 0 {
		// The usual restart: the bucket holds the index's last event and
		// nothing after it. Two reads settle it, no listing.
		level, err := levelWithBucket(ctx, store, head, hash)
		if err != nil || level {
			return 0, err
		}
	}
	units, err := mirrorUnits(ctx, store)
	if err != nil || len(units) == 0 {
		return 0, err
	}
	bucketLast := units[len(units)-1].last
	// Where both have events, the last common seq must hold the same event.
	if at := min(head, bucketLast); at > 0 {
		want := hash
		if at < head {
			evs, err := ix.EventsAfter(at-1, 1)
			if err != nil {
				return 0, err
			}
			if len(evs) != 1 || evs[0].Seq != at {
				return 0, fmt.Errorf("catch up: the index has no event %d", at)
			}
			want = evs[0].Hash
		}
		have, err := bucketEvent(ctx, store, units, at)
		if err != nil {
			return 0, err
		}
		if have == nil || have.Hash != want {
			return 0, &ForeignJournalError{Seq: at, Fix: ForeignJournalFix}
		}
	}
	// Replay in batches of about catchUpBatch events, one index
	// transaction each (single-event objects would otherwise cost one
	// commit apiece).
	const catchUpBatch = 2000
	n := 0
	var batch []*Event
	flush := func() error {
		if len(batch) == 0 {
			return nil
		}
		if err := ix.AppendJournal(batch); err != nil {
			return err
		}
		n += len(batch)
		batch = batch[:0]
		return nil
	}
	for i, u := range units {
		if u.last <= head && (!u.group || (i+1 < len(units) && units[i+1].first <= head+1)) {
			continue // wholly in the index (a commit object's end is known once the next one starts)
		}
		evs, err := readUnit(ctx, store, u)
		if err != nil {
			return n, err
		}
		for _, e := range evs {
			if e.Seq <= head {
				continue
			}
			if e.Seq != head+1 {
				return n, fmt.Errorf("catch up: the bucket's journal has a gap after seq %d", head)
			}
			batch = append(batch, e)
			head = e.Seq
		}
		if len(batch) >= catchUpBatch {
			if err := flush(); err != nil {
				return n, err
			}
		}
	}
	return n, flush()
}

// bucketEvent reads the event seq from the mirror (nil when no object
// holds it).
func bucketEvent(ctx context.Context, store storage.BlobStore, units []mirrorUnit, seq uint64) (*Event, error) {
	for i := len(units) - 1; i >= 0; i-- {
		u := units[i]
		if u.first > seq || (!u.group && u.last < seq) {
			continue
		}
		evs, err := readUnit(ctx, store, u)
		if err != nil {
			return nil, err
		}
		if k := seq - u.first; k < uint64(len(evs)) {
			return evs[k], nil
		}
		return nil, nil
	}
	return nil, nil
}

// HasJournal reports whether the bucket holds any mirrored event.
func HasJournal(ctx context.Context, store storage.BlobStore) (bool, error) {
	found := false
	err := store.List(ctx, storage.JournalPrefix, func(storage.Info) error {
		found = true
		return errStopList
	})
	if errors.Is(err, errStopList) {
		err = nil
	}
	return found, err
}

var errStopList = errors.New("stop listing")

// levelWithBucket reports whether the bucket's journal ends exactly at the
// index's head with the same event; a different event there is foreign.
// false (no error) means: look closer (the bucket is ahead, or behind).
func levelWithBucket(ctx context.Context, store storage.BlobStore, head uint64, hash string) (bool, error) {
	if _, err := store.Stat(ctx, storage.JournalKey(head+1)); err == nil {
		return false, nil
	} else if !errors.Is(err, storage.ErrNotFound) {
		return false, err
	}
	evs, err := readUnit(ctx, store, mirrorUnit{key: storage.JournalKey(head), first: head, last: head, group: true})
	switch {
	case errors.Is(err, storage.ErrNotFound):
		return false, nil
	case err != nil:
		return false, err
	case len(evs) != 1:
		return false, nil // a group commit ending past head: look closer
	case evs[0].Hash != hash:
		return false, &ForeignJournalError{Seq: head, Fix: ForeignJournalFix}
	}
	return true, nil
}
