package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/reliquary/reliquary/internal/app"
	"github.com/reliquary/reliquary/storage"
	"github.com/reliquary/reliquary/storage/fs"
	"github.com/reliquary/reliquary/storage/s3"
)

func newLogger(cfg *serveConfig) *slog.Logger {
	var level slog.Level
	_ = level.UnmarshalText([]byte(cfg.LogLevel))
	opts := &slog.HandlerOptions{Level: level}
	if cfg.LogFormat == "json" {
		return slog.New(slog.NewJSONHandler(os.Stderr, opts))
	}
	return slog.New(slog.NewTextHandler(os.Stderr, opts))
}

func openStore(ctx context.Context, cfg *serveConfig, log *slog.Logger) (storage.BlobStore, func() error, error) {
	switch cfg.Storage {
	case "s3":
		st, err := s3.New(cfg.s3Config())
		if err != nil {
			return nil, nil, err
		}
		cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		if err := st.CreateBucket(cctx); err != nil {
			// Not fatal: the service starts, /readyz says why it is not ready.
			log.Warn("s3 storage not reachable at start; /readyz reports 503 until it is",
				"endpoint", cfg.S3Endpoint, "bucket", cfg.S3Bucket, "err", err)
		}
		return st, func() error { return nil }, nil
	default:
		st, err := fs.New(filepath.Join(cfg.DataDir, "blobs"))
		if err != nil {
			return nil, nil, err
		}
		return st, st.Close, nil
	}
}

// appConfig is the server's wiring configuration: the flags, the
// retired keys read from their files, the signing key's password from
// $RELIQUARY_SIGNING_KEY_PASSWORD.
func (c *serveConfig) appConfig(store storage.BlobStore, log *slog.Logger) (app.Config, error) {
	var retired [][]byte
	for _, f := range c.RetiredKeys {
		pem, err := os.ReadFile(f)
		if err != nil {
			return app.Config{}, fmt.Errorf("--retired-keys: %w", err)
		}
		retired = append(retired, pem)
	}
	return app.Config{DataDir: c.DataDir, Store: store,
		SigningKey: c.SigningKey, SigningKeyPassword: []byte(os.Getenv("RELIQUARY_SIGNING_KEY_PASSWORD")), RetiredKeys: retired,
		AdminToken: c.AdminToken, AdminTokenGenerated: func(secret string) {
			fmt.Fprintf(os.Stderr, "\nNo tokens existed: created the admin token below. It is shown only this once.\n\n  RELIQUARY_TOKEN=%s\n\n", secret)
		},
		AnonymousRead: c.AnonymousRead, Downloads: c.Downloads, MaxUploadsPerToken: c.MaxUploadsPerToken,
		UISessionTTL: c.UISessionTTL, BodyIdleTimeout: c.BodyIdleTimeout, WebhookAllowPrivate: c.WebhookAllowPrivate,
		OIDCIssuers: c.OIDCIssuers, OIDCTokenTTL: c.OIDCTokenTTL, OIDCAllowHTTPIssuer: c.OIDCAllowHTTPIssuer,
		RetentionInterval: c.RetentionInterval, Logger: log, NodeID: c.NodeID}, nil
}
