package index

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/transparency-dev/merkle/compact"
	"github.com/transparency-dev/merkle/proof"
	"github.com/transparency-dev/merkle/rfc6962"
	bolt "go.etcd.io/bbolt"

	"github.com/reliquary/reliquary/internal/journal"
	"github.com/reliquary/reliquary/internal/library"
)

// The signed log (DESIGN §12): leaf i is the canonical JSON of event i and
// the tree is RFC 6962's. Every node of a perfect subtree is stored once,
// when it completes (log_nodes), so a root, an inclusion or a consistency
// proof at any size up to the head reads O(log n) nodes and never
// recomputes the tree. Appending an event touches O(log n) nodes too.

// ErrLogSize reports a tree size or leaf index beyond the log.
var ErrLogSize = errors.New("beyond the log's size")

var logRanges = &compact.RangeFactory{Hash: rfc6962.DefaultHasher.HashChildren}

func nodeKey(id compact.NodeID) []byte {
	k := make([]byte, 9)
	k[0] = byte(id.Level)
	binary.BigEndian.PutUint64(k[1:], id.Index)
	return k
}

func logSizeOf(btx *bolt.Tx) uint64 {
	if v := btx.Bucket(bucketMeta).Get(keyLogSize); len(v) == 8 {
		return seqFromKey(v)
	}
	return 0
}

func nodeHashes(btx *bolt.Tx, ids []compact.NodeID) ([][]byte, error) {
	b := btx.Bucket(bucketLogNodes)
	out := make([][]byte, len(ids))
	for i, id := range ids {
		v := b.Get(nodeKey(id))
		if len(v) != 32 {
			return nil, fmt.Errorf("signed log: node %d/%d missing from the index", id.Level, id.Index)
		}
		out[i] = clone(v)
	}
	return out, nil
}

// logRange loads the compact range [0, size).
func logRange(btx *bolt.Tx, size uint64) (*compact.Range, error) {
	hashes, err := nodeHashes(btx, compact.RangeNodes(0, size, nil))
	if err != nil {
		return nil, err
	}
	return logRanges.NewRange(0, size, hashes)
}

// statementEvent says whether an event produces a release statement
// (reaching approved, promote, withdraw) and for which release.
func statementEvent(e *journal.Event) (product, version string, ok bool) {
	switch e.Type {
	case library.EvReleaseApproved, library.EvReleaseReleased, library.EvReleaseWithdrawn:
	default:
		return "", "", false
	}
	var d struct {
		Product string `json:"product"`
		Version string `json:"version"`
		State   string `json:"state"`
	}
	if json.Unmarshal(e.Data, &d) != nil || d.Product == "" || d.Version == "" {
		return "", "", false
	}
	if e.Type == library.EvReleaseApproved && d.State != string(library.StateApproved) {
		return "", "", false // an approval that did not (yet) make it approved
	}
	return d.Product, d.Version, true
}

// logAppend adds the event as the next leaf, in the transaction that
// stores it, and indexes its release statement.
func logAppend(btx *bolt.Tx, e *journal.Event) error {
	var a logAppender
	return a.append(btx, e)
}

// logAppender appends events in order, keeping the tree's right edge (the
// compact range) in memory between appends: a rebuild does not read it
// back for every event.
type logAppender struct{ rng *compact.Range }

func (a *logAppender) append(btx *bolt.Tx, e *journal.Event) error {
	size := logSizeOf(btx)
	if e.Seq != size+1 {
		return fmt.Errorf("signed log: the tree holds %d leaves, cannot append event %d", size, e.Seq)
	}
	lh, err := e.LeafHash()
	if err != nil {
		return err
	}
	if a.rng == nil || a.rng.End() != size {
		if a.rng, err = logRange(btx, size); err != nil {
			return err
		}
	}
	rng := a.rng
	defer func() {
		if rng.End() != size+1 {
			a.rng = nil // half-appended: reload next time
		}
	}()
	nodes := btx.Bucket(bucketLogNodes)
	var perr error
	if err := rng.Append(lh, func(id compact.NodeID, hash []byte) {
		if perr == nil {
			perr = nodes.Put(nodeKey(id), clone(hash))
		}
	}); err != nil {
		return err
	}
	if perr != nil {
		return perr
	}
	if err := btx.Bucket(bucketMeta).Put(keyLogSize, seqKey(e.Seq)); err != nil {
		return err
	}
	if p, v, ok := statementEvent(e); ok {
		vk, err := versionKeyOf(v)
		if err != nil {
			return fmt.Errorf("event %d: %w", e.Seq, err)
		}
		if err := btx.Bucket(bucketStatementSeq).Put(releaseKey(p, vk), seqKey(e.Seq)); err != nil {
			return err
		}
	}
	if e.Type == library.EvReleaseDeleted {
		// A deleted (never released) release takes its statements with it:
		// the same version created again starts with none.
		var d struct{ Product, Version string }
		if err := json.Unmarshal(e.Data, &d); err == nil && d.Product != "" {
			if vk, err := versionKeyOf(d.Version); err == nil {
				for _, b := range [][]byte{bucketStatementSeq, bucketStatements} {
					if err := btx.Bucket(b).Delete(releaseKey(d.Product, vk)); err != nil {
						return err
					}
				}
			}
		}
	}
	return nil
}

