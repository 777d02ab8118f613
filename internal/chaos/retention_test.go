package chaos_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/reliquary/reliquary/internal/index"
	"github.com/reliquary/reliquary/internal/library"
	"github.com/reliquary/reliquary/internal/signing"
	"github.com/reliquary/reliquary/internal/testenv"
	"github.com/reliquary/reliquary/storage"
	"github.com/reliquary/reliquary/storage/fs"
	"github.com/reliquary/reliquary/storage/s3"
)

// seedOldDrafts fills a data directory (and store) with drafts made ten
// days ago, through the library with its clock set back, so the binary
// started on it finds them due for retention.
func seedOldDrafts(t *testing.T, dir string, s3cfg *s3.Config, drafts, artifacts int) {
	t.Helper()
	ctx := context.Background()
	var store storage.BlobStore
	if s3cfg != nil {
		st, err := s3.New(*s3cfg)
		if err != nil {
			t.Fatal(err)
		}
		store = st
	} else {
		st, err := fs.New(filepath.Join(dir, "blobs"))
		if err != nil {
			t.Fatal(err)
		}
		defer st.Close()
		store = st
	}
	ix, err := index.Open(filepath.Join(dir, "index.db"), index.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer ix.Close()
	signer, err := signing.Load(ctx, signing.Config{DataDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	then := time.Now().Add(-10 * 24 * time.Hour)
	lib := library.New(library.Config{Repo: ix, Store: store, Signer: signer, Now: func() time.Time { return then }})
	if _, err := lib.Bootstrap(ctx, adminSecret); err != nil {
		t.Fatal(err)
	}
	admin := library.Principal{Name: "admin", Role: library.RoleAdmin}
	if _, err := lib.CreateProduct(ctx, admin, library.ProductInput{Name: "hr"}); err != nil {
		t.Fatal(err)
	}
	days := 1
	if _, err := lib.SetPolicy(ctx, admin, "hr", library.PolicyInput{Retention: &library.RetentionPolicy{DraftsDays: days}}); err != nil {
		t.Fatal(err)
	}
	ci := library.Principal{Name: "ci", Role: library.RolePublisher}
	body := bytes.Repeat([]byte("x"), 2048)
	for i := range drafts {
		v := fmt.Sprintf("1.0.%d", i)
		if _, err := lib.CreateRelease(ctx, ci, "hr", library.ReleaseInput{Version: v}); err != nil {
			t.Fatal(err)
		}
		for j := range artifacts {
			_, _, err := lib.Upload(ctx, ci, library.UploadInput{Product: "hr", Version: v, Name: fmt.Sprintf("part-%d.bin", j),
				Size: int64(len(body)), Body: bytes.NewReader(body)})
			if err != nil {
				t.Fatal(err)
			}
		}
	}
}

// fsckFindings runs fsck (with --repair when asked) and returns its
// findings by kind.
func fsckFindings(t *testing.T, srv *server, repair bool) map[string][]string {
	t.Helper()
	args := []string{"fsck", "--json"}
	if repair {
		args = append(args, "--repair")
	}
	code, out := srv.tool(args...)
	var rep struct{ Findings []struct{ Kind, Key string } }
	if err := json.NewDecoder(strings.NewReader(out[max(strings.Index(out, "{"), 0):])).Decode(&rep); err != nil || code > 1 {
		t.Fatalf("fsck %v: exit %d %v\n%s", args, code, err, out)
	}
	byKind := map[string][]string{}
	for _, f := range rep.Findings {
		byKind[f.Kind] = append(byKind[f.Kind], f.Key)
	}
	return byKind
}

// TestKillDuringRetention: SIGKILL while a retention run deletes many
// releases. A release's index records go before its objects, so after the
// kill every release still listed has all its objects (fsck finds nothing
// missing), objects of deleted releases are orphans that fsck reports and
// fsck --repair removes, and a second run finishes the job.
func TestKillDuringRetention(t *testing.T) {
	for _, store := range []string{"fs", "s3"} {
		t.Run(store, func(t *testing.T) {
			const drafts, artifacts = 200, 3
			dir := t.TempDir()
			var args []string
			var cfg *s3.Config
			if store == "s3" {
				c := testenv.StartMinIO(t).Config(t)
				cfg = &c
				args = []string{"--storage", "s3", "--s3-endpoint", c.Endpoint, "--s3-bucket", c.Bucket,
					"--s3-access-key", c.AccessKey, "--s3-secret-key", c.SecretKey, "--s3-insecure"}
			}
			seedOldDrafts(t, dir, cfg, drafts, artifacts)
			srv := newServer(t, dir, append(args, "--retention-interval", "0")...)
			admin := newCaller("", adminSecret, http.DefaultClient)

			left := drafts
			for round := range 2 {
				srv.start(nil)
				admin.base = srv.url() + "/api/v1"
				// The first deletion's event: the run is inside its deletions.
				var head struct {
					NextAfter uint64 `json:"next_after"`
				}
				if err := json.Unmarshal(admin.must(t, 200, "GET", "/events?type=release.deleted&limit=1000", nil), &head); err != nil {
					t.Fatal(err)
				}
				done := make(chan struct{})
				go func() {
					defer close(done)
					_, _, _ = admin.call(context.Background(), "POST", "/retention/run", nil)
				}()
				first := admin.must(t, 200, "GET", fmt.Sprintf("/events?type=release.deleted&limit=1&wait=30&after=%d", head.NextAfter), nil)
				srv.kill()
				<-done
				if !strings.Contains(string(first), "release.deleted") {
					t.Fatalf("round %d: no deletion began within 30s: %s", round, first)
				}

				found := fsckFindings(t, srv, false)
				if len(found["missing"]) > 0 || len(found["size_mismatch"]) > 0 {
					t.Fatalf("round %d: a release still listed lost objects: %v", round, found)
				}
				orphans := len(found["orphan"])
				repaired := fsckFindings(t, srv, true)
				if len(repaired["orphan"]) != orphans {
					t.Errorf("round %d: fsck --repair found %d orphans, fsck %d", round, len(repaired["orphan"]), orphans)
				}
				if again := fsckFindings(t, srv, false); len(again) > 0 {
					t.Fatalf("round %d: fsck after --repair: %v", round, again)
				}
				srv.start(nil)
				var page struct{ Releases []struct{ Version string } }
				if err := json.Unmarshal(admin.must(t, 200, "GET", "/products/hr/releases?limit=1000", nil), &page); err != nil {
					t.Fatal(err)
				}
				srv.stop()
				t.Logf("round %d: SIGKILL after the first deletion: %d of %d drafts left, %d orphaned objects reported by fsck and removed by fsck --repair",
					round, len(page.Releases), left, orphans)
				if len(page.Releases) >= left || len(page.Releases) == 0 {
					t.Errorf("round %d: the kill should land inside the run: %d drafts left of %d", round, len(page.Releases), left)
				}
				left = len(page.Releases)
			}
			srv.start(nil)
			admin.base = srv.url() + "/api/v1"
			var rep library.RetentionReport
			if err := json.Unmarshal(admin.must(t, 200, "POST", "/retention/run", nil), &rep); err != nil {
				t.Fatal(err)
			}
			var page struct{ Releases []struct{ Version string } }
			if err := json.Unmarshal(admin.must(t, 200, "GET", "/products/hr/releases?limit=1000", nil), &page); err != nil {
				t.Fatal(err)
			}
			if len(page.Releases) > 0 {
				t.Errorf("%d drafts left after a complete run", len(page.Releases))
			}
			srv.stop()
			if found := fsckFindings(t, srv, false); len(found) > 0 {
				t.Errorf("fsck after the complete run: %v", found)
			}
		})
	}
}
