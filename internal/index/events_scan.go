package index

import (
	"fmt"

	bolt "go.etcd.io/bbolt"

	"github.com/reliquary/reliquary/internal/journal"
)

// ScanEvents calls fn with each event with seq > after, in order, and the
// size of its stored form, until fn returns false or the journal ends. It
// runs in one read transaction: fn must not block on a client.
func (ix *Index) ScanEvents(after uint64, fn func(e *journal.Event, size int) bool) error {
	return ix.db.View(func(btx *bolt.Tx) error {
		c := btx.Bucket(bucketJournal).Cursor()
		for k, raw := c.Seek(seqKey(after + 1)); k != nil; k, raw = c.Next() {
			if after == ^uint64(0) {
				return nil
			}
			e, err := journal.Decode(raw)
			if err != nil {
				return fmt.Errorf("journal event %d: %w", seqFromKey(k), err)
			}
			if !fn(e, len(raw)) {
				return nil
			}
		}
		return nil
	})
}
