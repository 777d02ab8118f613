// Package storagetest is the conformance suite every storage.BlobStore
// backend passes. A backend's test is a few lines:
//
//	func TestConformance(t *testing.T) {
//		storagetest.Run(t, storagetest.Options{New: func(t *testing.T) storage.BlobStore { … }})
//	}
package storagetest

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"runtime"
	"slices"
	"sync"
	"testing"

	"github.com/reliquary/reliquary/storage"
)

// Options configure the suite for one backend.
type Options struct {
	// New returns an empty store. It is called once; the suite checks at the
	// end that everything it wrote is gone again.
	New func(t *testing.T) storage.BlobStore
	// LargeSize is a size above the backend's multipart threshold (if it has
	// one), used for the racing and cancellation cases.
	LargeSize int64
	// StreamSize is the size of the memory-bounded stream case (256 MiB by
	// default; -short uses 32 MiB).
	StreamSize int64
	// Presign is true when PresignGet must work (S3), false when it must
	// fail with ErrUnsupported.
	Presign bool
}

// Leftovers is implemented by backends that can name what an interrupted
// write left behind (temporary files, incomplete multipart uploads).
type Leftovers interface {
	Leftovers(ctx context.Context) ([]string, error)
}

// Run runs every case against one store.
func Run(t *testing.T, o Options) {
	if o.LargeSize == 0 {
		o.LargeSize = 12 << 20
	}
	if o.StreamSize == 0 {
		o.StreamSize = 256 << 20
		if testing.Short() {
			o.StreamSize = 32 << 20
		}
	}
	s := o.New(t)
	ctx := t.Context()

	cases := []struct {
		name string
		fn   func(*testing.T, storage.BlobStore, Options)
	}{
		{"PutGetStatDelete", testPutGetStatDelete},
		{"EmptyObject", testEmptyObject},
		{"RangedReads", testRangedReads},
		{"List", testList},
		{"NoOverwrite", testNoOverwrite},
		{"RacingPutsSmall", func(t *testing.T, s storage.BlobStore, o Options) { testRacingPuts(t, s, 64<<10) }},
		{"RacingPutsMultipart", func(t *testing.T, s storage.BlobStore, o Options) { testRacingPuts(t, s, o.LargeSize) }},
		{"UnknownSize", testUnknownSize},
		{"SizeMismatch", testSizeMismatch},
		{"StreamBoundedMemory", testStreamBoundedMemory},
		{"CancelledPut", testCancelledPut},
		{"FailingReader", testFailingReader},
		{"HostileKeys", testHostileKeys},
		{"NotFound", testNotFound},
		{"Presign", testPresign},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) { c.fn(t, s, o) })
	}

	t.Run("NothingLeftBehind", func(t *testing.T) {
		var keys []string
		if err := s.List(ctx, "", func(i storage.Info) error { keys = append(keys, i.Key); return nil }); err != nil {
			t.Fatalf("List: %v", err)
		}
		if len(keys) > 0 {
			t.Errorf("objects left behind: %q", keys)
		}
		if l, ok := s.(Leftovers); ok {
			left, err := l.Leftovers(ctx)
			if err != nil {
				t.Fatalf("Leftovers: %v", err)
			}
			if len(left) > 0 {
				t.Errorf("partial writes left behind: %q", left)
			}
		}
	})
}

// Payload returns n deterministic pseudo-random bytes for seed.
func Payload(seed, n int64) []byte {
	b := make([]byte, n)
	_, _ = io.ReadFull(NewStream(seed, n), b)
	return b
}

// NewStream is a reader of n deterministic pseudo-random bytes that holds
// nothing in memory (xorshift64*).
func NewStream(seed, n int64) io.Reader {
	return &stream{state: uint64(seed)*0x9E3779B97F4A7C15 | 1, left: n}
}

type stream struct {
	state uint64
	left  int64
}

