package api_test

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/reliquary/reliquary/internal/signing"
	"github.com/reliquary/reliquary/internal/testenv"
)

func waitMirrored(t *testing.T, srv *testenv.Server) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for srv.Mirror.Lag() > 0 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if lag := srv.Mirror.Lag(); lag != 0 {
		t.Fatalf("mirror lags %v events", lag)
	}
}

// newDataDir makes the data dir of a restored or fresh node: the signing
// key of the original one, its index (a backup) when given, and for the
// filesystem store the blobs (the "bucket").
func newDataDir(t *testing.T, from *testenv.Server, store string, index []byte) string {
	t.Helper()
	dir := t.TempDir()
	key, err := os.ReadFile(filepath.Join(from.DataDir, signing.DefaultKeyFile))
	if err != nil {
		t.Fatal(err)
	}
	writeFileT(t, filepath.Join(dir, signing.DefaultKeyFile), key)
	if index != nil {
		writeFileT(t, filepath.Join(dir, "index.db"), index)
	}
	if store == "fs" {
		if out, err := exec.Command("cp", "-a", filepath.Join(from.DataDir, "blobs"), filepath.Join(dir, "blobs")).CombinedOutput(); err != nil {
			t.Fatalf("copy blobs: %v %s", err, out)
		}
	}
	return dir
}

func writeFileT(t *testing.T, path string, b []byte) {
	t.Helper()
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
}

// TestRestoreHotBackupCatchesUp (issue 13 item 9): restore a hot backup
// into a new data dir over the same bucket: the events the bucket has
// beyond the backup are replayed into the index before it serves, the
// later writes are there, the mirror goes on (lag 0, no "another journal")
// and new writes work. On both stores.
func TestRestoreHotBackupCatchesUp(t *testing.T) {
	for _, store := range []string{"fs", "s3"} {
		t.Run(store, func(t *testing.T) {
			srv := testenv.StartServer(t, testenv.ServerOptions{Store: store, Workers: true})
			admin := newClient(t, srv, srv.AdminToken)
			admin.json("POST", "/products", map[string]any{"name": "hr"}).must(t, 201)
			admin.json("POST", "/products/hr/releases", map[string]any{"version": "1.0.0"}).must(t, 201)
			waitMirrored(t, srv)
			backup := admin.do("GET", "/admin/backup", nil).must(t, 200).body

			// Writes after the backup.
			admin.json("POST", "/products", map[string]any{"name": "payroll"}).must(t, 201)
			admin.json("POST", "/products/hr/releases", map[string]any{"version": "1.1.0"}).must(t, 201)
			admin.put("/products/hr/releases/1.1.0/artifacts/a.bin", upload{size: 100, seed: 1}).must(t, 201)
			waitMirrored(t, srv)
			srv.Stop()

			dir := newDataDir(t, srv, store, backup)
			srv2 := testenv.StartServer(t, testenv.ServerOptions{Store: store, S3: srv.S3, DataDir: dir, Workers: true})
			admin2 := newClient(t, srv2, srv2.AdminToken)
			admin2.json("GET", "/products/payroll", nil).must(t, 200)
			admin2.json("GET", "/products/hr/releases/1.1.0/artifacts/a.bin", nil).must(t, 200)
			admin2.json("GET", "/readyz", nil).must(t, 200)
			admin2.json("POST", "/products", map[string]any{"name": "after-restore"}).must(t, 201)
			waitMirrored(t, srv2)
			if err := srv2.Mirror.Err(); err != nil {
				t.Fatalf("mirror after the restore: %v", err)
			}
			admin2.json("GET", "/readyz", nil).must(t, 200)
		})
	}
}

// TestFreshDataDirOverABucketCatchesUp (item 10): a new, empty data dir
// over a bucket holding a journal serves the library, never an empty one.
func TestFreshDataDirOverABucketCatchesUp(t *testing.T) {
	for _, store := range []string{"fs", "s3"} {
		t.Run(store, func(t *testing.T) {
			srv := testenv.StartServer(t, testenv.ServerOptions{Store: store, Workers: true})
			admin := newClient(t, srv, srv.AdminToken)
			admin.json("POST", "/products", map[string]any{"name": "hr"}).must(t, 201)
			admin.json("POST", "/products/hr/releases", map[string]any{"version": "1.0.0"}).must(t, 201)
			waitMirrored(t, srv)
			srv.Stop()

			srv2 := testenv.StartServer(t, testenv.ServerOptions{Store: store, S3: srv.S3, DataDir: newDataDir(t, srv, store, nil), Workers: true})
			admin2 := newClient(t, srv2, srv2.AdminToken)
			admin2.json("GET", "/products/hr/releases/1.0.0", nil).must(t, 200)
			admin2.json("POST", "/products/hr/releases", map[string]any{"version": "1.1.0"}).must(t, 201)
			waitMirrored(t, srv2)
			if err := srv2.Mirror.Err(); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// TestForeignJournalFailsReadiness: an index over a bucket holding another
// library's journal does not serve as ready: /readyz is 503 and its
// journal check names the fix, whether the index is as long as the
// bucket's journal (two reads settle it) or longer (the full comparison).
func TestForeignJournalFailsReadiness(t *testing.T) {
	for _, extra := range []int{0, 3} {
		t.Run(fmt.Sprintf("index %d events longer", extra), func(t *testing.T) {
			a := testenv.StartServer(t, testenv.ServerOptions{Store: "s3", Workers: true})
			newClient(t, a, a.AdminToken).json("POST", "/products", map[string]any{"name": "hr"}).must(t, 201)
			waitMirrored(t, a)
			a.Stop()
			b := testenv.StartServer(t, testenv.ServerOptions{Store: "s3", Workers: true})
			bc := newClient(t, b, b.AdminToken)
			bc.json("POST", "/products", map[string]any{"name": "other"}).must(t, 201)
			for i := range extra {
				bc.json("POST", "/products", map[string]any{"name": fmt.Sprintf("more%d", i)}).must(t, 201)
			}
			waitMirrored(t, b)
			b.Stop()

			c := testenv.StartServer(t, testenv.ServerOptions{Store: "s3", S3: a.S3, DataDir: b.DataDir, Workers: true})
			r := newClient(t, c, c.AdminToken).json("GET", "/readyz", nil)
			if r.status != 503 || !strings.Contains(string(r.body), "another journal") || !strings.Contains(string(r.body), "index rebuild --from-bucket") {
				t.Fatalf("readyz over a foreign journal: %d %s", r.status, r.body)
			}
		})
	}
}
