package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/reliquary/reliquary/internal/journal"
	"github.com/reliquary/reliquary/internal/signing"
	"github.com/reliquary/reliquary/internal/snapshot"
	"github.com/reliquary/reliquary/storage"
)

// installSnapshot gives a node on an empty data dir over a bucket with a
// journal the newest index snapshot that verifies (internal/snapshot), so
// the catch-up that follows replays only the journal after it. It does
// nothing when the index exists, when the data dir has no signing key
// (catch-up refuses that start and says why), or when the bucket does not
// answer (catch-up then replays from seq 1 once it does).
func installSnapshot(ctx context.Context, cfg Config, indexPath string, log *slog.Logger) error {
	if _, err := os.Stat(indexPath); !errors.Is(err, os.ErrNotExist) {
		return nil
	}
	keyed := cfg.SigningKey != ""
	if _, err := os.Stat(filepath.Join(cfg.DataDir, signing.DefaultKeyFile)); err == nil {
		keyed = true
	}
	if !keyed {
		return nil
	}
	has, err := journal.HasJournal(ctx, cfg.Store)
	if errors.Is(err, storage.ErrUnavailable) || (err == nil && !has) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("read the bucket's journal before serving: %w", err)
	}
	signer, err := signing.Load(ctx, signing.Config{Ref: cfg.SigningKey, DataDir: cfg.DataDir,
		Password: cfg.SigningKeyPassword, Logger: log})
	if err != nil {
		return fmt.Errorf("signing key: %w", err)
	}
	keyring, err := signing.NewKeyring(signer, cfg.RetiredKeys...)
	if err != nil {
		return fmt.Errorf("--retired-keys: %w", err)
	}
	start := time.Now()
	got, err := snapshot.Install(ctx, cfg.Store, keyring, indexPath, log)
	if err != nil {
		return fmt.Errorf("install the bucket's index snapshot: %w", err)
	}
	if got != nil {
		log.Info("installed the bucket's index snapshot; catching up from it", "key", storage.SnapshotKey(got.Seq),
			"bytes", got.Bytes, "took", time.Since(start).Round(time.Millisecond))
	}
	return nil
}
