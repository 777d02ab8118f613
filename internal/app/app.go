// Package app is the one startup wiring of a Reliquary server: the index
// over an opened store, the catch-up from the bucket's journal, the signer
// and keyring, the library, the OIDC verifier, the bootstrap admin, the
// signed log, the journal's mirror and the HTTP API, and the background
// workers. `reliquary serve` and the test environment both build a server
// with New, so they cannot drift apart.
package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"path/filepath"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/reliquary/reliquary/api"
	"github.com/reliquary/reliquary/internal/evidence"
	"github.com/reliquary/reliquary/internal/index"
	"github.com/reliquary/reliquary/internal/journal"
	"github.com/reliquary/reliquary/internal/library"
	"github.com/reliquary/reliquary/internal/oidc"
	"github.com/reliquary/reliquary/internal/signing"
	"github.com/reliquary/reliquary/internal/transparency"
	"github.com/reliquary/reliquary/storage"
)

// Config is every setting of a server. Zero values are the defaults of the
// packages they go to, except where a field says otherwise.
type Config struct {
	// DataDir holds the index (index.db), the generated signing key and
	// the download link secret. It must exist.
	DataDir string
	// Store is the already-opened blob store; the caller closes it.
	Store storage.BlobStore

	// SigningKey is --signing-key: a PEM file or a KMS URI ("" : the key
	// generated under DataDir). SigningKeyPassword decrypts a PEM key.
	SigningKey         string
	SigningKeyPassword []byte
	// RetiredKeys are PEM public keys of rotated-out signing keys.
	RetiredKeys [][]byte

	// AdminToken is the bootstrap admin secret ("": one is generated when
	// no token exists, and passed to AdminTokenGenerated).
	AdminToken string
	// AdminTokenGenerated receives a generated bootstrap admin secret, the
	// only time it exists in clear (nil: it is not shown anywhere).
	AdminTokenGenerated func(secret string)

	// The API's switches (api.Config).
	AnonymousRead       bool
	Downloads           string
	MaxUploadsPerToken  int
	UISessionTTL        time.Duration
	BodyIdleTimeout     time.Duration
	WebhookAllowPrivate bool

	// Trusted publishing (oidc.Config, library.Config).
	OIDCIssuers         []string
	OIDCTokenTTL        time.Duration
	OIDCAllowHTTPIssuer bool
	OIDCMinKeyRefresh   time.Duration

	// RetentionInterval is how often the retention policies run in the
	// background (0: never).
	RetentionInterval time.Duration

	// Logger is the server's log (nil: slog.Default()).
	Logger *slog.Logger
	// Now is the library's clock (nil: time.Now).
	Now func() time.Time

	// Test tunings (0: the packages' defaults).
	MirrorInterval                       time.Duration
	WebhookMinBackoff, WebhookMaxBackoff time.Duration
	WebhookPoll                          time.Duration
	TokenMaintenanceInterval             time.Duration

	// NodeID is --node-id: this node's name in a cluster ("": a random id
	// kept in <DataDir>/node-id).
	NodeID string
}

// App is a wired server. Its fields are for the caller's inspection (tests,
// log lines); Handler serves it and Run runs its background workers.
type App struct {
	Index    *index.Index
	Store    storage.BlobStore
	Lib      *library.Service
	Signer   *signing.Signer
	Keyring  *signing.Keyring
	Notifier *journal.Notifier
	Mirror   *journal.Mirror
	Log      *transparency.Log
	API      *api.Server

	// NodeID names this node (cluster.go).
	NodeID string

	cfg        Config
	log        *slog.Logger
	catchup    *catchUp
	follower   *follower
	dispatcher *journal.Dispatcher
	statements *transparency.StatementWorker
}

