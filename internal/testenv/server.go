package testenv

import (
	"context"
	"net/http/httptest"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/reliquary/reliquary/internal/app"
	"github.com/reliquary/reliquary/internal/index"
	"github.com/reliquary/reliquary/internal/journal"
	"github.com/reliquary/reliquary/internal/library"
	"github.com/reliquary/reliquary/internal/signing"
	"github.com/reliquary/reliquary/storage"
	"github.com/reliquary/reliquary/storage/fs"
	"github.com/reliquary/reliquary/storage/s3"
)

// AdminSecret is the bootstrap admin token of test servers.
const AdminSecret = "rlq_test-admin-secret-0123456789"

// ServerOptions choose the store and switches of a test server.
type ServerOptions struct {
	Store         string // "fs" (default) or "s3" (the shared MinIO, a new bucket)
	AnonymousRead bool
	Downloads     string
	// Workers runs the journal mirror and webhook dispatcher (fast retries).
	Workers bool
	// DataDir reuses a directory (a restart); "" makes a new one.
	DataDir string
	// S3 reuses a bucket (a restart); nil makes a new one.
	S3 *s3.Config
	// OIDCIssuers are trusted for POST /auth/oidc (plain http on loopback
	// allowed); OIDCTokenTTL is the minted tokens' lifetime (0: default).
	OIDCIssuers  []string
	OIDCTokenTTL time.Duration
	// OIDCMinKeyRefresh spaces fetches of an issuer's keys (0: default).
	OIDCMinKeyRefresh time.Duration
	// Now is the library's clock (nil: time.Now); tests of age rules move it.
	Now func() time.Time
	// UISessionTTL is the web UI's session lifetime (0: the default).
	UISessionTTL time.Duration
	// WebhookDenyPrivate refuses webhooks to loopback and private
	// addresses, as a default server does; test servers allow them
	// (--webhook-allow-private), since their receivers listen on loopback.
	WebhookDenyPrivate bool
	// BodyIdleTimeout is --body-idle-timeout (0: the default).
	BodyIdleTimeout time.Duration
}

// Server is a real Reliquary server on a loopback port: a bbolt file and a
// store in temporary directories (or a MinIO bucket).
type Server struct {
	URL        string
	AdminToken string
	Store      storage.BlobStore
	Index      *index.Index
	Lib        *library.Service
	Signer     *signing.Signer
	DataDir    string
	Notifier   *journal.Notifier
	Mirror     *journal.Mirror
	// S3 is the bucket's configuration when the store is S3.
	S3   *s3.Config
	stop func()
}

// Stop shuts the server down before the end of the test (a restart).
func (s *Server) Stop() { s.stop() }

// StartServer starts a server for one test and stops it at the end.
func StartServer(tb testing.TB, o ServerOptions) *Server {
	tb.Helper()
	dir := o.DataDir
	if dir == "" {
		dir = tb.TempDir()
	}
	var store storage.BlobStore
	var s3cfg *s3.Config
	switch o.Store {
	case "s3":
		cfg := o.S3
		if cfg == nil {
			c := SharedMinIO(tb).Config(tb)
			cfg = &c
		}
		st, err := s3.New(*cfg)
		if err != nil {
			tb.Fatal(err)
		}
		store = st
		s3cfg = cfg
	default:
		st, err := fs.New(filepath.Join(dir, "blobs"))
		if err != nil {
			tb.Fatal(err)
		}
		tb.Cleanup(func() { st.Close() })
		store = st
	}
	// The same wiring as `reliquary serve` (internal/app), with fast
	// journal workers.
	a, err := app.New(context.Background(), app.Config{
		DataDir: dir, Store: store, AdminToken: AdminSecret, Now: o.Now,
		AnonymousRead: o.AnonymousRead, Downloads: o.Downloads, UISessionTTL: o.UISessionTTL, BodyIdleTimeout: o.BodyIdleTimeout,
		WebhookAllowPrivate: !o.WebhookDenyPrivate,
		OIDCIssuers:         o.OIDCIssuers, OIDCTokenTTL: o.OIDCTokenTTL, OIDCMinKeyRefresh: o.OIDCMinKeyRefresh,
		OIDCAllowHTTPIssuer: true,
		MirrorInterval:      50 * time.Millisecond,
		WebhookMinBackoff:   20 * time.Millisecond, WebhookMaxBackoff: 200 * time.Millisecond, WebhookPoll: 100 * time.Millisecond,
	})
	if err != nil {
		tb.Fatal(err)
	}
	hs := httptest.NewServer(a.Handler())
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	if o.Workers {
		wg.Go(func() { _ = a.Run(ctx) })
	}
	var once sync.Once
	stop := func() {
		once.Do(func() {
			hs.CloseClientConnections()
			hs.Close()
			cancel()
			wg.Wait()
			if err := a.Close(); err != nil {
				tb.Error(err)
			}
		})
	}
	tb.Cleanup(stop)
	return &Server{URL: hs.URL, AdminToken: AdminSecret, Store: store, Index: a.Index, Lib: a.Lib, Signer: a.Signer, DataDir: dir,
		Notifier: a.Notifier, Mirror: a.Mirror, S3: s3cfg, stop: stop}
}

// Objects lists every key in the server's store.
func (s *Server) Objects(tb testing.TB, prefix string) []string {
	tb.Helper()
	var keys []string
	if err := s.Store.List(context.Background(), prefix, func(i storage.Info) error { keys = append(keys, i.Key); return nil }); err != nil {
		tb.Fatal(err)
	}
	return keys
}
