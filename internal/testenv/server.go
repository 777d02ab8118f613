package testenv

import (
	"context"
	"net/http/httptest"
	"path/filepath"
	"testing"

	"github.com/reliquary/reliquary/api"
	"github.com/reliquary/reliquary/internal/index"
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
}

// StartServer starts a server for one test and stops it at the end.
func StartServer(tb testing.TB, o ServerOptions) *Server {
	tb.Helper()
	dir := tb.TempDir()
	var store storage.BlobStore
	switch o.Store {
	case "s3":
		st, err := s3.New(SharedMinIO(tb).Config(tb))
		if err != nil {
			tb.Fatal(err)
		}
		store = st
	default:
		st, err := fs.New(filepath.Join(dir, "blobs"))
		if err != nil {
			tb.Fatal(err)
		}
		tb.Cleanup(func() { st.Close() })
		store = st
	}
	ix, err := index.Open(filepath.Join(dir, "index.db"), index.Options{})
	if err != nil {
		tb.Fatal(err)
	}
	signer, err := signing.Load(context.Background(), signing.Config{DataDir: dir})
	if err != nil {
		tb.Fatal(err)
	}
	keyring, err := signing.NewKeyring(signer)
	if err != nil {
		tb.Fatal(err)
	}
	lib := library.New(library.Config{Repo: ix, Store: store, Signer: signer})
	if _, err := lib.Bootstrap(context.Background(), AdminSecret); err != nil {
		tb.Fatal(err)
	}
	srv := api.New(api.Config{Library: lib, Index: ix, Store: store, PublicKeyPEM: signer.PublicKeyPEM(), Keyring: keyring,
		AnonymousRead: o.AnonymousRead, Downloads: o.Downloads})
	hs := httptest.NewServer(srv.Handler())
	tb.Cleanup(func() {
		hs.Close()
		ix.Close()
	})
	return &Server{URL: hs.URL, AdminToken: AdminSecret, Store: store, Index: ix, Lib: lib, Signer: signer, DataDir: dir}
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
