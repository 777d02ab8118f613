package fsck_test

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/reliquary/reliquary/internal/fsck"
	"github.com/reliquary/reliquary/internal/library"
	"github.com/reliquary/reliquary/internal/testenv"
	"github.com/reliquary/reliquary/storage"
)

// fsck finds a missing object, a size change, a flipped byte (deep) and an
// orphan; --repair removes the orphan only.
func TestFsck(t *testing.T) {
	srv := testenv.StartServer(t, testenv.ServerOptions{})
	ctx := context.Background()
	admin := library.Principal{Name: "admin", Role: library.RoleAdmin}
	lib := srv.Lib
	if _, err := lib.CreateProduct(ctx, admin, library.ProductInput{Name: "app"}); err != nil {
		t.Fatal(err)
	}
	if _, err := lib.CreateRelease(ctx, admin, "app", library.ReleaseInput{Version: "1.0.0"}); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"a.bin", "b.bin", "c.bin", "d.bin"} {
		body := bytes.Repeat([]byte(name), 1000)
		if _, _, err := lib.Upload(ctx, admin, library.UploadInput{Product: "app", Version: "1.0.0", Name: name, Size: int64(len(body)), Body: bytes.NewReader(body)}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := lib.Seal(ctx, admin, "app", "1.0.0", ""); err != nil {
		t.Fatal(err)
	}
	run := func(o fsck.Options) *fsck.Report {
		t.Helper()
		rep, err := fsck.Run(ctx, srv.Index, srv.Store, o)
		if err != nil {
			t.Fatal(err)
		}
		return rep
	}
	if rep := run(fsck.Options{Deep: true}); !rep.Clean() || rep.Objects != 6 {
		t.Fatalf("fresh library: %+v", rep)
	}
	blobs := filepath.Join(srv.DataDir, "blobs")
	art := func(n string) string { return filepath.Join(blobs, "products/app/releases/1.0.0/artifacts", n) }
	_ = os.Remove(art("a.bin"))
	_ = os.WriteFile(art("b.bin"), []byte("short"), 0o640)
	data, _ := os.ReadFile(art("c.bin"))
	data[10] ^= 1
	_ = os.WriteFile(art("c.bin"), data, 0o640)
	if _, err := srv.Store.Put(ctx, "products/app/releases/1.0.0/artifacts/orphan.bin", strings.NewReader("left by a crash"), 15, storage.PutOptions{}); err != nil {
		t.Fatal(err)
	}
	kinds := func(rep *fsck.Report) map[string]string {
		out := map[string]string{}
		for _, f := range rep.Findings {
			out[filepath.Base(f.Key)] = f.Kind
		}
		return out
	}
	shallow := kinds(run(fsck.Options{}))
	if shallow["a.bin"] != fsck.Missing || shallow["b.bin"] != fsck.SizeMismatch || shallow["orphan.bin"] != fsck.Orphan || shallow["c.bin"] != "" {
		t.Errorf("shallow findings: %v", shallow)
	}
	if deep := kinds(run(fsck.Options{Deep: true})); deep["c.bin"] != fsck.DigestMismatch {
		t.Errorf("deep findings: %v", deep)
	}
	run(fsck.Options{Repair: true})
	after := kinds(run(fsck.Options{Deep: true}))
	if _, ok := after["orphan.bin"]; ok || after["a.bin"] != fsck.Missing || after["c.bin"] != fsck.DigestMismatch {
		t.Errorf("after repair: %v (only the orphan may go)", after)
	}
	if _, err := os.Stat(art("c.bin")); err != nil {
		t.Errorf("repair removed data the index names: %v", err)
	}
}