func (s *stream) Read(p []byte) (int, error) {
	if s.left <= 0 {
		return 0, io.EOF
	}
	if int64(len(p)) > s.left {
		p = p[:s.left]
	}
	n := 0
	for n+8 <= len(p) {
		s.state ^= s.state >> 12
		s.state ^= s.state << 25
		s.state ^= s.state >> 27
		v := s.state * 2685821657736338717
		p[n], p[n+1], p[n+2], p[n+3] = byte(v), byte(v>>8), byte(v>>16), byte(v>>24)
		p[n+4], p[n+5], p[n+6], p[n+7] = byte(v>>32), byte(v>>40), byte(v>>48), byte(v>>56)
		n += 8
	}
	for ; n < len(p); n++ {
		s.state = s.state*6364136223846793005 + 1442695040888963407
		p[n] = byte(s.state >> 56)
	}
	s.left -= int64(n)
	return n, nil
}

func put(t *testing.T, s storage.BlobStore, key string, b []byte) storage.Info {
	t.Helper()
	info, err := s.Put(t.Context(), key, bytes.NewReader(b), int64(len(b)), storage.PutOptions{ContentType: "application/octet-stream"})
	if err != nil {
		t.Fatalf("Put(%q): %v", key, err)
	}
	return info
}

func get(t *testing.T, s storage.BlobStore, key string, off, n int64) []byte {
	t.Helper()
	rc, _, err := s.Get(t.Context(), key, off, n)
	if err != nil {
		t.Fatalf("Get(%q, %d, %d): %v", key, off, n, err)
	}
	defer rc.Close()
	b, err := io.ReadAll(rc)
	if err != nil {
		t.Fatalf("read %q: %v", key, err)
	}
	return b
}

func del(t *testing.T, s storage.BlobStore, keys ...string) {
	t.Helper()
	for _, k := range keys {
		if err := s.Delete(context.WithoutCancel(t.Context()), k); err != nil {
			t.Errorf("Delete(%q): %v", k, err)
		}
	}
}

func mustNotExist(t *testing.T, s storage.BlobStore, key string) {
	t.Helper()
	if _, err := s.Stat(t.Context(), key); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("Stat(%q) = %v, want ErrNotFound", key, err)
	}
}

func testPutGetStatDelete(t *testing.T, s storage.BlobStore, _ Options) {
	key := "suite/basic/products/p/releases/1.0.0/artifacts/app.tar.gz"
	want := Payload(1, 100_000)
	info := put(t, s, key, want)
	if info.Key != key || info.Size != int64(len(want)) {
		t.Errorf("Put info = %+v, want key %q size %d", info, key, len(want))
	}
	if got := get(t, s, key, 0, -1); !bytes.Equal(got, want) {
		t.Fatalf("Get returned %d bytes that differ from the %d put", len(got), len(want))
	}
	st, err := s.Stat(t.Context(), key)
	if err != nil || st.Size != int64(len(want)) || st.ModTime.IsZero() {
		t.Errorf("Stat = %+v, %v", st, err)
	}
	del(t, s, key)
	mustNotExist(t, s, key)
	if err := s.Delete(t.Context(), key); err != nil {
		t.Errorf("second Delete of a missing key = %v, want nil", err)
	}
}

func testEmptyObject(t *testing.T, s storage.BlobStore, _ Options) {
	key := "suite/empty/zero"
	put(t, s, key, nil)
	if got := get(t, s, key, 0, -1); len(got) != 0 {
		t.Errorf("empty object read back %d bytes", len(got))
	}
	del(t, s, key)
}

