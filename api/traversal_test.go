package api_test

import (
	"bytes"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/reliquary/reliquary/internal/testenv"
)

// traversals are path-traversal attempts in every encoding a client can
// send, in each path parameter that reaches a store key.
var traversals = []string{
	"/products/app/releases/1.0.0/artifacts/../../../../signing.key",
	"/products/app/releases/1.0.0/artifacts/..%2F..%2F..%2F..%2Fsigning.key",
	"/products/app/releases/1.0.0/artifacts/..%2f..%2f..%2f..%2f..%2findex.db",
	"/products/app/releases/1.0.0/artifacts/%2e%2e",
	"/products/app/releases/1.0.0/artifacts/%2e%2e%2f%2e%2e%2fsigning.key",
	"/products/app/releases/1.0.0/artifacts/%252e%252e%252fsigning.key",
	"/products/app/releases/1.0.0/artifacts/..%5c..%5c..%5csigning.key",
	"/products/app/releases/1.0.0/artifacts/%2Fetc%2Fpasswd",
	"/products/app/releases/1.0.0/artifacts/.tmp",
	"/products/app/releases/1.0.0/artifacts/a%00b",
	"/products/app/releases/1.0.0/artifacts/ok.bin%2F..%2F..%2Fx",
	"/products/app/releases/..%2F..%2F1.0.0/artifacts/x.bin",
	"/products/app/releases/1.0.0%2F..%2F..%2F..%2F/artifacts/x.bin",
	"/products/..%2F..%2F..%2Fapp/releases/1.0.0/artifacts/x.bin",
	"/products/%2e%2e/releases/1.0.0/artifacts/x.bin",
	"/products/app/releases/1.0.0/artifacts/..",
}

// TestPathTraversal sends every traversal as a download, an upload and a
// delete to both stores: each is refused with 400 or 404, nothing is
// written outside the release's folder of the store (nor anywhere on disk
// outside the blob directory), and no answer carries the signing key.
func TestPathTraversal(t *testing.T) {
	stores(t, func(t *testing.T, store string) {
		srv := testenv.StartServer(t, testenv.ServerOptions{Store: store})
		admin := newClient(t, srv, srv.AdminToken).hostileClient()
		admin.json("POST", "/products", map[string]any{"name": "app"}).must(t, 201)
		admin.json("POST", "/products/app/releases", map[string]any{"version": "1.0.0"}).must(t, 201)
		admin.put("/products/app/releases/1.0.0/artifacts/ok.bin", upload{size: 100, seed: 1}).must(t, 201)
		before := filesOutsideBlobs(t, srv.DataDir)
		for _, p := range traversals {
			for _, method := range []string{"GET", "PUT", "DELETE", "HEAD"} {
				var body *bytes.Reader
				if method == "PUT" {
					body = bytes.NewReader([]byte("traversal"))
				} else {
					body = bytes.NewReader(nil)
				}
				r := admin.do(method, p, body, "Content-Type", "application/octet-stream")
				if r.status != http.StatusBadRequest && r.status != http.StatusNotFound {
					t.Errorf("%s %s: %d %s, want 400 or 404", method, p, r.status, r.body)
				}
				if bytes.Contains(r.body, []byte("PRIVATE KEY")) || bytes.Contains(r.body, []byte("bbolt")) {
					t.Errorf("%s %s: the answer leaks a file", method, p)
				}
			}
		}
		if got := nonJournalObjects(t, srv); !slices.Equal(got, []string{"products/app/releases/1.0.0/artifacts/ok.bin"}) {
			t.Errorf("objects after the traversal attempts: %q", got)
		}
		if after := filesOutsideBlobs(t, srv.DataDir); !slices.Equal(before, after) {
			t.Errorf("files outside the blob store changed: before %q, after %q", before, after)
		}
		var rel struct{ Artifacts []struct{ Name string } }
		admin.json("GET", "/products/app/releases/1.0.0", nil).must(t, 200).decode(t, &rel)
		if len(rel.Artifacts) != 1 {
			t.Errorf("artifacts after the traversal attempts: %+v", rel.Artifacts)
		}
	})
}

// filesOutsideBlobs lists the data directory's files (not under blobs/)
// and the parent directory's entries, so a write that escaped shows.
func filesOutsideBlobs(t *testing.T, dir string) []string {
	t.Helper()
	var out []string
	err := filepath.WalkDir(filepath.Dir(dir), func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		if rel == "blobs" {
			return filepath.SkipDir
		}
		if strings.HasPrefix(rel, "..") && d.IsDir() && p != filepath.Dir(dir) {
			return filepath.SkipDir
		}
		if !d.IsDir() {
			fi, _ := d.Info()
			if strings.HasPrefix(rel, "index.db") {
				out = append(out, rel) // bbolt's own file
			} else {
				out = append(out, rel+" "+fi.ModTime().String())
			}
		}
		return nil
	})
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	slices.Sort(out)
	return out
}
