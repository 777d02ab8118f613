package index

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"

	bolt "go.etcd.io/bbolt"

	"github.com/reliquary/reliquary/internal/journal"
	"github.com/reliquary/reliquary/internal/library"
)

// EventsAfter returns up to limit events with seq > after, in order.
func (ix *Index) EventsAfter(after uint64, limit int) ([]*journal.Event, error) {
	var out []*journal.Event
	err := ix.View(func(tx library.ReadTx) error {
		var err error
		out, err = tx.Events(after, limit)
		return err
	})
	return out, err
}

// Head is the last event's sequence number and hash.
func (ix *Index) Head() (uint64, string, error) {
	var seq uint64
	var hash string
	err := ix.View(func(tx library.ReadTx) error {
		var err error
		seq, hash, err = tx.Head()
		return err
	})
	return seq, hash, err
}

// VerifyJournal recomputes the whole hash chain, in one read transaction,
// and checks the recorded head matches its end.
func (ix *Index) VerifyJournal() (journal.VerifyReport, error) {
	var rep journal.VerifyReport
	err := ix.db.View(func(btx *bolt.Tx) error {
		v := journal.NewVerifier()
		c := btx.Bucket(bucketJournal).Cursor()
		for k, raw := c.First(); k != nil; k, raw = c.Next() {
			e, err := journal.Decode(raw)
			if err == nil && e.Seq != seqFromKey(k) {
				err = fmt.Errorf("stored under seq %d but says %d", seqFromKey(k), e.Seq)
			}
			if err == nil {
				err = v.Add(e)
			}
			if err != nil {
				rep.BrokenSeq, rep.Reason = seqFromKey(k), err.Error()
				var be *journal.BrokenError
				if errors.As(err, &be) {
					rep.BrokenSeq, rep.Reason = be.Seq, be.Reason
				}
				rep.Events, _ = v.Head()
				return nil
			}
		}
		rep.HeadSeq, rep.HeadHash = v.Head()
		rep.Events = rep.HeadSeq
		seq, hash := decodeHead(btx.Bucket(bucketMeta).Get(keyJournalHead))
		if hash == "" {
			hash = journal.ZeroHash
		}
		if seq != rep.HeadSeq || hash != rep.HeadHash {
			rep.BrokenSeq, rep.Reason = rep.HeadSeq+1, fmt.Sprintf("the index records head %d, the journal ends at %d", seq, rep.HeadSeq)
			return nil
		}
		rep.OK = true
		return nil
	})
	return rep, err
}

// MirrorCursor is the last seq copied to the bucket mirror.
func (ix *Index) MirrorCursor() (uint64, error) {
	var seq uint64
	err := ix.db.View(func(btx *bolt.Tx) error {
		if v := btx.Bucket(bucketMeta).Get(keyMirrorCursor); len(v) == 8 {
			seq = seqFromKey(v)
		}
		return nil
	})
	return seq, err
}

// SetMirrorCursor records that every event up to seq is in the bucket.
func (ix *Index) SetMirrorCursor(seq uint64) error {
	return ix.db.Update(func(btx *bolt.Tx) error {
		return btx.Bucket(bucketMeta).Put(keyMirrorCursor, seqKey(seq))
	})
}

// SegmentCursor is the last seq covered by a journal segment in the bucket.
func (ix *Index) SegmentCursor() (uint64, error) {
	var seq uint64
	err := ix.db.View(func(btx *bolt.Tx) error {
		if v := btx.Bucket(bucketMeta).Get(keySegmentCursor); len(v) == 8 {
			seq = seqFromKey(v)
		}
		return nil
	})
	return seq, err
}

// SetSegmentCursor records that segments cover every event up to seq.
func (ix *Index) SetSegmentCursor(seq uint64) error {
	return ix.db.Update(func(btx *bolt.Tx) error {
		return btx.Bucket(bucketMeta).Put(keySegmentCursor, seqKey(seq))
	})
}

// rebuildBatch is how many events one rebuild transaction applies.
const rebuildBatch = 2000

// replayEvent stores a verified event that continues the journal, appends
// it to the signed log and applies its index changes: how Rebuild and
// AppendJournal (catch-up) project the journal into the index.
func replayEvent(btx *bolt.Tx, tree *logAppender, e *journal.Event, mode replayMode) error {
	raw, err := json.Marshal(e)
	if err != nil {
		return err
	}
	if err := btx.Bucket(bucketJournal).Put(seqKey(e.Seq), raw); err != nil {
		return err
	}
	if err := tree.append(btx, e); err != nil {
		return fmt.Errorf("event %d: %w", e.Seq, err)
	}
	changes, err := changesAt(btx, e, mode) // in the index's schema (schema.go)
	if err != nil {
		return err
	}
	for _, c := range changes {
		if err := applyChange(btx, c); err != nil {
			return fmt.Errorf("event %d: %w", e.Seq, err)
		}
	}
	return nil
}

// Rebuild creates a new index at path from a journal alone: each event's
// chain is verified, the event stored, and its changes replayed. next
// returns io.EOF after the last event. The file must not exist yet.
//
// The index is created at the schema the first event's changes record
// (changes_schema, schema.go), migrated up whenever a later event records
// a newer one, and migrated to this build's schema at the end: every
// change set is replayed into the layout it was written for.
func Rebuild(path string, next func() (*journal.Event, error)) (uint64, error) {
	if _, err := os.Stat(path); err == nil {
		return 0, fmt.Errorf("rebuild: %s exists; move it away first", path)
	}
	first, err := next()
	if err != nil && !errors.Is(err, io.EOF) {
		return 0, fmt.Errorf("rebuild: %w", err)
	}
	at := schemaVersion
	if first != nil && err == nil {
		at = eventSchema(first)
		peeked := first
		inner := next
		next = func() (*journal.Event, error) {
			if peeked != nil {
				e := peeked
				peeked = nil
				return e, nil
			}
			return inner()
		}
	}
	ix, err := Open(path, Options{AtSchema: at})
	if err != nil {
		return 0, err
	}
	defer ix.Close()
	v := journal.NewVerifier()
	var n uint64
	var tree logAppender // the signed log (log.go)
	for done := false; !done; {
		err := ix.db.Update(func(btx *bolt.Tx) error {
			for i := 0; i < rebuildBatch; i++ {
				e, err := next()
				if errors.Is(err, io.EOF) {
					done = true
					return nil
				}
				if err != nil {
					return err
				}
				if err := v.Add(e); err != nil {
					return err
				}
				if err := replayEvent(btx, &tree, e, replayRebuild); err != nil {
					return err
				}
				if err := btx.Bucket(bucketMeta).Put(keyJournalHead, encodeHead(e.Seq, e.Hash)); err != nil {
					return err
				}
				if err := btx.Bucket(bucketMeta).Put(keyMirrorCursor, seqKey(e.Seq)); err != nil {
					return err
				}
				if err := btx.Bucket(bucketMeta).Put(keyJournalCommitted, seqKey(e.Seq)); err != nil {
					return err
				}
				n++
			}
			return nil
		})
		if err != nil {
			ix.Close()
			os.Remove(path)
			return n, fmt.Errorf("rebuild: %w", err)
		}
	}
	if err := ix.db.Update(func(btx *bolt.Tx) error { return migrateIndex(btx, schemaVersion) }); err != nil {
		ix.Close()
		os.Remove(path)
		return n, fmt.Errorf("rebuild: %w", err)
	}
	return n, nil
}
