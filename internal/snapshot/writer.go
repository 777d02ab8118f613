package snapshot

import (
	"bytes"
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/reliquary/reliquary/internal/index"
	"github.com/reliquary/reliquary/internal/journal"
	"github.com/reliquary/reliquary/storage"
)

// Defaults of a Writer.
const (
	// DefaultEvery is how many events a node lets pass beyond the bucket's
	// newest snapshot before it writes one: a new node replays at most
	// about this many events after installing it.
	DefaultEvery = 10_000
	// DefaultMaxAge writes a snapshot of a quieter library once the newest
	// is this old and events came after it.
	DefaultMaxAge = time.Hour
	// DefaultInterval is how often a node checks.
	DefaultInterval = time.Minute
	// DefaultKeep is how many snapshots are kept in the bucket.
	DefaultKeep = 3
)

// Signer signs a snapshot's statement (signing.Signer).
type Signer interface {
	Sign(ctx context.Context, msg []byte) ([]byte, error)
	KeyID() string
}

// Source is the index as the writer reads it.
type Source interface {
	Head() (uint64, string, error)
	WriteClusterSnapshot() (*index.ClusterSnapshot, error)
}

// Writer writes the bucket's snapshots from one node's index. Several
// nodes may run one: the keys are create-only, so the first writer of a
// seq wins and the others' uploads are refused (and their statements never
// written); a node writes only when the bucket's newest snapshot is Every
// events behind its head, so they rarely race at all.
type Writer struct {
	Index  Source
	Store  storage.BlobStore
	Signer Signer
	Log    *slog.Logger
	// Ready says whether the index may be snapshotted now (caught up, no
	// foreign journal). nil: always.
	Ready func() error

	Every    uint64        // default DefaultEvery
	MaxAge   time.Duration // default DefaultMaxAge
	Interval time.Duration // default DefaultInterval
	Keep     int           // default DefaultKeep
}

// Run checks every Interval until ctx ends.
func (w *Writer) Run(ctx context.Context) {
	interval := cmp.Or(w.Interval, DefaultInterval)
	for {
		select {
		case <-ctx.Done():
			return
		case <-time.After(interval):
		}
		if w.Ready != nil && w.Ready() != nil {
			continue
		}
		if seq, err := w.Pass(ctx); err != nil && ctx.Err() == nil {
			w.Log.Warn("index snapshot not written; retrying later", "err", err)
		} else if seq > 0 {
			w.Log.Info("index snapshot written to the bucket", "key", storage.SnapshotKey(seq))
		}
	}
}

// Listed is one snapshot in the bucket.
type Listed struct {
	Seq     uint64
	ModTime time.Time
	db, sig bool
}

// complete says both objects are there.
func (l Listed) complete() bool { return l.db && l.sig }

