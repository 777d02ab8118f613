package index

import (
	"fmt"

	bolt "go.etcd.io/bbolt"

	"github.com/reliquary/reliquary/internal/journal"
)

// ApplyCommitted applies a journal object the follower read from the
// bucket (another node's commit, DESIGN §9). The index may have moved on
// since the follower read its head (this node's own commits): events it
// already holds must be the same events (else the bucket's journal forks
// from this index: journal.ErrBroken) and are skipped; the rest must
// continue the chain. One transaction, so no commit slips in between. It
// returns how many events it applied.
func (ix *Index) ApplyCommitted(evs []*journal.Event) (int, error) {
	var fresh []*journal.Event
	err := ix.db.Update(func(btx *bolt.Tx) error {
		head, _ := decodeHead(btx.Bucket(bucketMeta).Get(keyJournalHead))
		for i, e := range evs {
			if e.Seq > head {
				fresh = evs[i:]
				break
			}
			raw := btx.Bucket(bucketJournal).Get(seqKey(e.Seq))
			have, err := journal.Decode(raw)
			if raw == nil || err != nil || have.Hash != e.Hash {
				return fmt.Errorf("follow: %w", &journal.BrokenError{Seq: e.Seq, Reason: "the bucket's event differs from the index's"})
			}
		}
		if len(fresh) == 0 {
			return nil
		}
		// The mirror's cursor stays: this node's mirror passes over them
		// too, so their checkpoint and segment are written even when the
		// node that committed them dies first (create-only: the first
		// writer wins, an identical segment is fine).
		return appendInTx(btx, fresh, false)
	})
	if err != nil || len(fresh) == 0 {
		return 0, err
	}
	if ix.onCommit != nil {
		ix.onCommit(fresh)
	}
	return len(fresh), nil
}
