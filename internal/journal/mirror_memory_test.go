package journal_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"runtime"
	"runtime/debug"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/reliquary/reliquary/internal/journal"
	"github.com/reliquary/reliquary/internal/testenv"
	"github.com/reliquary/reliquary/storage"
	"github.com/reliquary/reliquary/storage/fs"
	"github.com/reliquary/reliquary/storage/s3"
)

// bigJournal makes its large events on demand, so the test's own heap stays
// small and the peak measured is the mirror's.
type bigJournal struct {
	n, size        int
	hashes         []string
	mirrored, segs uint64
}

func newBigJournal(t *testing.T, n, size int) *bigJournal {
	b := &bigJournal{n: n, size: size, hashes: make([]string, n+1)}
	b.hashes[0] = journal.ZeroHash
	for seq := 1; seq <= n; seq++ {
		b.hashes[seq] = b.event(t, uint64(seq)).Hash
	}
	return b
}

func (b *bigJournal) event(t testing.TB, seq uint64) *journal.Event {
	e := &journal.Event{Time: time.Unix(1700000000, 0), Actor: "t", Type: "test.big", Subject: fmt.Sprint(seq),
		Data: json.RawMessage(`{"pad":"` + strings.Repeat(string(rune('a'+seq%26)), b.size) + `"}`)}
	if err := e.Seal(seq-1, b.hashes[seq-1]); err != nil {
		t.Fatal(err)
	}
	return e
}

func (b *bigJournal) EventsAfter(after uint64, limit int) ([]*journal.Event, error) {
	var out []*journal.Event
	for seq := after + 1; seq <= uint64(b.n) && len(out) < limit; seq++ {
		out = append(out, b.event(nil, seq))
	}
	return out, nil
}
func (b *bigJournal) Head() (uint64, string, error)   { return uint64(b.n), b.hashes[b.n], nil }
func (b *bigJournal) MirrorCursor() (uint64, error)   { return b.mirrored, nil }
func (b *bigJournal) SetMirrorCursor(s uint64) error  { b.mirrored = s; return nil }
func (b *bigJournal) SegmentCursor() (uint64, error)  { return b.segs, nil }
func (b *bigJournal) SetSegmentCursor(s uint64) error { b.segs = s; return nil }

// peakHeap samples the live heap while fn runs and returns its peak above
// the heap before.
func peakHeap(fn func()) uint64 {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	base := ms.HeapAlloc
	var peak atomic.Uint64
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		var ms runtime.MemStats
		for {
			runtime.ReadMemStats(&ms)
			if ms.HeapAlloc > base && ms.HeapAlloc-base > peak.Load() {
				peak.Store(ms.HeapAlloc - base)
			}
			select {
			case <-stop:
				return
			case <-time.After(2 * time.Millisecond):
			}
		}
	}()
	fn()
	close(stop)
	<-done
	return peak.Load()
}

// The mirror writes a segment, and a rebuild reads it back, without ever
// holding it whole: the heap grows by less than half the segment (48 MiB on
// the filesystem; 62 MiB on MinIO, where minio-go buffers one 16 MiB part
// at a time).
func TestMirrorSegmentMemoryBounded(t *testing.T) {
	if testing.Short() {
		t.Skip("writes up to 125 MiB")
	}
	t.Run("fs", func(t *testing.T) {
		store, err := fs.New(t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		defer store.Close()
		testMirrorSegmentMemory(t, store, 48<<10, journal.SegmentSize*(48<<10)/2)
	})
	t.Run("s3", func(t *testing.T) {
		store, err := s3.New(testenv.SharedMinIO(t).Config(t))
		if err != nil {
			t.Fatal(err)
		}
		// minio-go buffers one 16 MiB part at a time of a larger object.
		testMirrorSegmentMemory(t, store, 64<<10, journal.SegmentSize*(64<<10)/2)
	})
}

func TestMain(m *testing.M) {
	code := m.Run()
	testenv.StopShared()
	os.Exit(code)
}

func testMirrorSegmentMemory(t *testing.T, store storage.BlobStore, eventSize int, bound uint64) {

	if testing.Short() {
		t.Skip("writes 96 MiB")
	}
	defer debug.SetGCPercent(debug.SetGCPercent(20)) // little garbage: the peak is what is held
	src := newBigJournal(t, journal.SegmentSize, eventSize)
	m := &journal.Mirror{Source: src, State: src, Store: store, Notifier: journal.NewNotifier(), Log: slog.Default()}
	peak := peakHeap(func() {
		for src.segs < journal.SegmentSize {
			if _, err := m.Pass(context.Background()); err != nil {
				t.Fatal(err)
			}
		}
	})
	t.Logf("mirror: peak heap growth %d MiB for a %d MiB segment", peak>>20, (journal.SegmentSize*eventSize)>>20)
	if peak > bound {
		t.Errorf("the mirror's heap grew by %d MiB writing the segment", peak>>20)
	}
	n := 0
	peak = peakHeap(func() {
		next, err := journal.ReadMirror(context.Background(), store)
		if err != nil {
			t.Fatal(err)
		}
		for {
			e, err := next()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				t.Fatal(err)
			}
			n++
			if e.Seq != uint64(n) || e.Hash != src.hashes[n] {
				t.Fatalf("event %d: seq %d hash %s", n, e.Seq, e.Hash)
			}
		}
	})
	t.Logf("rebuild read: peak heap growth %d MiB", peak>>20)
	if n != journal.SegmentSize {
		t.Errorf("read back %d events", n)
	}
	if peak > bound {
		t.Errorf("reading the mirror grew the heap by %d MiB", peak>>20)
	}
}
