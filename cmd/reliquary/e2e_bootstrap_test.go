package main

import (
	"context"
	"strings"
	"testing"

	"github.com/reliquary/reliquary/api/client"
	"github.com/reliquary/reliquary/internal/library"
	"github.com/reliquary/reliquary/internal/testenv"
)

// TestResetAdmin: after the bootstrap admin is revoked, a restart with the
// same admin token does not revive it; `reliquary token reset-admin` on
// the stopped server's data dir prints a new secret that works after the
// restart. While the server runs the index is locked and reset-admin says
// so. A short --admin-token is a configuration error.
func TestResetAdmin(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	srv := testenv.StartServer(t, testenv.ServerOptions{DataDir: dir})
	admin := client.New(srv.URL, srv.AdminToken)
	if _, err := admin.CreateToken(ctx, client.TokenInput{Name: "alice", Role: client.RoleReleaseManager}); err != nil {
		t.Fatal(err)
	}
	op := newMachine(t, srv.URL, "")
	if r := op.run("token", "reset-admin", "--data-dir", dir); r.code == 0 || !strings.Contains(r.stderr, "locked") {
		t.Fatalf("reset-admin while the server runs: %s", r)
	}
	if err := admin.RevokeToken(ctx, library.BootstrapTokenID); err != nil {
		t.Fatal(err)
	}
	srv.Stop()

	srv = testenv.StartServer(t, testenv.ServerOptions{DataDir: dir}) // same --admin-token
	if _, err := client.New(srv.URL, srv.AdminToken).Tokens(ctx); !client.HasCode(err, "UNAUTHENTICATED") {
		t.Fatalf("the revoked bootstrap admin after a restart: %v", err)
	}
	srv.Stop()

	r := op.ok("token", "reset-admin", "--data-dir", dir)
	secret := strings.TrimSpace(r.stdout)
	if !strings.HasPrefix(secret, library.SecretPrefix) || !strings.Contains(r.stderr, "only this once") {
		t.Fatalf("reset-admin output: %s", r)
	}
	srv = testenv.StartServer(t, testenv.ServerOptions{DataDir: dir})
	if _, err := client.New(srv.URL, secret).Tokens(ctx); err != nil {
		t.Fatalf("the reset admin secret: %v", err)
	}
	if _, err := client.New(srv.URL, srv.AdminToken).Tokens(ctx); err == nil {
		t.Fatal("the old bootstrap secret works again")
	}

	if r := op.run("serve", "--data-dir", t.TempDir(), "--admin-token", "rlq_only-23-characters!"); r.code != 2 || !strings.Contains(r.stderr, "24") {
		t.Fatalf("serve with a 23-character admin token: %s", r)
	}
}
