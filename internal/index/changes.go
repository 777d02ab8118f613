package index

import (
	"encoding/json"
	"errors"
	"fmt"

	bolt "go.etcd.io/bbolt"

	"github.com/reliquary/reliquary/internal/canonjson"
)

// Change is one write of a transaction as the journal carries it: the
// bucket, the raw key and the new value (JSON), or a deletion. Every write
// to a journaled bucket goes through tx.put or tx.del, which collect them;
// Record attaches the collected changes to the event it appends, under
// data.changes. Replaying the changes of every event, in order, into an
// empty index rebuilds it exactly (see Rebuild).
type Change struct {
	Bucket string          `json:"bucket"`
	Key    []byte          `json:"key"` // base64 in JSON
	Value  json.RawMessage `json:"value,omitempty"`
	Delete bool            `json:"delete,omitempty"`
}

// errUnrecorded rolls back a transaction that changed the index without
// recording the journal event that explains it.
var errUnrecorded = errors.New("index changed without a journal event: rolled back")

// journaled reports whether writes to a bucket travel in the journal:
// everything but the journal itself, the meta bucket and operational state
// (delivery queues and cursors).
func journaled(bucket []byte) bool {
	for _, b := range unjournaledBuckets {
		if string(b) == string(bucket) {
			return false
		}
	}
	return true
}

// put writes a value and remembers the change for the next event.
func (t *tx) put(bucket, key []byte, value []byte) error {
	if err := t.b(bucket).Put(key, value); err != nil {
		return err
	}
	if journaled(bucket) {
		t.pending = append(t.pending, Change{Bucket: string(bucket), Key: clone(key), Value: json.RawMessage(clone(value))})
	}
	return nil
}

// putJSON marshals v in canonical form (the form the journal carries, so
// a rebuilt index holds the very same bytes) and puts it.
func (t *tx) putJSON(bucket, key []byte, v any) error {
	data, err := canonjson.Canonical(v)
	if err != nil {
		return err
	}
	return t.put(bucket, key, data)
}

// del deletes a key and remembers the change for the next event.
func (t *tx) del(bucket, key []byte) error {
	if err := t.b(bucket).Delete(key); err != nil {
		return err
	}
	if journaled(bucket) {
		t.pending = append(t.pending, Change{Bucket: string(bucket), Key: clone(key), Delete: true})
	}
	return nil
}

func clone(b []byte) []byte { return append([]byte(nil), b...) }

// applyChange replays one change into a transaction (rebuild).
func applyChange(btx *bolt.Tx, c Change) error {
	if !journaled([]byte(c.Bucket)) {
		return fmt.Errorf("change to bucket %q, which is never journaled", c.Bucket)
	}
	b := btx.Bucket([]byte(c.Bucket))
	if b == nil {
		return fmt.Errorf("change to unknown bucket %q", c.Bucket)
	}
	if c.Delete {
		return b.Delete(c.Key)
	}
	if !json.Valid(c.Value) {
		return fmt.Errorf("change to %s: value is not JSON", c.Bucket)
	}
	return b.Put(c.Key, c.Value)
}
