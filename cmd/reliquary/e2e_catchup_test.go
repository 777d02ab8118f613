package main

import (
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/reliquary/reliquary/internal/testenv"
)

// TestServeRefusesAFreshKeyOverALibrary (issue 13 item 10): `reliquary
// serve` on a data dir without the library's signing key, over a store
// whose bucket already holds a journal, refuses to start and says what to
// do, rather than generating a new key and serving.
func TestServeRefusesAFreshKeyOverALibrary(t *testing.T) {
	srv := testenv.StartServer(t, testenv.ServerOptions{Workers: true})
	newTeam(t, srv, "hr")
	deadline := time.Now().Add(20 * time.Second)
	for srv.Mirror.Lag() > 0 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	srv.Stop()
	dir := t.TempDir()
	if out, err := exec.Command("cp", "-a", filepath.Join(srv.DataDir, "blobs"), filepath.Join(dir, "blobs")).CombinedOutput(); err != nil {
		t.Fatalf("copy blobs: %v %s", err, out)
	}
	m := newMachine(t, "", "")
	r := m.run("serve", "--data-dir", dir, "--listen", "127.0.0.1:0")
	if r.code == 0 || !strings.Contains(r.stderr, "no signing key") || !strings.Contains(r.stderr, "--signing-key") {
		t.Fatalf("serve with a fresh key over a library: %s", r)
	}
	for _, e := range entries(t, dir) {
		if e == "signing.key" {
			t.Fatalf("a signing key was generated: %v", entries(t, dir))
		}
	}
}