// catchUpLog appends the journal's events the tree does not hold yet (an
// index written before the signed log existed), in batches.
func (ix *Index) catchUpLog() error {
	for {
		done := true
		err := ix.db.Update(func(btx *bolt.Tx) error {
			head, _ := decodeHead(btx.Bucket(bucketMeta).Get(keyJournalHead))
			size := logSizeOf(btx)
			c := btx.Bucket(bucketJournal).Cursor()
			n := 0
			var tree logAppender
			for k, v := c.Seek(seqKey(size + 1)); k != nil && n < rebuildBatch; k, v = c.Next() {
				e, err := journal.Decode(v)
				if err != nil {
					return fmt.Errorf("journal seq %d: %w", seqFromKey(k), err)
				}
				if err := tree.append(btx, e); err != nil {
					return err
				}
				n++
			}
			done = logSizeOf(btx) >= head
			return nil
		})
		if err != nil || done {
			return err
		}
	}
}

// LogSize is the number of leaves in the signed log.
func (ix *Index) LogSize() (uint64, error) {
	var n uint64
	err := ix.db.View(func(btx *bolt.Tx) error { n = logSizeOf(btx); return nil })
	return n, err
}

// LogRoot is the tree's root hash at size (size ≤ LogSize).
func (ix *Index) LogRoot(size uint64) ([]byte, error) {
	var root []byte
	err := ix.db.View(func(btx *bolt.Tx) error {
		if size > logSizeOf(btx) {
			return fmt.Errorf("root at size %d: %w (%d)", size, ErrLogSize, logSizeOf(btx))
		}
		rng, err := logRange(btx, size)
		if err != nil {
			return err
		}
		if size == 0 {
			root = rfc6962.DefaultHasher.EmptyRoot()
			return nil
		}
		root, err = rng.GetRootHash(nil)
		return err
	})
	return root, err
}

// LogHead is the log's size and root hash, read together.
func (ix *Index) LogHead() (uint64, []byte, error) {
	var (
		size uint64
		root []byte
	)
	err := ix.db.View(func(btx *bolt.Tx) error {
		size = logSizeOf(btx)
		if size == 0 {
			root = rfc6962.DefaultHasher.EmptyRoot()
			return nil
		}
		rng, err := logRange(btx, size)
		if err != nil {
			return err
		}
		root, err = rng.GetRootHash(nil)
		return err
	})
	return size, root, err
}

func (ix *Index) proofHashes(limit uint64, build func() (proof.Nodes, error)) ([][]byte, error) {
	var out [][]byte
	err := ix.db.View(func(btx *bolt.Tx) error {
		if limit > logSizeOf(btx) {
			return fmt.Errorf("tree size %d: %w (%d)", limit, ErrLogSize, logSizeOf(btx))
		}
		nodes, err := build()
		if err != nil {
			return err
		}
		hashes, err := nodeHashes(btx, nodes.IDs)
		if err != nil {
			return err
		}
		out, err = nodes.Rehash(hashes, rfc6962.DefaultHasher.HashChildren)
		return err
	})
	return out, err
}

// InclusionProof proves leaf index (seq-1) is in the tree of the given
// size. It needs index < size ≤ LogSize.
func (ix *Index) InclusionProof(index, size uint64) ([][]byte, error) {
	if index >= size {
		return nil, fmt.Errorf("leaf %d in a tree of size %d: %w", index, size, ErrLogSize)
	}
	return ix.proofHashes(size, func() (proof.Nodes, error) { return proof.Inclusion(index, size) })
}

// ConsistencyProof proves the tree of size from is a prefix of the tree of
// size to. It needs from ≤ to ≤ LogSize.
func (ix *Index) ConsistencyProof(from, to uint64) ([][]byte, error) {
	if from > to {
		return nil, fmt.Errorf("consistency from %d to %d: %w", from, to, ErrLogSize)
	}
	return ix.proofHashes(to, func() (proof.Nodes, error) { return proof.Consistency(from, to) })
}

// Event returns the event with sequence seq.
func (ix *Index) Event(seq uint64) (*journal.Event, error) {
	var e *journal.Event
	err := ix.db.View(func(btx *bolt.Tx) error {
		v := btx.Bucket(bucketJournal).Get(seqKey(seq))
		if v == nil {
			return fmt.Errorf("event %d: %w", seq, ErrLogSize)
		}
		var err error
		e, err = journal.Decode(v)
		return err
	})
	return e, err
}

// StatementSeq is the seq of the release's latest statement event (0: the
// release has none: it never reached approved).
func (ix *Index) StatementSeq(product, version string) (uint64, error) {
	vk, err := versionKeyOf(version)
	if err != nil {
		return 0, err
	}
	var seq uint64
	err = ix.db.View(func(btx *bolt.Tx) error {
		if v := btx.Bucket(bucketStatementSeq).Get(releaseKey(product, vk)); len(v) == 8 {
			seq = seqFromKey(v)
		}
		return nil
	})
	return seq, err
}

// CachedStatement is the statement envelope made for the release, and the
// seq it was made for (0, nil: none yet).
func (ix *Index) CachedStatement(product, version string) (uint64, []byte, error) {
	vk, err := versionKeyOf(version)
	if err != nil {
		return 0, nil, err
	}
	var (
		seq uint64
		env []byte
	)
	err = ix.db.View(func(btx *bolt.Tx) error {
		if v := btx.Bucket(bucketStatements).Get(releaseKey(product, vk)); len(v) > 8 {
			seq, env = seqFromKey(v[:8]), clone(v[8:])
		}
		return nil
	})
	return seq, env, err
}

// PutStatement caches the statement envelope made for the release's event
// seq; an envelope for a later seq already there is kept.
func (ix *Index) PutStatement(product, version string, seq uint64, env []byte) error {
	vk, err := versionKeyOf(version)
	if err != nil {
		return err
	}
	return ix.db.Update(func(btx *bolt.Tx) error {
		b := btx.Bucket(bucketStatements)
		k := releaseKey(product, vk)
		if v := b.Get(k); len(v) > 8 && seqFromKey(v[:8]) > seq {
			return nil
		}
		return b.Put(k, append(seqKey(seq), env...))
	})
}
