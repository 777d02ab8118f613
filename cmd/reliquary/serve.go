package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"runtime/debug"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/reliquary/reliquary/internal/app"
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

// serve opens the store, wires the server (internal/app), listens until
// ctx ends, then drains and closes everything.
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
	acfg, err := cfg.appConfig(store, log)
	if err != nil {
		return err
	}
	a, err := app.New(ctx, acfg)
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, a.Close()) }()
	httpSrv, ln, scheme, err := listen(cfg, a.Handler(), log)
	if err != nil {
		return err
	}
	log.Info("reliquary serving", "url", scheme+"://"+ln.Addr().String(), "storage", cfg.Storage,
		"data_dir", cfg.DataDir, "signing_key_id", a.Signer.KeyID(), "downloads", cfg.Downloads)
	workers, stopWorkers := context.WithCancel(context.Background())
	ran := make(chan struct{})
	go func() { _ = a.Run(workers); close(ran) }()
	defer func() { stopWorkers(); <-ran }()
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
