package app_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/reliquary/reliquary/internal/app"
	"github.com/reliquary/reliquary/internal/journal"
	"github.com/reliquary/reliquary/internal/signing"
	"github.com/reliquary/reliquary/storage/fs"
)

func newStore(t *testing.T, dir string) *fs.Store {
	t.Helper()
	st, err := fs.New(filepath.Join(dir, "blobs"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

// TestNewServesRunsAndCloses: a server wired on a temp dir and an fs store
// answers /healthz and /readyz, prints the generated admin token once (it
// works), its workers mirror a write to the bucket and stop on cancel, and
// Close releases the index so the same data dir opens again.
func TestNewServesRunsAndCloses(t *testing.T) {
	dir := t.TempDir()
	st := newStore(t, dir)
	var generated []string
	a, err := app.New(t.Context(), app.Config{DataDir: dir, Store: st, MirrorInterval: 20 * time.Millisecond,
		AdminTokenGenerated: func(s string) { generated = append(generated, s) }})
	if err != nil {
		t.Fatal(err)
	}
	if len(generated) != 1 || !strings.HasPrefix(generated[0], "rlq_") {
		t.Fatalf("generated admin tokens: %q", generated)
	}
	hs := httptest.NewServer(a.Handler())
	defer hs.Close()
	for _, p := range []string{"/healthz", "/readyz"} {
		if code, body := get(t, hs.URL+p, ""); code != 200 {
			t.Fatalf("GET %s: %d %s", p, code, body)
		}
	}
	if code, body := get(t, hs.URL+"/api/v1/tokens", generated[0]); code != 200 {
		t.Fatalf("the generated admin token: %d %s", code, body)
	}

	ctx, cancel := context.WithCancel(t.Context())
	ran := make(chan error, 1)
	go func() { ran <- a.Run(ctx) }()
	req, _ := http.NewRequest("POST", hs.URL+"/api/v1/products", strings.NewReader(`{"name":"hr"}`))
	req.Header.Set("Authorization", "Bearer "+generated[0])
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 201 {
		t.Fatalf("create product: %d", resp.StatusCode)
	}
	deadline := time.Now().Add(10 * time.Second)
	for a.Mirror.Lag() > 0 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if lag := a.Mirror.Lag(); lag != 0 {
		t.Fatalf("the mirror did not run: lag %v", lag)
	}
	if has, err := journal.HasJournal(t.Context(), st); err != nil || !has {
		t.Fatalf("bucket journal after Run: %v %v", has, err)
	}
	cancel()
	select {
	case err := <-ran:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not return after cancel")
	}
	hs.Close()
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}

	// The index is released: a restart on the same dir opens it, keeps
	// the token and generates none.
	generated = nil
	b, err := app.New(t.Context(), app.Config{DataDir: dir, Store: st,
		AdminTokenGenerated: func(s string) { generated = append(generated, s) }})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if len(generated) != 0 {
		t.Fatalf("a restart generated an admin token: %q", generated)
	}
}

// TestNewRefusesAKeylessDataDirOverAJournal: a fresh data dir without the
// library's signing key over a bucket that holds a journal refuses to
// start, generates no key, and leaves the index closed.
func TestNewRefusesAKeylessDataDirOverAJournal(t *testing.T) {
	dir := t.TempDir()
	st := newStore(t, dir)
	ctx, cancel := context.WithCancel(t.Context())
	a, err := app.New(ctx, app.Config{DataDir: dir, Store: st, AdminToken: "rlq_app-test-admin-secret-0123456789", MirrorInterval: 20 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	ran := make(chan error, 1)
	go func() { ran <- a.Run(ctx) }()
	deadline := time.Now().Add(10 * time.Second)
	for a.Mirror.Lag() > 0 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	cancel()
	<-ran
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}

	fresh := t.TempDir()
	_, err = app.New(t.Context(), app.Config{DataDir: fresh, Store: st})
	if err == nil || !strings.Contains(err.Error(), "has no signing key") {
		t.Fatalf("New on a keyless data dir over a journal: %v", err)
	}
	if _, err := os.Stat(filepath.Join(fresh, signing.DefaultKeyFile)); !os.IsNotExist(err) {
		t.Fatalf("a signing key was generated: %v", err)
	}
	// The refused start closed its index: a second attempt can open it.
	if _, err = app.New(t.Context(), app.Config{DataDir: fresh, Store: st}); err == nil || !strings.Contains(err.Error(), "has no signing key") {
		t.Fatalf("second attempt: %v", err)
	}
}

func get(t *testing.T, url, token string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest("GET", url, nil)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}