// New opens the index under cfg.DataDir, brings it level with the bucket's
// journal and wires the server. A fatal reason (the bucket holds a journal
// but the data dir has no key, a bad key, an unreadable journal) is an
// error and nothing stays open.
func New(ctx context.Context, cfg Config) (a *App, err error) {
	if cfg.Store == nil {
		return nil, errors.New("app: no store")
	}
	log := cfg.Logger
	if log == nil {
		log = slog.Default()
	}
	ix, err := index.Open(filepath.Join(cfg.DataDir, "index.db"), index.Options{})
	if err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			err = errors.Join(err, ix.Close())
		}
	}()
	catchup := newCatchUp(cfg.DataDir, cfg.SigningKey, cfg.Store, ix, log)
	if err := catchup.attempt(ctx); err != nil {
		return nil, err
	}
	nodeID, err := loadNodeID(cfg.DataDir, cfg.NodeID)
	if err != nil {
		return nil, err
	}
	// Every write commits through the bucket's journal (cluster.go).
	follower := newFollower(cfg.Store, ix, log)
	ix.SetCommitter(&bucketCommitter{store: cfg.Store, nodeID: nodeID, log: log.With("node", nodeID)},
		func(ctx context.Context) error { _, err := follower.pull(ctx); return err })
	if catchup.Err() == nil {
		// Events of this index the bucket lacks (written before the bucket
		// became the commit point, or offline) go there first.
		if err := ix.PublishTail(ctx); errors.Is(err, journal.ErrForeignJournal) {
			log.Error("journal check failed; /readyz reports it", "err", err)
			catchup.set(err)
		} else if err != nil {
			log.Warn("cannot publish this index's last events to the bucket yet; the next write does", "err", err)
		}
	}

	signer, err := signing.Load(ctx, signing.Config{Ref: cfg.SigningKey, DataDir: cfg.DataDir,
		Password: cfg.SigningKeyPassword, Logger: log})
	if err != nil {
		return nil, fmt.Errorf("signing key: %w", err)
	}
	keyring, err := signing.NewKeyring(signer, cfg.RetiredKeys...)
	if err != nil {
		return nil, fmt.Errorf("--retired-keys: %w", err)
	}
	// Cluster start-up checks (startup_checks.go). A foreign journal (the
	// bucket is another library's) is reported by readiness instead,
	// naming its fix.
	if !errors.Is(catchup.Err(), journal.ErrForeignJournal) {
		if err := checkJournalKey(ctx, cfg.Store, keyring, signer.KeyID()); err != nil {
			return nil, err
		}
	}
	if err := probeCreateOnly(ctx, cfg.Store, nodeID, log); err != nil {
		return nil, err
	}

	lib := library.New(library.Config{Repo: ix, Store: cfg.Store, Signer: signer, Logger: log,
		OIDCTokenTTL: cfg.OIDCTokenTTL, Now: cfg.Now, Evidence: evidence.Verifier{}, Cluster: follower})
	verifier, err := oidc.New(oidc.Config{Issuers: cfg.OIDCIssuers, AllowHTTPIssuer: cfg.OIDCAllowHTTPIssuer,
		MinKeyRefresh: cfg.OIDCMinKeyRefresh})
	if err != nil {
		return nil, fmt.Errorf("--oidc-issuer: %w", err)
	}
	a = &App{Index: ix, Store: cfg.Store, Lib: lib, Signer: signer, Keyring: keyring, cfg: cfg, log: log, catchup: catchup,
		NodeID: nodeID, follower: follower}
	if !catchup.pending() {
		if err := a.bootstrap(ctx); err != nil {
			return nil, err
		}
	}

	linkSecret, err := loadLinkSecret(cfg.DataDir)
	if err != nil {
		return nil, err
	}
	a.Notifier = journal.NewNotifier()
	ix.OnCommit(func([]*journal.Event) { a.Notifier.Notify() })
	a.Log = &transparency.Log{Tree: ix, Signer: signer, Store: cfg.Store}
	a.Mirror = &journal.Mirror{Source: ix, State: ix, Store: cfg.Store, Notifier: a.Notifier, Log: log,
		Interval: cfg.MirrorInterval, Checkpoint: a.Log.MirrorCheckpoint}
	a.API = api.New(api.Config{Library: lib, Index: ix, Store: cfg.Store, PublicKeyPEM: signer.PublicKeyPEM(),
		Keyring: keyring, Bundler: keyring, Journal: ix, Notifier: a.Notifier,
		AnonymousRead: cfg.AnonymousRead, Downloads: cfg.Downloads, MaxUploadsPerToken: cfg.MaxUploadsPerToken, Logger: log,
		OIDC: verifier, UISessionTTL: cfg.UISessionTTL, Log: a.Log,
		JournalCheck:        func() error { return errors.Join(catchup.Err(), a.Mirror.Err(), follower.Err()) },
		WebhookAllowPrivate: cfg.WebhookAllowPrivate, BodyIdleTimeout: cfg.BodyIdleTimeout,
		LinkSecret: linkSecret})
	a.API.Registry().MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "reliquary_journal_mirror_lag_events",
		Help: "Committed journal events (already in the bucket) whose signed checkpoint and segment are not written yet."}, a.Mirror.Lag))
	a.dispatcher = &journal.Dispatcher{Source: ix, Hooks: ix, Notifier: a.Notifier, Log: log,
		MinBackoff: cfg.WebhookMinBackoff, MaxBackoff: cfg.WebhookMaxBackoff, Poll: cfg.WebhookPoll,
		AllowPrivate: cfg.WebhookAllowPrivate}
	a.statements = &transparency.StatementWorker{Log: a.Log, Events: ix, Notifier: a.Notifier, Logger: log}
	return a, nil
}

