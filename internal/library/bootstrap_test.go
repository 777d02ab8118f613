package library_test

import (
	"context"
	"errors"
	"path/filepath"
	"testing"

	"github.com/reliquary/reliquary/internal/index"
	"github.com/reliquary/reliquary/internal/library"
)

// TestBootstrapAdminOnlyOnce (DESIGN §8 "Bootstrap admin") on a real bbolt
// index reopened between "restarts": --admin-token creates the first admin
// only; a revoked bootstrap admin stays revoked when the server restarts
// with the same --admin-token, a different one never replaces it, and
// ResetAdmin is the way back (journaled).
func TestBootstrapAdminOnlyOnce(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "index.db")
	const first = "rlq_first-bootstrap-secret-0123"
	const other = "rlq_other-bootstrap-secret-4567"
	start := func() (*index.Index, *library.Service) {
		ix, err := index.Open(path, index.Options{})
		if err != nil {
			t.Fatal(err)
		}
		return ix, library.New(library.Config{Repo: ix})
	}
	authOK := func(lib *library.Service, secret string) bool {
		_, err := lib.Authenticate(secret)
		return err == nil
	}

	ix, lib := start()
	if _, err := lib.BootstrapAdmin(ctx, "rlq_short-23-characters"); !errors.Is(err, library.ErrInvalidInput) {
		t.Fatalf("a 23-character admin token: %v", err)
	}
	b, err := lib.BootstrapAdmin(ctx, first)
	if err != nil || !b.Created || b.Ignored != "" || b.Generated != "" {
		t.Fatalf("first start: %+v, %v", b, err)
	}
	if !authOK(lib, first) {
		t.Fatal("the bootstrap admin cannot log in")
	}
	// A plain restart with the same secret: nothing to say.
	if b, err := lib.BootstrapAdmin(ctx, first); err != nil || b.Created || b.Ignored != "" {
		t.Fatalf("restart: %+v, %v", b, err)
	}
	if err := lib.RevokeToken(ctx, library.Principal{Name: "admin", Role: library.RoleAdmin}, library.BootstrapTokenID); err != nil {
		t.Fatal(err)
	}
	ix.Close()

	ix, lib = start()
	b, err = lib.BootstrapAdmin(ctx, first)
	if err != nil || b.Created || b.Ignored == "" {
		t.Fatalf("restart after revocation: %+v, %v", b, err)
	}
	if authOK(lib, first) {
		t.Fatal("a restart with the same --admin-token revived the revoked bootstrap admin")
	}
	ix.Close()

	ix, lib = start()
	b, err = lib.BootstrapAdmin(ctx, other)
	if err != nil || b.Created || b.Ignored == "" {
		t.Fatalf("restart with another secret: %+v, %v", b, err)
	}
	if authOK(lib, other) || authOK(lib, first) {
		t.Fatal("a different --admin-token replaced the bootstrap admin")
	}
	secret, err := lib.ResetAdmin(ctx, "reset-admin")
	if err != nil {
		t.Fatal(err)
	}
	if !authOK(lib, secret) || authOK(lib, first) {
		t.Fatal("reset-admin: the new secret does not log in, or the old one still does")
	}
	evs, err := ix.EventsAfter(0, 0)
	if err != nil {
		t.Fatal(err)
	}
	if last := evs[len(evs)-1]; last.Type != library.EvAdminReset || last.Subject != library.BootstrapTokenID {
		t.Fatalf("last event %s %s, want %s", last.Type, last.Subject, library.EvAdminReset)
	}
	ix.Close()

	// An index that never had a token and no --admin-token: one generated.
	ix2, err := index.Open(filepath.Join(t.TempDir(), "index.db"), index.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer ix2.Close()
	lib2 := library.New(library.Config{Repo: ix2})
	b, err = lib2.BootstrapAdmin(ctx, "")
	if err != nil || b.Generated == "" || !authOK(lib2, b.Generated) {
		t.Fatalf("generated admin: %+v, %v", b, err)
	}
	if b, err := lib2.BootstrapAdmin(ctx, ""); err != nil || b.Generated != "" || b.Created {
		t.Fatalf("second start without a secret: %+v, %v", b, err)
	}
}