// List returns the bucket's snapshots, newest (highest seq) first, and
// whether each has its statement.
func List(ctx context.Context, store storage.BlobStore) ([]Listed, error) {
	bySeq := map[uint64]*Listed{}
	err := store.List(ctx, storage.SnapshotPrefix, func(i storage.Info) error {
		var seq uint64
		name := strings.TrimPrefix(i.Key, storage.SnapshotPrefix)
		if _, err := fmt.Sscanf(name, "%d.db", &seq); err != nil || seq == 0 ||
			(i.Key != storage.SnapshotKey(seq) && i.Key != storage.SnapshotSigKey(seq)) {
			return nil
		}
		l := bySeq[seq]
		if l == nil {
			l = &Listed{Seq: seq}
			bySeq[seq] = l
		}
		switch i.Key {
		case storage.SnapshotKey(seq):
			l.ModTime, l.db = i.ModTime, true
		case storage.SnapshotSigKey(seq):
			l.sig = true
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	out := make([]Listed, 0, len(bySeq))
	for _, l := range bySeq {
		out = append(out, *l)
	}
	slices.SortFunc(out, func(a, b Listed) int { return cmp.Compare(b.Seq, a.Seq) })
	return out, nil
}

// Pass writes a snapshot if one is due and prunes old ones; it returns the
// seq written (0: none).
func (w *Writer) Pass(ctx context.Context) (uint64, error) {
	head, _, err := w.Index.Head()
	if err != nil || head == 0 {
		return 0, err
	}
	have, err := List(ctx, w.Store)
	if err != nil {
		return 0, err
	}
	var newest uint64
	var newestAt time.Time
	for _, l := range have {
		if l.complete() {
			newest, newestAt = l.Seq, l.ModTime
			break
		}
	}
	due := head >= newest+cmp.Or(w.Every, DefaultEvery) ||
		(head > newest && time.Since(newestAt) >= cmp.Or(w.MaxAge, DefaultMaxAge))
	if !due {
		return 0, nil
	}
	seq, err := w.write(ctx)
	if err != nil || seq == 0 {
		return seq, err
	}
	return seq, w.prune(ctx)
}

// write makes and uploads one snapshot.
func (w *Writer) write(ctx context.Context) (uint64, error) {
	snap, err := w.Index.WriteClusterSnapshot()
	if err != nil {
		return 0, err
	}
	defer os.Remove(snap.Path)
	return Publish(ctx, w.Store, w.Signer, snap)
}

// Publish uploads a snapshot file made by index.WriteClusterSnapshot as
// snapshots/<seq>.db, create-only, then its signed statement. It returns
// the seq, or 0 when the bucket does not hold the head event yet (the
// mirror lags the index: try later) or another node's snapshot of that
// seq is already there (theirs stands; no statement is written for it).
func Publish(ctx context.Context, store storage.BlobStore, signer Signer, snap *index.ClusterSnapshot) (uint64, error) {
	// The bucket must hold the head event: the snapshot is of the
	// bucket's journal, and installing it must leave nothing to mirror.
	e, err := journal.BucketEvent(ctx, store, snap.Seq)
	if errors.Is(err, storage.ErrNotFound) {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	if e.Hash != snap.Hash {
		return 0, &journal.ForeignJournalError{Seq: snap.Seq, Fix: journal.ForeignJournalFix}
	}
	f, err := os.Open(snap.Path)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	h := sha256.New()
	size, err := io.Copy(h, f)
	if err != nil {
		return 0, err
	}
	st := &Statement{Format: Format, Seq: snap.Seq, HeadHash: snap.Hash, Size: size,
		SHA256: hex.EncodeToString(h.Sum(nil)), KeyID: signer.KeyID()}
	sig, err := signer.Sign(ctx, st.Message())
	if err != nil {
		return 0, err
	}
	st.Signature = base64.StdEncoding.EncodeToString(sig)
	raw, err := json.Marshal(st)
	if err != nil {
		return 0, err
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return 0, err
	}
	_, err = store.Put(ctx, storage.SnapshotKey(snap.Seq), f, size, storage.PutOptions{ContentType: "application/octet-stream"})
	if errors.Is(err, storage.ErrExists) {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	_, err = store.Put(ctx, storage.SnapshotSigKey(snap.Seq), bytes.NewReader(raw), int64(len(raw)),
		storage.PutOptions{ContentType: "application/json"})
	if err != nil {
		return 0, fmt.Errorf("snapshot statement: %w", err)
	}
	return snap.Seq, nil
}

// prune deletes every snapshot but the Keep newest complete ones (and
// incomplete ones older than those: a writer that died between its two
// objects). The statement goes first: a snapshot without one is never
// installed.
func (w *Writer) prune(ctx context.Context) error {
	have, err := List(ctx, w.Store)
	if err != nil {
		return err
	}
	keep := cmp.Or(w.Keep, DefaultKeep)
	kept := 0
	var errs []error
	for _, l := range have {
		if kept >= keep {
			for _, k := range []string{storage.SnapshotSigKey(l.Seq), storage.SnapshotKey(l.Seq)} {
				if err := w.Store.Delete(ctx, k); err != nil && !errors.Is(err, storage.ErrNotFound) {
					errs = append(errs, err)
				}
			}
			continue
		}
		if l.complete() {
			kept++
		}
	}
	return errors.Join(errs...)
}
