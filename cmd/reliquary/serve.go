package main

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"runtime/debug"
	"sync"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/spf13/cobra"

	"github.com/reliquary/reliquary/api"
	"github.com/reliquary/reliquary/internal/index"
	"github.com/reliquary/reliquary/internal/journal"
	"github.com/reliquary/reliquary/internal/library"
	"github.com/reliquary/reliquary/internal/oidc"
	"github.com/reliquary/reliquary/internal/signing"
	"github.com/reliquary/reliquary/internal/transparency"
	"github.com/reliquary/reliquary/storage"
	"github.com/reliquary/reliquary/storage/fs"
	"github.com/reliquary/reliquary/storage/s3"
)

func newServeCmd() *cobra.Command {
	var cfg serveConfig
	var configFile string
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Run the library service",
		Long: `Run the library service. With no flags it is the embedded default: index and artifacts
under ./reliquary-data, a signing key generated there on first start, listening on 127.0.0.1:8080.

Every flag can also be set as RELIQUARY_<NAME> in the environment (RELIQUARY_S3_SECRET_KEY for
--s3-secret-key) or as <name>: value in the YAML file given with --config. Flags win over the
environment, the environment over the file.`,
		Example: `  reliquary serve
  reliquary serve --storage s3 --s3-endpoint minio:9000 --s3-bucket releases --s3-insecure
  RELIQUARY_ADMIN_TOKEN=... reliquary serve --config /etc/reliquary.yaml`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := cfg.load(cmd, configFile); err != nil {
				return usageError{err}
			}
			ctx, stop := signal.NotifyContext(cmd.Context(), syscall.SIGINT, syscall.SIGTERM)
			defer stop()
			return serve(ctx, &cfg)
		},
	}
	cfg.bindFlags(cmd.Flags())
	cmd.Flags().StringVar(&configFile, "config", "", "YAML file with the same setting names as the flags")
	return cmd
}

func newLogger(cfg *serveConfig) *slog.Logger {
	var level slog.Level
	_ = level.UnmarshalText([]byte(cfg.LogLevel))
	opts := &slog.HandlerOptions{Level: level}
	if cfg.LogFormat == "json" {
		return slog.New(slog.NewJSONHandler(os.Stderr, opts))
	}
	return slog.New(slog.NewTextHandler(os.Stderr, opts))
}

