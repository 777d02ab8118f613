package snapshot

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"

	"github.com/reliquary/reliquary/internal/index"
	"github.com/reliquary/reliquary/internal/journal"
	"github.com/reliquary/reliquary/storage"
)

// Installed is the snapshot Install put in place.
type Installed struct {
	Seq   uint64
	Bytes int64
}

// Install puts the newest snapshot in the bucket that verifies (see the
// package documentation) at dst, which must not exist, and returns it; nil
// when none does (the caller replays the journal from seq 1). A snapshot
// that fails a check is logged and skipped for the next older one; an
// error is returned only for what no older snapshot can cure (dst exists,
// the local disk, a cancelled ctx).
func Install(ctx context.Context, store storage.BlobStore, v Verifier, dst string, log *slog.Logger) (*Installed, error) {
	if _, err := os.Stat(dst); err == nil {
		return nil, fmt.Errorf("install snapshot: %s exists", dst)
	}
	have, err := List(ctx, store)
	if err != nil {
		return nil, fmt.Errorf("list snapshots: %w", err)
	}
	part := dst + ".snapshot"
	for _, l := range have {
		if !l.complete() {
			continue
		}
		n, err := fetch(ctx, store, v, l.Seq, part)
		if err != nil {
			os.Remove(part)
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			var local *localError
			if errors.As(err, &local) {
				return nil, err
			}
			log.Warn("index snapshot refused; trying an older one", "key", storage.SnapshotKey(l.Seq), "err", err)
			continue
		}
		if err := os.Rename(part, dst); err != nil {
			os.Remove(part)
			return nil, err
		}
		if d, err := os.Open(filepath.Dir(dst)); err == nil {
			_ = d.Sync()
			d.Close()
		}
		return &Installed{Seq: l.Seq, Bytes: n}, nil
	}
	return nil, nil
}

// localError is a failure of this machine, not of the snapshot.
type localError struct{ err error }

func (e *localError) Error() string { return e.err.Error() }
func (e *localError) Unwrap() error { return e.err }

// fetch downloads and verifies the snapshot at seq into path.
func fetch(ctx context.Context, store storage.BlobStore, v Verifier, seq uint64, path string) (int64, error) {
	rc, _, err := store.Get(ctx, storage.SnapshotSigKey(seq), 0, -1)
	if err != nil {
		return 0, err
	}
	raw, err := io.ReadAll(io.LimitReader(rc, maxStatement+1))
	rc.Close()
	if err != nil {
		return 0, err
	}
	if len(raw) > maxStatement {
		return 0, fmt.Errorf("statement larger than %d bytes", maxStatement)
	}
	st, err := parseStatement(raw, seq, v)
	if err != nil {
		return 0, err
	}
	// The journal's event at seq first (small): a snapshot of another
	// chain is not downloaded at all.
	e, err := journal.BucketEvent(ctx, store, seq)
	if err != nil {
		return 0, fmt.Errorf("the bucket's journal event %d: %w", seq, err)
	}
	if e.Hash != st.HeadHash {
		return 0, fmt.Errorf("the snapshot's journal head differs from the bucket's event %d", seq)
	}
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return 0, &localError{err}
	}
	defer f.Close()
	rc, _, err = store.Get(ctx, storage.SnapshotKey(seq), 0, -1)
	if err != nil {
		return 0, err
	}
	h := sha256.New()
	n, err := io.Copy(io.MultiWriter(f, h), io.LimitReader(rc, st.Size+1))
	rc.Close()
	if err != nil {
		var pe *os.PathError
		if errors.As(err, &pe) {
			return 0, &localError{err}
		}
		return 0, err
	}
	if n != st.Size || hex.EncodeToString(h.Sum(nil)) != st.SHA256 {
		return 0, fmt.Errorf("the file is not the one signed (%d bytes, the statement says %d, or its SHA-256 differs)", n, st.Size)
	}
	if err := f.Sync(); err != nil {
		return 0, &localError{err}
	}
	if err := f.Close(); err != nil {
		return 0, &localError{err}
	}
	info, err := index.InspectSnapshot(path)
	if err != nil {
		return 0, err
	}
	if info.Seq != seq || info.Hash != st.HeadHash {
		return 0, fmt.Errorf("the file's journal head is %d, not the signed %d", info.Seq, seq)
	}
	return n, nil
}
