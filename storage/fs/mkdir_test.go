package fs

import (
	"context"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/reliquary/reliquary/storage"
)

// TestPutSyncsEveryCreatedDirectory: a Put that creates a chain of
// directories fsyncs the parent of every one it created (the store root
// included), and the final directory after the link.
func TestPutSyncsEveryCreatedDirectory(t *testing.T) {
	s, err := New(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	var mu sync.Mutex
	var synced []string
	s.synced = func(dir string) { mu.Lock(); synced = append(synced, dir); mu.Unlock() }

	ctx := context.Background()
	if _, err := s.Put(ctx, "products/hr/releases/1.0.0/artifacts/a", strings.NewReader("x"), 1, storage.PutOptions{}); err != nil {
		t.Fatal(err)
	}
	for _, d := range []string{".", "products", "products/hr", "products/hr/releases", "products/hr/releases/1.0.0", "products/hr/releases/1.0.0/artifacts"} {
		if !slices.Contains(synced, d) {
			t.Errorf("directory %q was not fsynced (synced: %v)", d, synced)
		}
	}

	// A second object under existing directories syncs only its own one.
	synced = nil
	if _, err := s.Put(ctx, "products/hr/releases/1.0.0/artifacts/b", strings.NewReader("y"), 1, storage.PutOptions{}); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(synced, []string{"products/hr/releases/1.0.0/artifacts"}) {
		t.Errorf("second put synced %v, want only its directory", synced)
	}
	// A sibling release creates two directories: their parents are synced.
	synced = nil
	if _, err := s.Put(ctx, "products/hr/releases/2.0.0/artifacts/a", strings.NewReader("z"), 1, storage.PutOptions{}); err != nil {
		t.Fatal(err)
	}
	for _, d := range []string{"products/hr/releases", "products/hr/releases/2.0.0", "products/hr/releases/2.0.0/artifacts"} {
		if !slices.Contains(synced, d) {
			t.Errorf("directory %q was not fsynced (synced: %v)", d, synced)
		}
	}
}
