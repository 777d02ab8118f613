package api_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"

	"github.com/reliquary/reliquary/internal/fsck"
	"github.com/reliquary/reliquary/internal/index"
	"github.com/reliquary/reliquary/internal/testenv"
	"github.com/reliquary/reliquary/storage"
	"github.com/reliquary/reliquary/storage/fs"
	"github.com/reliquary/reliquary/storage/storagetest"
)

// smallDisk is a small volume for a disk-full test. Where the machine
// allows it (root: CI runs as root) it is a real tmpfs mounted on dir;
// otherwise (or with RELIQUARY_TEST_NO_MOUNT=1) the fault is injected
// beneath the store instead: fill sets RLIMIT_FSIZE, so the kernel fails
// every write past the limit with EFBIG.
type smallDisk struct {
	t       *testing.T
	dir     string
	mounted bool
	filler  string
	old     syscall.Rlimit
	limited bool
}

func newSmallDisk(t *testing.T, dir string, size int64) *smallDisk {
	t.Helper()
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	d := &smallDisk{t: t, dir: dir}
	var out []byte
	err := errors.New("RELIQUARY_TEST_NO_MOUNT is set")
	if os.Getenv("RELIQUARY_TEST_NO_MOUNT") == "" {
		out, err = exec.Command("mount", "-t", "tmpfs", "-o", fmt.Sprintf("size=%d,mode=0700", size), "tmpfs", dir).CombinedOutput()
	}
	if err != nil {
		t.Logf("fault: cannot mount a tmpfs on %s (%v %s): injecting it beneath the store instead (RLIMIT_FSIZE, writes fail with EFBIG)",
			dir, err, strings.TrimSpace(string(out)))
		t.Cleanup(d.free)
		return d
	}
	d.mounted = true
	t.Logf("fault: a real tmpfs of %d bytes mounted on %s", size, dir)
	t.Cleanup(func() {
		if out, err := exec.Command("umount", "-l", dir).CombinedOutput(); err != nil {
			t.Errorf("umount %s: %v %s", dir, err, out)
		}
	})
	return d
}

// fill leaves about keep bytes of room: on the tmpfs a file takes the
// rest (tmpfs counts whole pages); without one no file may grow past keep
// bytes, nor the index past its present size.
func (d *smallDisk) fill(keep int64) {
	t := d.t
	t.Helper()
	if !d.mounted {
		limit := keep
		if fi, err := os.Stat(filepath.Join(d.dir, "index.db")); err == nil {
			limit = max(limit, fi.Size())
		}
		if err := syscall.Getrlimit(syscall.RLIMIT_FSIZE, &d.old); err != nil {
			t.Fatal(err)
		}
		if err := syscall.Setrlimit(syscall.RLIMIT_FSIZE, &syscall.Rlimit{Cur: uint64(limit), Max: d.old.Max}); err != nil {
			t.Fatal(err)
		}
		d.limited = true
		return
	}
	var st syscall.Statfs_t
	if err := syscall.Statfs(d.dir, &st); err != nil {
		t.Fatal(err)
	}
	free := int64(st.Bavail) * st.Bsize
	d.filler = filepath.Join(d.dir, "filler")
	f, err := os.Create(d.filler)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	want := max(free-keep, 0)
	buf := make([]byte, 64<<10)
	var n int64
	for n < want {
		k, err := f.Write(buf[:min(int64(len(buf)), want-n)])
		n += int64(k)
		if err != nil {
			if !errors.Is(err, syscall.ENOSPC) {
				t.Fatal(err)
			}
			break
		}
	}
}

// free gives the room back.
func (d *smallDisk) free() {
	if d.limited {
		if err := syscall.Setrlimit(syscall.RLIMIT_FSIZE, &d.old); err != nil {
			d.t.Fatal(err)
		}
		d.limited = false
	}
	if d.filler != "" {
		if err := os.Remove(d.filler); err != nil {
			d.t.Fatal(err)
		}
		d.filler = ""
	}
}

// TestStoreDiskFull puts the filesystem store on a small tmpfs: an upload
// that does not fit answers 507 STORAGE_FULL and leaves no temporary file
// and no index record; once space is freed the same upload succeeds.
func TestStoreDiskFull(t *testing.T) {
	dir := t.TempDir()
	blobs := filepath.Join(dir, "blobs")
	disk := newSmallDisk(t, blobs, 8<<20)
	srv := testenv.StartServer(t, testenv.ServerOptions{DataDir: dir})
	admin := newClient(t, srv, srv.AdminToken)
	admin.json("POST", "/products", map[string]any{"name": "app"}).must(t, 201)
	admin.json("POST", "/products/app/releases", map[string]any{"version": "1.0.0"}).must(t, 201)
	base := "/products/app/releases/1.0.0/artifacts/"
	admin.put(base+"small.bin", upload{size: 1 << 20, seed: 1}).must(t, 201)

	disk.fill(2 << 20)
	for _, u := range []struct {
		name    string
		size    int64
		chunked bool
	}{{"big.bin", 3 << 20, false}, {"big-chunked.bin", 3 << 20, true}} {
		var body io.Reader = storagetest.NewStream(7, u.size)
		size := u.size
		if u.chunked {
			body = struct{ io.Reader }{body} // no length known: chunked
			size = -1
		}
		r, err := admin.rawPut(base+u.name, body, size)
		if err != nil {
			t.Fatalf("upload %s to a full disk: %v", u.name, err)
		}
		if r.status != 507 || r.errCode() != "STORAGE_FULL" {
			t.Errorf("upload %s to a full disk: %d %s, want 507 STORAGE_FULL", u.name, r.status, r.body)
		}
	}
	// Nothing half-written: no temporary file, no object, no record.
	left, err := srv.Store.(*fs.Store).Leftovers(context.Background())
	if err != nil || len(left) != 0 {
		t.Errorf("temporary files after the refused uploads: %q %v", left, err)
	}
	if got := srv.Objects(t, "products/"); len(got) != 1 {
		t.Errorf("objects after the refused uploads: %q", got)
	}
	var rel struct{ Artifacts []struct{ Name string } }
	admin.json("GET", "/products/app/releases/1.0.0", nil).must(t, 200).decode(t, &rel)
	if len(rel.Artifacts) != 1 {
		t.Errorf("index records after the refused uploads: %+v", rel.Artifacts)
	}

	// Space is freed: the retried uploads succeed.
	disk.free()
	admin.put(base+"big.bin", upload{size: 3 << 20, seed: 7}).must(t, 201)
	admin.put(base+"big-chunked.bin", upload{size: 3 << 20, seed: 7}).must(t, 201)
	rep, err := fsck.Run(context.Background(), srv.Index, srv.Store, fsck.Options{Deep: true})
	if err != nil || !rep.Clean() {
		t.Errorf("fsck --deep after the disk-full episode: %+v %v", rep, err)
	}
}

