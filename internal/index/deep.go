package index

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	bolt "go.etcd.io/bbolt"

	"github.com/reliquary/reliquary/internal/journal"
)

// DeepReport is the result of replaying an index's journal into a scratch
// index and comparing the two (audit verify --deep).
type DeepReport struct {
	OK     bool   `json:"ok"`
	Events uint64 `json:"events"`
	// The first difference: the bucket, the key (as Go quotes it) and what
	// differs.
	Bucket string `json:"bucket,omitempty"`
	Key    string `json:"key,omitempty"`
	Reason string `json:"reason,omitempty"`
}

// deepBuckets are the buckets a replay of the journal must reproduce
// exactly: every journaled bucket, and the signed log's tree and
// statement index. (Node-local webhooks of the older bucket, delivery
// state, the statement cache and meta are not derived from the journal.)
func deepBuckets() [][]byte {
	var out [][]byte
	for _, b := range allBuckets {
		if journaled(b) {
			out = append(out, b)
		}
	}
	return append(out, bucketLogNodes, bucketStatementSeq)
}

// VerifyDeep replays the index's own journal into a scratch index under
// scratchDir and compares every bucket the journal determines with the
// index: an edit made to index.db directly (a token, a release state) is
// found even though the journal's chain is intact.
func (ix *Index) VerifyDeep(scratchDir string) (DeepReport, error) {
	var rep DeepReport
	dir, err := os.MkdirTemp(scratchDir, "reliquary-replay-")
	if err != nil {
		return rep, err
	}
	defer os.RemoveAll(dir)
	var after uint64
	var page []*journal.Event
	next := func() (*journal.Event, error) {
		if len(page) == 0 {
			evs, err := ix.EventsAfter(after, rebuildBatch)
			if err != nil {
				return nil, err
			}
			if len(evs) == 0 {
				return nil, io.EOF
			}
			page = evs
			after = evs[len(evs)-1].Seq
		}
		e := page[0]
		page = page[1:]
		return e, nil
	}
	path := filepath.Join(dir, "replay.db")
	n, err := Rebuild(path, next)
	rep.Events = n
	if err != nil {
		var be *journal.BrokenError
		if errors.As(err, &be) {
			rep.Reason = err.Error()
			return rep, nil
		}
		return rep, err
	}
	replay, err := Open(path, Options{ReadOnly: true})
	if err != nil {
		return rep, err
	}
	defer replay.Close()
	err = ix.db.View(func(live *bolt.Tx) error {
		return replay.db.View(func(scratch *bolt.Tx) error {
			for _, name := range deepBuckets() {
				if reason, key := compareBucket(live.Bucket(name), scratch.Bucket(name)); reason != "" {
					rep.Bucket, rep.Key, rep.Reason = string(name), fmt.Sprintf("%q", key), reason
					return nil
				}
			}
			rep.OK = true
			return nil
		})
	})
	return rep, err
}

// compareBucket returns the first difference between two buckets.
func compareBucket(live, replay *bolt.Bucket) (string, []byte) {
	if live == nil || replay == nil {
		return "bucket missing", nil
	}
	a, b := live.Cursor(), replay.Cursor()
	ka, va := a.First()
	kb, vb := b.First()
	for ka != nil || kb != nil {
		switch c := compareKeys(ka, kb); {
		case c < 0:
			return "in the index but not in the journal's replay (added to index.db directly?)", ka
		case c > 0:
			return "in the journal's replay but not in the index (deleted from index.db directly?)", kb
		case !bytes.Equal(va, vb):
			return "the index's value differs from the journal's replay (edited in index.db directly?)", ka
		}
		ka, va = a.Next()
		kb, vb = b.Next()
	}
	return "", nil
}

func compareKeys(a, b []byte) int {
	switch {
	case a == nil:
		return 1
	case b == nil:
		return -1
	}
	return bytes.Compare(a, b)
}
