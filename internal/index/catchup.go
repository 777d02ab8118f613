package index

import (
	"fmt"

	bolt "go.etcd.io/bbolt"

	"github.com/reliquary/reliquary/internal/journal"
)

// AppendJournal adds events that continue the index's journal from the
// bucket (a restored backup or a fresh data dir catching up, before it
// serves): each is checked against the chain, stored, and its index
// changes replayed, all in one transaction. They are already in the
// bucket, so the mirror cursor moves with them. An event whose changes
// are in an older index schema is converted by changeMigrations or
// refused (naming its seq); a newer schema is refused (schema.go).
func (ix *Index) AppendJournal(evs []*journal.Event) error {
	if len(evs) == 0 {
		return nil
	}
	err := ix.db.Update(func(btx *bolt.Tx) error { return appendInTx(btx, evs, true) })
	if err == nil && ix.onCommit != nil {
		ix.onCommit(evs) // another node's events: the feed and the workers wake as for ours
	}
	return err
}

// appendInTx is AppendJournal inside a write transaction; mirrored moves
// the mirror's cursor past the events (their segment and checkpoint are
// then not this node's to write).
func appendInTx(btx *bolt.Tx, evs []*journal.Event, mirrored bool) error {
	{
		seq, hash := decodeHead(btx.Bucket(bucketMeta).Get(keyJournalHead))
		v := journal.VerifierAt(seq, hash)
		var tree logAppender // each event is also the signed log's next leaf (log.go)
		for _, e := range evs {
			if err := v.Add(e); err != nil {
				return fmt.Errorf("catch up: %w", err)
			}
			if err := replayEvent(btx, &tree, e, replayCatchUp); err != nil {
				return fmt.Errorf("catch up: %w", err)
			}
		}
		last := evs[len(evs)-1]
		if err := btx.Bucket(bucketMeta).Put(keyJournalHead, encodeHead(last.Seq, last.Hash)); err != nil {
			return err
		}
		if err := btx.Bucket(bucketMeta).Put(keyJournalCommitted, seqKey(last.Seq)); err != nil {
			return err // they came from the bucket
		}
		if !mirrored {
			return nil
		}
		return btx.Bucket(bucketMeta).Put(keyMirrorCursor, seqKey(last.Seq))
	}
}