// bootstrap writes the bootstrap admin (deferred while a catch-up is
// pending, so it cannot fork the journal).
func (a *App) bootstrap(ctx context.Context) error {
	boot, err := a.Lib.BootstrapAdmin(ctx, a.cfg.AdminToken)
	if err != nil {
		return fmt.Errorf("bootstrap admin token: %w", err)
	}
	if boot.Ignored != "" {
		a.log.Warn(boot.Ignored)
	}
	if boot.Generated != "" && a.cfg.AdminTokenGenerated != nil {
		a.cfg.AdminTokenGenerated(boot.Generated)
	}
	return nil
}

// Handler serves the HTTP API, the UI and the metrics.
func (a *App) Handler() http.Handler { return a.API.Handler() }

// Run runs every background worker — a pending catch-up (then the
// bootstrap admin), the journal's mirror, the webhook dispatcher, the
// retention loop, token maintenance and the release statement worker —
// until ctx ends, then waits for them to stop.
func (a *App) Run(ctx context.Context) error {
	var wg sync.WaitGroup
	if a.catchup.pending() {
		wg.Go(func() {
			a.catchup.retry(ctx, func() {
				if err := a.bootstrap(ctx); err != nil {
					a.log.Error("bootstrap admin after catching up", "err", err)
				}
			})
		})
	}
	wg.Go(func() { a.follower.run(ctx) })
	wg.Go(func() { a.Mirror.Run(ctx) })
	wg.Go(func() { a.dispatcher.Run(ctx) })
	wg.Go(func() { a.Lib.RetentionLoop(ctx, a.cfg.RetentionInterval) })
	wg.Go(func() { a.Lib.RunTokenMaintenance(ctx, a.cfg.TokenMaintenanceInterval) })
	wg.Go(func() { a.statements.Run(ctx) })
	wg.Wait()
	a.finalMirrorPass()
	return nil
}

// finalMirrorPass signs a checkpoint over the events committed while the
// workers stopped (the token maintenance flushes at shutdown): every event
// is in the bucket at commit, and one left after the last checkpoint would
// read as an unsigned append to `audit verify --from-bucket`.
func (a *App) finalMirrorPass() {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for ctx.Err() == nil {
		n, err := a.Mirror.Pass(ctx)
		if err != nil {
			a.log.Warn("journal mirror: last pass at shutdown failed; the next start finishes it", "err", err)
			return
		}
		if n == 0 {
			return
		}
	}
}

// Close closes the index. Call it after Run has returned and the HTTP
// server has stopped; the store is the caller's to close.
func (a *App) Close() error {
	return errors.Join(a.Index.Close())
}