func testRangedReads(t *testing.T, s storage.BlobStore, _ Options) {
	key := "suite/range/blob"
	data := Payload(2, 10_000)
	put(t, s, key, data)
	defer del(t, s, key)
	for _, c := range []struct{ off, n int64 }{{0, 1}, {0, 10_000}, {1, 9_999}, {5_000, 100}, {9_999, 1}, {9_000, -1}, {9_000, 50_000}, {0, -1}} {
		end := int64(len(data))
		if c.n >= 0 && c.off+c.n < end {
			end = c.off + c.n
		}
		if got := get(t, s, key, c.off, c.n); !bytes.Equal(got, data[c.off:end]) {
			t.Errorf("Get(%d, %d): %d bytes, want %d matching", c.off, c.n, len(got), end-c.off)
		}
	}
	for _, off := range []int64{10_000, 10_001, 1 << 40} {
		rc, _, err := s.Get(t.Context(), key, off, 10)
		if err == nil {
			rc.Close()
		}
		if !errors.Is(err, storage.ErrInvalidRange) {
			t.Errorf("Get at offset %d of 10000 = %v, want ErrInvalidRange", off, err)
		}
	}
}

func testList(t *testing.T, s storage.BlobStore, _ Options) {
	keys := []string{"suite/list/a/1", "suite/list/a/2", "suite/list/ab/1", "suite/list/b/x/y"}
	for i, k := range keys {
		put(t, s, k, Payload(int64(i), 10))
	}
	defer del(t, s, keys...)
	for _, c := range []struct {
		prefix string
		want   []string
	}{
		{"suite/list/", keys},
		{"suite/list/a/", keys[:2]},
		{"suite/list/a", keys[:3]},
		{"suite/list/b/x/y", keys[3:]},
		{"suite/list/none/", nil},
	} {
		var got []string
		err := s.List(t.Context(), c.prefix, func(i storage.Info) error {
			if i.Size != 10 {
				t.Errorf("List(%q): %s has size %d, want 10", c.prefix, i.Key, i.Size)
			}
			got = append(got, i.Key)
			return nil
		})
		if err != nil {
			t.Fatalf("List(%q): %v", c.prefix, err)
		}
		slices.Sort(got)
		if !slices.Equal(got, c.want) {
			t.Errorf("List(%q) = %q, want %q", c.prefix, got, c.want)
		}
	}
	stop := errors.New("stop")
	n := 0
	if err := s.List(t.Context(), "suite/list/", func(storage.Info) error { n++; return stop }); !errors.Is(err, stop) || n != 1 {
		t.Errorf("List with a failing callback = %v after %d calls, want stop after 1", err, n)
	}
}

func testNoOverwrite(t *testing.T, s storage.BlobStore, _ Options) {
	key := "suite/immutable/blob"
	first := Payload(3, 1000)
	put(t, s, key, first)
	defer del(t, s, key)
	for _, b := range [][]byte{Payload(4, 1000), first, nil} {
		_, err := s.Put(t.Context(), key, bytes.NewReader(b), int64(len(b)), storage.PutOptions{})
		if !errors.Is(err, storage.ErrExists) {
			t.Errorf("second Put = %v, want ErrExists", err)
		}
	}
	if got := get(t, s, key, 0, -1); !bytes.Equal(got, first) {
		t.Error("the first object's bytes changed after refused overwrites")
	}
}

func testRacingPuts(t *testing.T, s storage.BlobStore, size int64) {
	const racers = 6
	key := fmt.Sprintf("suite/race/%d", size)
	defer del(t, s, key)
	var wg sync.WaitGroup
	errs := make([]error, racers)
	start := make(chan struct{})
	for i := range racers {
		wg.Go(func() {
			<-start
			_, errs[i] = s.Put(t.Context(), key, NewStream(int64(100+i), size), size, storage.PutOptions{})
		})
	}
	close(start)
	wg.Wait()
	winner := -1
	for i, err := range errs {
		switch {
		case err == nil && winner >= 0:
			t.Fatalf("racers %d and %d both succeeded writing %s", winner, i, key)
		case err == nil:
			winner = i
		case !errors.Is(err, storage.ErrExists):
			t.Errorf("racer %d: %v, want nil or ErrExists", i, err)
		}
	}
	if winner < 0 {
		t.Fatalf("no racer succeeded: %v", errs)
	}
	want := sha256.New()
	_, _ = io.Copy(want, NewStream(int64(100+winner), size))
	rc, _, err := s.Get(t.Context(), key, 0, -1)
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	got := sha256.New()
	if _, err := io.Copy(got, rc); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got.Sum(nil), want.Sum(nil)) {
		t.Errorf("stored bytes are not the winning racer's (%d)", winner)
	}
}