// TestIndexVolumeFull puts the bbolt index on a small tmpfs (the blobs on
// another): once it is full, writes answer 507 STORAGE_FULL (never a 500 or
// a panic), reads go on, the journal verifies, the file reopens, and writes
// work again once space is freed.
func TestIndexVolumeFull(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	disk := newSmallDisk(t, dir, 4<<20)
	if disk.mounted {
		newSmallDisk(t, filepath.Join(dir, "blobs"), 32<<20)
	}
	srv := testenv.StartServer(t, testenv.ServerOptions{DataDir: dir})
	admin := newClient(t, srv, srv.AdminToken)
	admin.json("POST", "/products", map[string]any{"name": "app"}).must(t, 201)
	admin.json("POST", "/products/app/releases", map[string]any{"version": "1.0.0"}).must(t, 201)
	disk.fill(0)

	// Write until the index cannot grow any more.
	notes := strings.Repeat("release notes ", 2000)
	var ok []string
	failedVersion := ""
	for i := range 2000 {
		v := fmt.Sprintf("1.0.%d", i+1)
		r := admin.json("POST", "/products/app/releases", map[string]any{"version": v, "notes": notes})
		if r.status == 201 {
			ok = append(ok, v)
			continue
		}
		if r.status != 507 || r.errCode() != "STORAGE_FULL" {
			t.Fatalf("create release on a full index volume: %d %s, want 507 STORAGE_FULL", r.status, r.body)
		}
		failedVersion = v
		break
	}
	if failedVersion == "" {
		t.Fatal("the index never filled its volume")
	}
	t.Logf("the index volume filled after %d more releases", len(ok))
	// Uploads whose bytes fit in the store but whose records soon do not
	// fit in the index (bbolt reuses freed pages for a while): 507, and
	// the refused object is removed again.
	base := "/products/app/releases/1.0.0/artifacts/"
	var stored []string
	refused := ""
	for i := range 200 {
		name := fmt.Sprintf("a%d.bin", i)
		r := admin.put(base+name, upload{size: 64 << 10, seed: int64(i)})
		if r.status == 201 {
			stored = append(stored, storage.ArtifactKey("app", "1.0.0", name))
			continue
		}
		if r.status != 507 || r.errCode() != "STORAGE_FULL" {
			t.Fatalf("upload with a full index: %d %s, want 507 STORAGE_FULL", r.status, r.body)
		}
		refused = name
		break
	}
	if refused == "" {
		t.Fatal("uploads never filled the index")
	}
	t.Logf("%d uploads committed before the index refused %s", len(stored), refused)
	// The refused release's event was committed to the bucket's journal
	// before the index refused it (DESIGN §9: the bucket is the commit
	// point); the writes after it lose the race for its seq and cannot
	// catch up on a full index: refused, nothing committed, the refused
	// upload's object removed.
	if got := srv.Objects(t, "products/"); !slices.Equal(got, stored) {
		t.Errorf("objects after the upload the index refused: %q, want %q", got, stored)
	}
	// Reads go on, the journal verifies.
	admin.json("GET", "/products/app/releases/1.0.0", nil).must(t, 200)
	admin.json("GET", "/products/app/releases/"+failedVersion, nil).must(t, 404) // not applied here yet
	var vr struct{ OK bool }
	admin.json("GET", "/audit/verify", nil).must(t, 200).decode(t, &vr)
	if !vr.OK {
		t.Error("audit verify on a full index volume: not ok")
	}

	// Space is freed: the node applies what was committed but not applied
	// (the release and the upload it answered 507 for), and writes work
	// again.
	disk.free()
	admin.do("GET", "/products/app/releases/"+failedVersion, nil, "X-Reliquary-Min-Seq", "latest").must(t, 200)
	admin.json("POST", "/products/app/releases", map[string]any{"version": failedVersion, "notes": notes}).must(t, 409)
	admin.put(base+refused, upload{size: 64 << 10, seed: 3}).must(t, 201)

	// The file reopens and verifies offline.
	srv.Stop()
	ix, err := index.Open(filepath.Join(dir, "index.db"), index.Options{ReadOnly: true})
	if err != nil {
		t.Fatalf("reopen the index after the full episode: %v", err)
	}
	defer ix.Close()
	rep, err := ix.VerifyJournal()
	if err != nil || !rep.OK {
		t.Errorf("journal after the full episode: %+v %v", rep, err)
	}
}
