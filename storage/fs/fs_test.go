package fs_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/reliquary/reliquary/storage"
	"github.com/reliquary/reliquary/storage/fs"
	"github.com/reliquary/reliquary/storage/storagetest"
)

func TestConformance(t *testing.T) {
	storagetest.Run(t, storagetest.Options{New: func(t *testing.T) storage.BlobStore {
		s, err := fs.New(t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		return s
	}})
}

// A symlink planted under the root must not let a key reach outside it.
func TestSymlinkEscape(t *testing.T) {
	outside := t.TempDir()
	if err := os.WriteFile(filepath.Join(outside, "secret"), []byte("secret"), 0o600); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	s, err := fs.New(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := os.Symlink(outside, filepath.Join(dir, "products")); err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.Get(t.Context(), "products/secret", 0, -1); err == nil {
		t.Error("Get followed a symlink out of the root")
	}
	if _, err := s.Put(t.Context(), "products/new", storagetestReader(), 1, storage.PutOptions{}); err == nil {
		t.Error("Put wrote through a symlink out of the root")
	}
	if _, err := os.Stat(filepath.Join(outside, "new")); err == nil {
		t.Error("a file appeared outside the root")
	}
}

func storagetestReader() *os.File {
	f, _ := os.Open("/dev/zero")
	return f
}
