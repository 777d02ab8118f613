package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"

	"github.com/reliquary/reliquary/internal/index"
	"github.com/reliquary/reliquary/internal/journal"
	"github.com/reliquary/reliquary/internal/signing"
	"github.com/reliquary/reliquary/internal/snapshot"
	"github.com/reliquary/reliquary/storage"
)

// rebuildFromSnapshot is `index rebuild --from-bucket --from-snapshot`:
// the newest index snapshot in the bucket whose statement verifies with
// --key (or a retired key) is installed at out, then the journal after it
// is replayed, as a new cluster node catches up (internal/snapshot). With
// no usable snapshot the whole journal is replayed. It returns the index's
// journal head and the snapshot's seq (0: none).
func rebuildFromSnapshot(ctx context.Context, store storage.BlobStore, sl *signedLogFlags, out string, log io.Writer) (uint64, uint64, error) {
	if sl.key == "" {
		return 0, 0, usageError{errors.New("--from-snapshot needs --key (the public key the snapshots' statements must be signed with)")}
	}
	keys, err := readKeyFiles(sl.key, sl.retired)
	if err != nil {
		return 0, 0, err
	}
	kr, err := signing.NewKeyring(nil, keys...)
	if err != nil {
		return 0, 0, usageError{fmt.Errorf("--key: %w", err)}
	}
	got, err := snapshot.Install(ctx, store, kr, out, slog.New(slog.NewTextHandler(log, nil)))
	if err != nil {
		return 0, 0, err
	}
	if got == nil {
		next, err := sl.mirrorReader(ctx, store)
		if err != nil {
			return 0, 0, err
		}
		n, err := index.Rebuild(out, next)
		return n, 0, err
	}
	ix, err := index.Open(out, index.Options{})
	if err != nil {
		return 0, 0, err
	}
	if _, err := journal.CatchUp(ctx, store, ix); err != nil {
		return 0, 0, errors.Join(fmt.Errorf("replay the journal after snapshot %d: %w", got.Seq, err), ix.Close())
	}
	head, _, err := ix.Head()
	return head, got.Seq, errors.Join(err, ix.Close())
}
