package index

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"

	bolt "go.etcd.io/bbolt"
)

// snapshotLocalBuckets hold one node's own state, not the journal's: they
// are left out of a bucket snapshot (another node installs it) and start
// empty on the node that installs one. The webhooks bucket holds the
// hooks' secrets in clear, which must never reach the bucket.
var snapshotLocalBuckets = [][]byte{bucketWebhooks, bucketHookState, bucketHookLog}

// ClusterSnapshot is a compacted copy of the index's journaled state, for
// the bucket's snapshots/ (DESIGN §9): every bucket but the node-local ones,
// at journal head Seq (event hash Hash). Path is a file under the index's
// directory that the caller uploads and removes.
type ClusterSnapshot struct {
	Path string
	Seq  uint64
	Hash string
}

// WriteClusterSnapshot copies the index in one short read transaction (a
// sequential copy of the file, as Snapshot does), then — with no
// transaction of the live index held — rewrites that copy without the
// node-local buckets into a compact file (freed pages of the left-out
// buckets are not carried over: a hook's secret cannot linger in them).
// The snapshot's mirror cursor and committed seq are its head: it is
// published only once the bucket holds its head event, so every event up
// to it is there.
func (ix *Index) WriteClusterSnapshot() (*ClusterSnapshot, error) {
	dir := filepath.Dir(ix.db.Path())
	raw, err := os.CreateTemp(dir, ".snapshot-copy-*.db")
	if err != nil {
		return nil, fmt.Errorf("snapshot: temporary file: %w", err)
	}
	rawPath := raw.Name()
	defer os.Remove(rawPath)
	var seq uint64
	var hash string
	err = ix.db.View(func(tx *bolt.Tx) error {
		seq, hash = decodeHead(tx.Bucket(bucketMeta).Get(keyJournalHead))
		_, err := tx.WriteTo(raw)
		return err
	})
	if cerr := raw.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return nil, fmt.Errorf("snapshot: copy the index: %w", err)
	}
	out, err := os.CreateTemp(dir, ".snapshot-*.db")
	if err != nil {
		return nil, fmt.Errorf("snapshot: temporary file: %w", err)
	}
	outPath := out.Name()
	out.Close()
	if err := compactJournaled(rawPath, outPath, seq); err != nil {
		os.Remove(outPath)
		return nil, fmt.Errorf("snapshot: %w", err)
	}
	return &ClusterSnapshot{Path: outPath, Seq: seq, Hash: hash}, nil
}

// compactJournaled writes the journaled buckets of the index file src into
// the new file dst, in transactions of a bounded size.
func compactJournaled(src, dst string, head uint64) error {
	from, err := bolt.Open(src, 0o600, &bolt.Options{ReadOnly: true})
	if err != nil {
		return err
	}
	defer from.Close()
	if err := os.Remove(dst); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	to, err := bolt.Open(dst, 0o600, &bolt.Options{NoSync: true, NoFreelistSync: true, FreelistType: bolt.FreelistMapType})
	if err != nil {
		return err
	}
	err = from.View(func(rtx *bolt.Tx) error {
		w := &batchWriter{db: to}
		err := rtx.ForEach(func(name []byte, b *bolt.Bucket) error {
			if slices.ContainsFunc(snapshotLocalBuckets, func(l []byte) bool { return string(l) == string(name) }) {
				return w.createBucket([][]byte{name})
			}
			return w.copyBucket([][]byte{name}, b)
		})
		// Every event up to the head is in the bucket (Publish checks the
		// head event is there): the installing node must not publish any
		// of them again.
		if err == nil {
			err = w.put([][]byte{bucketMeta}, keyMirrorCursor, seqKey(head))
		}
		if err == nil {
			err = w.put([][]byte{bucketMeta}, keyJournalCommitted, seqKey(head))
		}
		if err == nil {
			err = w.commit()
		}
		return err
	})
	if cerr := to.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	// NoSync above: one fsync of the finished file.
	f, err := os.OpenFile(dst, os.O_RDWR, 0)
	if err != nil {
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// batchWriter copies keys into a bbolt file, committing every
// snapshotBatchBytes bytes so no transaction grows without bound.
type batchWriter struct {
	db    *bolt.DB
	tx    *bolt.Tx
	bytes int
}

const snapshotBatchBytes = 32 << 20

func (w *batchWriter) bucket(path [][]byte) (*bolt.Bucket, error) {
	if w.tx == nil {
		tx, err := w.db.Begin(true)
		if err != nil {
			return nil, err
		}
		w.tx = tx
	}
	b, err := w.tx.CreateBucketIfNotExists(path[0])
	for _, p := range path[1:] {
		if err != nil {
			break
		}
		b, err = b.CreateBucketIfNotExists(p)
	}
	if err == nil {
		b.FillPercent = 1 // keys arrive in order
	}
	return b, err
}

func (w *batchWriter) createBucket(path [][]byte) error {
	_, err := w.bucket(path)
	return err
}

func (w *batchWriter) put(path [][]byte, k, v []byte) error {
	b, err := w.bucket(path)
	if err != nil {
		return err
	}
	if err := b.Put(k, v); err != nil {
		return err
	}
	w.bytes += len(k) + len(v)
	if w.bytes >= snapshotBatchBytes {
		return w.commit()
	}
	return nil
}

func (w *batchWriter) commit() error {
	if w.tx == nil {
		return nil
	}
	err := w.tx.Commit()
	w.tx, w.bytes = nil, 0
	return err
}

func (w *batchWriter) copyBucket(path [][]byte, b *bolt.Bucket) error {
	if err := w.createBucket(path); err != nil {
		return err
	}
	return b.ForEach(func(k, v []byte) error {
		if v == nil { // a nested bucket
			return w.copyBucket(append(slices.Clone(path), k), b.Bucket(k))
		}
		return w.put(path, k, v)
	})
}

// SnapshotInfo is what an installed snapshot file says about itself.
type SnapshotInfo struct {
	Seq    uint64
	Hash   string
	Schema int
}

// InspectSnapshot opens a downloaded snapshot read-only and reports its
// journal head and schema; a file that is not a reliquary index, or whose
// schema is newer than this build's, is an error. Call it only on a file
// whose signature has been checked: bbolt trusts the pages it reads.
func InspectSnapshot(path string) (SnapshotInfo, error) {
	var info SnapshotInfo
	db, err := bolt.Open(path, 0o600, &bolt.Options{ReadOnly: true, Timeout: 1})
	if err != nil {
		return info, fmt.Errorf("open snapshot: %w", err)
	}
	defer db.Close()
	err = db.View(func(tx *bolt.Tx) error {
		meta := tx.Bucket(bucketMeta)
		if meta == nil {
			return errors.New("not a reliquary index (no meta bucket)")
		}
		v := meta.Get(keySchemaVersion)
		if len(v) != 8 {
			return errors.New("no schema version")
		}
		info.Schema = int(seqFromKey(v))
		if info.Schema < 1 || info.Schema > schemaVersion {
			return fmt.Errorf("index schema %d is not one this build knows (1..%d)", info.Schema, schemaVersion)
		}
		info.Seq, info.Hash = decodeHead(meta.Get(keyJournalHead))
		if info.Seq == 0 {
			return errors.New("no journal head")
		}
		return nil
	})
	return info, err
}
