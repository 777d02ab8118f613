package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/reliquary/reliquary/api/client"
	"github.com/reliquary/reliquary/internal/testenv"
)

// TestSecretsKeyFlag: `serve` refuses a missing or malformed
// --secrets-key file, and a data dir whose journal holds a webhook sealed
// under another key refuses to start, naming the hook and the flag; with
// the key it was sealed under (the generated one) it starts.
func TestSecretsKeyFlag(t *testing.T) {
	dir := t.TempDir()
	srv := testenv.StartServer(t, testenv.ServerOptions{DataDir: dir})
	hook, err := client.New(srv.URL, srv.AdminToken).CreateWebhook(context.Background(), client.WebhookInput{URL: "http://127.0.0.1:1/hook"})
	if err != nil {
		t.Fatal(err)
	}
	srv.Stop()

	op := newMachine(t, "", "")
	keys := t.TempDir()
	other := filepath.Join(keys, "other.key")
	if err := os.WriteFile(other, []byte(strings.Repeat("5a", 32)+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	bad := filepath.Join(keys, "bad.key")
	if err := os.WriteFile(bad, []byte("not a key"), 0o600); err != nil {
		t.Fatal(err)
	}
	r := op.run("serve", "--data-dir", dir, "--listen", "127.0.0.1:0", "--secrets-key", other)
	if r.code == 0 || !strings.Contains(r.stderr, "--secrets-key") || !strings.Contains(r.stderr, hook.ID) {
		t.Fatalf("serve with another secrets key: %s", r)
	}
	for _, tc := range []struct{ file, want string }{{filepath.Join(keys, "missing.key"), "--secrets-key"}, {bad, "hexadecimal"}} {
		if r := op.run("serve", "--data-dir", t.TempDir(), "--listen", "127.0.0.1:0", "--secrets-key", tc.file); r.code == 0 || !strings.Contains(r.stderr, tc.want) {
			t.Fatalf("serve --secrets-key %s: %s", tc.file, r)
		}
	}
	// The generated key opens the hook again.
	srv = testenv.StartServer(t, testenv.ServerOptions{DataDir: dir})
	hooks, err := client.New(srv.URL, srv.AdminToken).Webhooks(context.Background())
	if err != nil || len(hooks) != 1 || hooks[0].URL != "http://127.0.0.1:1/hook" {
		t.Fatalf("hooks after restart: %+v %v", hooks, err)
	}
}
