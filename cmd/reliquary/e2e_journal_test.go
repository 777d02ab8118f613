package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/reliquary/reliquary/internal/testenv"
)

// events tail prints the feed; audit verify, backup and fsck work on a
// real data directory.
func TestJournalCommands(t *testing.T) {
	srv := testenv.StartServer(t, testenv.ServerOptions{})
	tm := newTeam(t, srv, "hr")
	tm.release(t, srv, "hr", "1.0.0", "a.tar.gz", []byte("one"))
	admin := newMachine(t, srv.URL, srv.AdminToken)

	r := admin.ok("events", "tail", "--follow=false", "--type", "release.*", "--product", "hr")
	for _, want := range []string{"release.created", "release.sealed", "release.released"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("events tail lacks %s:\n%s", want, r.stdout)
		}
	}
	if strings.Contains(r.stdout, "token.created") {
		t.Errorf("events tail ignored --type:\n%s", r.stdout)
	}

	var wh struct{ ID, Secret string }
	admin.jsonOut(&wh, "webhook", "create", "http://127.0.0.1:9/hook", "--type", "release.*")
	if wh.ID == "" || len(wh.Secret) < 16 {
		t.Errorf("webhook create: %+v", wh)
	}
	if r := admin.ok("webhook", "list"); !strings.Contains(r.stdout, wh.ID) {
		t.Errorf("webhook list lacks %s:\n%s", wh.ID, r.stdout)
	}
	admin.ok("webhook", "delete", wh.ID)
	admin.expect(4, "webhook", "delete", wh.ID)
	admin.expect(2, "search")
	if r := admin.ok("search", "--label", "nope:none"); strings.Contains(r.stdout, "hr\t") {
		t.Errorf("search by an unused label found releases:\n%s", r.stdout)
	}

	backup := filepath.Join(t.TempDir(), "index.db")
	admin.ok("backup", backup)
	admin.ok("audit", "verify", "--index", backup)

	// Offline tools on the data directory, with the server stopped.
	srv.Stop()
	dataDir := []string{"--data-dir", srv.DataDir}
	admin.ok(append([]string{"audit", "verify"}, dataDir...)...)
	admin.ok(append([]string{"fsck", "--deep"}, dataDir...)...)
	orphan := filepath.Join(srv.DataDir, "blobs", "products", "hr", "releases", "1.0.0", "artifacts", "orphan.bin")
	if err := os.WriteFile(orphan, []byte("x"), 0o640); err != nil {
		t.Fatal(err)
	}
	admin.expect(1, append([]string{"fsck"}, dataDir...)...)
	admin.expect(1, append([]string{"fsck", "--repair"}, dataDir...)...)
	admin.ok(append([]string{"fsck"}, dataDir...)...)
	if _, err := os.Stat(orphan); err == nil {
		t.Error("fsck --repair left the orphan")
	}
}
