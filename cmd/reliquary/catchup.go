package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"

	"github.com/reliquary/reliquary/internal/index"
	"github.com/reliquary/reliquary/internal/journal"
	"github.com/reliquary/reliquary/internal/signing"
	"github.com/reliquary/reliquary/storage"
)

// catchUpFromBucket runs before the server serves (and before the signing
// key is loaded or generated, and the bootstrap admin written):
//   - a data dir without its signing key over a bucket that already holds
//     a journal refuses to start: a new key would be generated silently and
//     nothing the library signed would verify with it;
//   - the events the bucket's journal has beyond the index (a restored hot
//     backup is behind the bucket; a fresh data dir has nothing) are
//     replayed into the index, so it never serves an empty or stale library;
//   - a foreign journal (the bucket and the index differ) is returned, not
//     fatal: /readyz fails with it, naming the fix.
func catchUpFromBucket(ctx context.Context, cfg *serveConfig, store storage.BlobStore, ix *index.Index, log *slog.Logger) (foreign error, err error) {
	head, _, err := ix.Head()
	if err != nil {
		return nil, err
	}
	has, err := journal.HasJournal(ctx, store)
	if err != nil {
		if head > 0 && errors.Is(err, storage.ErrUnavailable) {
			log.Warn("cannot reach the bucket to compare its journal with the index; serving the index as it is", "err", err)
			return nil, nil
		}
		return nil, fmt.Errorf("read the bucket's journal before serving: %w", err)
	}
	if !has {
		return nil, nil
	}
	if cfg.SigningKey == "" {
		if _, err := os.Stat(filepath.Join(cfg.DataDir, signing.DefaultKeyFile)); errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("the bucket already holds a library's journal but %s has no signing key: "+
				"copy the library's %s into it or pass --signing-key (a new key would sign nothing the library signed)",
				cfg.DataDir, signing.DefaultKeyFile)
		}
	}
	n, err := journal.CatchUp(ctx, store, ix)
	if errors.Is(err, journal.ErrForeignJournal) {
		log.Error("journal check failed; /readyz reports it", "err", err)
		return err, nil
	}
	if err != nil {
		return nil, fmt.Errorf("catch up from the bucket's journal: %w", err)
	}
	if n > 0 {
		log.Info("caught up from the bucket's journal", "events", n, "from_seq", head+1)
	}
	return nil, nil
}