// serve wires the store, the index, the signer, the library and the router,
// runs until ctx ends, then drains and closes everything.
func serve(ctx context.Context, cfg *serveConfig) (err error) {
	log := newLogger(cfg)
	slog.SetDefault(log)
	if n, _ := parseBytes(cfg.MemoryLimit); n > 0 {
		debug.SetMemoryLimit(n)
	}
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return fmt.Errorf("create data directory: %w", err)
	}

	store, closeStore, err := openStore(ctx, cfg, log)
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, closeStore()) }()

	ix, err := index.Open(filepath.Join(cfg.DataDir, "index.db"), index.Options{})
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, ix.Close()) }()
	catchup := newCatchUp(cfg, store, ix, log)
	if err := catchup.attempt(ctx); err != nil {
		return err
	}

	signer, err := signing.Load(ctx, signing.Config{Ref: cfg.SigningKey, DataDir: cfg.DataDir,
		Password: []byte(os.Getenv("RELIQUARY_SIGNING_KEY_PASSWORD")), Logger: log})
	if err != nil {
		return fmt.Errorf("signing key: %w", err)
	}

	var retired [][]byte
	for _, f := range cfg.RetiredKeys {
		pem, err := os.ReadFile(f)
		if err != nil {
			return fmt.Errorf("--retired-keys: %w", err)
		}
		retired = append(retired, pem)
	}
	keyring, err := signing.NewKeyring(signer, retired...)
	if err != nil {
		return fmt.Errorf("--retired-keys: %w", err)
	}

	lib := library.New(library.Config{Repo: ix, Store: store, Signer: signer, Logger: log, OIDCTokenTTL: cfg.OIDCTokenTTL})
	oidcVerifier, err := oidc.New(oidc.Config{Issuers: cfg.OIDCIssuers, AllowHTTPIssuer: cfg.OIDCAllowHTTPIssuer})
	if err != nil {
		return fmt.Errorf("--oidc-issuer: %w", err)
	}
	bootstrap := func() error {
		boot, err := lib.BootstrapAdmin(ctx, cfg.AdminToken)
		if err != nil {
			return fmt.Errorf("bootstrap admin token: %w", err)
		}
		if boot.Ignored != "" {
			log.Warn(boot.Ignored)
		}
		if generated := boot.Generated; generated != "" {
			fmt.Fprintf(os.Stderr, "\nNo tokens existed: created the admin token below. It is shown only this once.\n\n  RELIQUARY_TOKEN=%s\n\n", generated)
		}
		return nil
	}
	if !catchup.pending() {
		if err := bootstrap(); err != nil {
			return err
		}
	}

	linkSecret, err := loadLinkSecret(cfg.DataDir)
	if err != nil {
		return err
	}
	notifier := journal.NewNotifier()
	ix.OnCommit(func([]*journal.Event) { notifier.Notify() })
	tlog := &transparency.Log{Tree: ix, Signer: signer, Store: store}
	mirror := &journal.Mirror{Source: ix, State: ix, Store: store, Notifier: notifier, Log: log, Checkpoint: tlog.MirrorCheckpoint}
	srv := api.New(api.Config{Library: lib, Index: ix, Store: store, PublicKeyPEM: signer.PublicKeyPEM(), Keyring: keyring, Bundler: keyring,
		Journal: ix, Notifier: notifier,
		AnonymousRead: cfg.AnonymousRead, Downloads: cfg.Downloads, MaxUploadsPerToken: cfg.MaxUploadsPerToken, Logger: log,
		OIDC: oidcVerifier, UISessionTTL: cfg.UISessionTTL, Log: tlog,
		JournalCheck:        func() error { return errors.Join(catchup.Err(), mirror.Err()) },
		WebhookAllowPrivate: cfg.WebhookAllowPrivate, BodyIdleTimeout: cfg.BodyIdleTimeout,
		LinkSecret: linkSecret})
	httpSrv := &http.Server{
		Handler:           srv.Handler(),
		ReadHeaderTimeout: cfg.ReadHeaderTimeout,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    64 << 10,
		// No ReadTimeout/WriteTimeout: artifact streams may take hours.
		ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", cfg.Listen, err)
	}
	scheme := "http"
	if cfg.TLSCert != "" {
		cert, err := tls.LoadX509KeyPair(cfg.TLSCert, cfg.TLSKey)
		if err != nil {
			ln.Close()
			return fmt.Errorf("TLS certificate: %w", err)
		}
		httpSrv.TLSConfig = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
		ln = tls.NewListener(ln, httpSrv.TLSConfig)
		scheme = "https"
	}
	log.Info("reliquary serving", "url", scheme+"://"+ln.Addr().String(), "storage", cfg.Storage,
		"data_dir", cfg.DataDir, "signing_key_id", signer.KeyID(), "downloads", cfg.Downloads)

	// The journal's workers: the bucket mirror and webhook deliveries.
	workers, stopWorkers := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	defer func() { stopWorkers(); wg.Wait() }()
	dispatcher := &journal.Dispatcher{Source: ix, Hooks: ix, Notifier: notifier, Log: log, AllowPrivate: cfg.WebhookAllowPrivate}
	if catchup.pending() {
		wg.Go(func() {
			catchup.retry(workers, func() {
				if err := bootstrap(); err != nil {
					log.Error("bootstrap admin after catching up", "err", err)
				}
			})
		})
	}
	wg.Go(func() { mirror.Run(workers) })
	wg.Go(func() { dispatcher.Run(workers) })
	wg.Go(func() { lib.RetentionLoop(workers, cfg.RetentionInterval) })
	wg.Go(func() { lib.RunTokenMaintenance(workers, library.DefaultTokenMaintenance) })
	statements := &transparency.StatementWorker{Log: tlog, Events: ix, Notifier: notifier, Logger: log}
	wg.Go(func() { statements.Run(workers) })
	srv.Registry().MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "reliquary_journal_mirror_lag_events",
		Help: "Journal events not yet mirrored to the blob store."}, mirror.Lag))

	errc := make(chan error, 1)
	go func() { errc <- httpSrv.Serve(ln) }()
	select {
	case err := <-errc:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	log.Info("shutting down", "drain_timeout", cfg.ShutdownTimeout)
	drain, cancel := context.WithTimeout(context.Background(), cfg.ShutdownTimeout)
	defer cancel()
	if err := httpSrv.Shutdown(drain); err != nil {
		return fmt.Errorf("drain connections: %w", err)
	}
	log.Info("stopped")
	return nil
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
