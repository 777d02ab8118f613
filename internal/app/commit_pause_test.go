package app

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"sync/atomic"
	"testing"
	"time"

	"github.com/reliquary/reliquary/internal/journal"
	"github.com/reliquary/reliquary/storage"
	"github.com/reliquary/reliquary/storage/fs"
)

// downStore answers every Put and Get with ErrUnavailable while down, and
// counts the Puts it is asked for.
type downStore struct {
	storage.BlobStore
	down atomic.Bool
	puts atomic.Int64
}

func (s *downStore) Put(ctx context.Context, key string, r io.Reader, size int64, o storage.PutOptions) (storage.Info, error) {
	s.puts.Add(1)
	if s.down.Load() {
		return storage.Info{}, storage.ErrUnavailable
	}
	return s.BlobStore.Put(ctx, key, r, size, o)
}

func (s *downStore) Get(ctx context.Context, key string, off, n int64) (io.ReadCloser, storage.Info, error) {
	if s.down.Load() {
		return nil, storage.Info{}, storage.ErrUnavailable
	}
	return s.BlobStore.Get(ctx, key, off, n)
}

// A commit that finds the store unavailable makes the next commits within
// storeDownPause fail at once, without a store call (writes queued behind
// a hung store get their 503 now, not one timeout each); after the pause
// the store is tried again, and a healed store commits.
func TestCommitPausesAfterTheStoreFailed(t *testing.T) {
	base, err := fs.New(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	store := &downStore{BlobStore: base}
	now := time.Unix(1_800_000_000, 0)
	c := &bucketCommitter{store: store, nodeID: "n1", log: slog.New(slog.DiscardHandler), now: func() time.Time { return now }}
	ev := func(seq uint64) []*journal.Event {
		e := &journal.Event{Time: now, Actor: "t", Type: "test", Subject: "s"}
		if err := e.Seal(seq-1, journal.ZeroHash); err != nil {
			t.Fatal(err)
		}
		return []*journal.Event{e}
	}

	store.down.Store(true)
	if err := c.Commit(t.Context(), ev(1)); !errors.Is(err, storage.ErrUnavailable) {
		t.Fatalf("commit on a down store: %v, want ErrUnavailable", err)
	}
	tried := store.puts.Load()
	if tried == 0 {
		t.Fatal("the first commit never tried the store")
	}
	now = now.Add(storeDownPause / 2)
	for range 5 {
		if err := c.Commit(t.Context(), ev(1)); !errors.Is(err, storage.ErrUnavailable) {
			t.Fatalf("commit within the pause: %v, want ErrUnavailable", err)
		}
	}
	if got := store.puts.Load(); got != tried {
		t.Fatalf("commits within the pause called Put %d more times, want none", got-tried)
	}

	store.down.Store(false)
	now = now.Add(storeDownPause)
	if err := c.Commit(t.Context(), ev(1)); err != nil {
		t.Fatalf("commit after the pause on a healed store: %v", err)
	}
	if store.puts.Load() == tried {
		t.Fatal("the commit after the pause did not try the store")
	}
	if _, err := base.Stat(t.Context(), storage.JournalKey(1)); err != nil {
		t.Fatalf("the journal object after healing: %v", err)
	}
}