func testUnknownSize(t *testing.T, s storage.BlobStore, o Options) {
	for _, n := range []int64{0, 5000, o.LargeSize + 1} {
		key := fmt.Sprintf("suite/unknown/%d", n)
		info, err := s.Put(t.Context(), key, io.LimitReader(NewStream(n, n), n), -1, storage.PutOptions{})
		if err != nil {
			t.Fatalf("Put of %d bytes with size -1: %v", n, err)
		}
		st, err := s.Stat(t.Context(), key)
		if err != nil || st.Size != n || info.Size != n {
			t.Errorf("size -1 put of %d bytes: Put says %d, Stat %d (%v)", n, info.Size, st.Size, err)
		}
		del(t, s, key)
	}
}

func testSizeMismatch(t *testing.T, s storage.BlobStore, _ Options) {
	for _, c := range []struct{ declared, actual int64 }{{1000, 500}, {1000, 1500}, {1, 0}} {
		key := fmt.Sprintf("suite/mismatch/%d-%d", c.declared, c.actual)
		_, err := s.Put(t.Context(), key, bytes.NewReader(Payload(5, c.actual)), c.declared, storage.PutOptions{})
		if !errors.Is(err, storage.ErrSizeMismatch) {
			t.Errorf("Put declaring %d, delivering %d = %v, want ErrSizeMismatch", c.declared, c.actual, err)
		}
		mustNotExist(t, s, key)
	}
}

func testStreamBoundedMemory(t *testing.T, s storage.BlobStore, o Options) {
	key := "suite/stream/big"
	defer del(t, s, key)
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	peak := newPeakHeap()
	h := sha256.New()
	_, err := s.Put(t.Context(), key, io.TeeReader(NewStream(7, o.StreamSize), h), o.StreamSize, storage.PutOptions{})
	peakPut := peak.stop()
	if err != nil {
		t.Fatalf("Put of %d MiB: %v", o.StreamSize>>20, err)
	}
	runtime.ReadMemStats(&after)
	wantSum := h.Sum(nil)

	peak = newPeakHeap()
	rc, _, err := s.Get(t.Context(), key, 0, -1)
	if err != nil {
		t.Fatal(err)
	}
	h.Reset()
	_, err = io.Copy(h, rc)
	rc.Close()
	peakGet := peak.stop()
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(h.Sum(nil), wantSum) {
		t.Fatal("streamed object read back with another digest")
	}
	const limit = 96 << 20
	t.Logf("%d MiB stream: heap peak %d MiB during Put, %d MiB during Get; %d MiB allocated in all by Put",
		o.StreamSize>>20, peakPut>>20, peakGet>>20, (after.TotalAlloc-before.TotalAlloc)>>20)
	if peakPut > before.HeapAlloc+limit || peakGet > before.HeapAlloc+limit {
		t.Errorf("heap grew with the object: peak %d MiB (Put), %d MiB (Get) from %d MiB, limit +%d MiB",
			peakPut>>20, peakGet>>20, before.HeapAlloc>>20, limit>>20)
	}
}

// peakHeap samples the live heap until stopped and reports its peak.
type peakHeap struct {
	done chan struct{}
	res  chan uint64
}

func newPeakHeap() *peakHeap {
	p := &peakHeap{done: make(chan struct{}), res: make(chan uint64)}
	go func() {
		var peak uint64
		var m runtime.MemStats
		for {
			runtime.ReadMemStats(&m)
			peak = max(peak, m.HeapAlloc)
			select {
			case <-p.done:
				p.res <- peak
				return
			default:
				runtime.Gosched()
				sleep()
			}
		}
	}()
	return p
}

func (p *peakHeap) stop() uint64 { close(p.done); return <-p.res }
