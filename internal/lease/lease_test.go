package lease_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/reliquary/reliquary/internal/lease"
	"github.com/reliquary/reliquary/internal/testenv"
	"github.com/reliquary/reliquary/storage"
	"github.com/reliquary/reliquary/storage/fs"
	"github.com/reliquary/reliquary/storage/s3"
)

func TestMain(m *testing.M) {
	code := m.Run()
	testenv.StopShared()
	os.Exit(code)
}

// stores runs fn on a fresh filesystem store and a fresh MinIO bucket.
func stores(t *testing.T, fn func(t *testing.T, st storage.BlobStore)) {
	t.Run("fs", func(t *testing.T) {
		st, err := fs.New(t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { st.Close() })
		fn(t, st)
	})
	t.Run("s3", func(t *testing.T) {
		st, err := s3.New(testenv.SharedMinIO(t).Config(t))
		if err != nil {
			t.Fatal(err)
		}
		fn(t, st)
	})
}

func newLease(t *testing.T, st storage.BlobStore, holder string, ttl time.Duration) *lease.Lease {
	t.Helper()
	l, err := lease.New(lease.Config{Store: st, Name: "webhooks", Holder: holder, TTL: ttl, Skew: ttl / 12,
		Log: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// Eight nodes race for a free lease: exactly one wins, and the others see
// it held.
func TestRaceOneWins(t *testing.T) {
	stores(t, func(t *testing.T, st storage.BlobStore) {
		for round := range 3 {
			var won atomic.Int32
			var wg sync.WaitGroup
			ls := make([]*lease.Lease, 8)
			for i := range ls {
				ls[i] = newLease(t, st, fmt.Sprintf("r%d-n%d", round, i), 10*time.Second)
			}
			for _, l := range ls {
				wg.Go(func() {
					ok, err := l.TryAcquire(context.Background())
					if err != nil {
						t.Error(err)
					}
					if ok {
						won.Add(1)
					}
				})
			}
			wg.Wait()
			held := 0
			for _, l := range ls {
				if l.Held() {
					held++
				}
			}
			if won.Load() != 1 || held != 1 {
				t.Fatalf("round %d: %d winners, %d holders", round, won.Load(), held)
			}
			// Free it for the next round.
			for _, l := range ls {
				if l.Held() {
					if err := l.Release(context.Background(), nil); err != nil {
						t.Fatal(err)
					}
				}
			}
		}
	})
}

// A holder that stops renewing keeps the lease until it expires; then
// another node takes it over with the state of the last epoch, and the old
// holder's renewal is refused.
func TestTakeoverAfterExpiry(t *testing.T) {
	stores(t, func(t *testing.T, st storage.BlobStore) {
		ctx := context.Background()
		const ttl = 1200 * time.Millisecond
		a, b := newLease(t, st, "a", ttl), newLease(t, st, "b", ttl)
		if ok, err := a.TryAcquire(ctx); !ok || err != nil {
			t.Fatalf("a acquire: %v %v", ok, err)
		}
		if err := a.Renew(ctx, json.RawMessage(`{"cursor":41}`)); err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		if ok, err := b.TryAcquire(ctx); ok || err != nil {
			t.Fatalf("b took a live lease: %v %v", ok, err)
		}
		// a stops renewing (its process hangs or dies).
		for {
			ok, err := b.TryAcquire(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if ok {
				break
			}
			if time.Since(start) > 5*ttl {
				t.Fatal("b never took over an expired lease")
			}
			time.Sleep(50 * time.Millisecond)
		}
		if el := time.Since(start); el < ttl {
			t.Fatalf("b took over after %s, before the TTL %s", el, ttl)
		}
		if a.Held() {
			t.Fatal("a still believes it holds an expired lease")
		}
		if string(b.State()) != `{"cursor":41}` {
			t.Fatalf("b resumed from state %s", b.State())
		}
		if err := a.Renew(ctx, nil); !errors.Is(err, lease.ErrLost) {
			t.Fatalf("a renewed a lease b holds: %v", err)
		}
		if ok, _ := a.TryAcquire(ctx); ok {
			t.Fatal("a re-took a lease b holds")
		}
	})
}

// Run: one node works at a time; renewals carry the state; cancelling the
// holder releases the lease and the other node takes over at once, with
// the state; old epochs are pruned.
func TestRunHandover(t *testing.T) {
	stores(t, func(t *testing.T, st storage.BlobStore) {
		const ttl = 900 * time.Millisecond
		var working, overlap atomic.Int32
		var counter atomic.Int64
		work := func(resumed *atomic.Int64) func(ctx context.Context, prev json.RawMessage) {
			return func(ctx context.Context, prev json.RawMessage) {
				var s struct{ N int64 }
				_ = json.Unmarshal(prev, &s)
				resumed.Store(s.N)
				if working.Add(1) > 1 {
					overlap.Add(1)
				}
				defer working.Add(-1)
				counter.Store(s.N)
				for ctx.Err() == nil {
					counter.Add(1)
					time.Sleep(10 * time.Millisecond)
				}
			}
		}
		state := func() json.RawMessage { return json.RawMessage(fmt.Sprintf(`{"N":%d}`, counter.Load())) }
		var resumedA, resumedB atomic.Int64
		resumedB.Store(-1)
		a, b := newLease(t, st, "a", ttl), newLease(t, st, "b", ttl)
		actx, acancel := context.WithCancel(context.Background())
		bctx, bcancel := context.WithCancel(context.Background())
		defer bcancel()
		var wg sync.WaitGroup
		wg.Go(func() { a.Run(actx, work(&resumedA), state) })
		deadline := time.Now().Add(5 * time.Second)
		for !a.Held() && time.Now().Before(deadline) {
			time.Sleep(10 * time.Millisecond)
		}
		if !a.Held() {
			t.Fatal("a never acquired a free lease")
		}
		wg.Go(func() { b.Run(bctx, work(&resumedB), state) })
		time.Sleep(2 * ttl) // several renewals
		if b.Held() || resumedB.Load() != -1 {
			t.Fatal("b works while a holds the lease")
		}
		if e := a.Epoch(); e < 4 {
			t.Fatalf("a renewed to epoch %d only", e)
		}
		acancel()
		released := time.Now()
		for !b.Held() && time.Since(released) < 5*time.Second {
			time.Sleep(10 * time.Millisecond)
		}
		if !b.Held() {
			t.Fatal("b never took over a released lease")
		}
		if el := time.Since(released); el > ttl {
			t.Fatalf("takeover of a released lease took %s (the TTL is %s): release did not free it", el, ttl)
		}
		time.Sleep(100 * time.Millisecond)
		if resumedB.Load() < 10 {
			t.Fatalf("b resumed from %d, not from a's state", resumedB.Load())
		}
		bcancel()
		wg.Wait()
		if overlap.Load() != 0 {
			t.Fatalf("%d overlaps", overlap.Load())
		}
		var keys []string
		if err := st.List(context.Background(), storage.LeasePrefix("webhooks"), func(in storage.Info) error {
			keys = append(keys, in.Key)
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		if len(keys) > 4 {
			t.Fatalf("old epochs not pruned: %s", strings.Join(keys, " "))
		}
	})
}

// Names that are not one key segment, and a skew margin too large for
// the TTL, are refused.
func TestConfigRefused(t *testing.T) {
	st, err := fs.New(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	for _, cfg := range []lease.Config{
		{Store: st, Name: "a/b", Holder: "n"},
		{Store: st, Name: "..", Holder: "n"},
		{Store: st, Name: "", Holder: "n"},
		{Store: st, Name: "x", Holder: ""},
		{Store: st, Name: "x", Holder: "n", TTL: 3 * time.Second, Skew: time.Second},
	} {
		if _, err := lease.New(cfg); err == nil {
			t.Errorf("%+v accepted", cfg)
		}
	}
}

// lostAnswers stores every Put but answers the next n of them with a
// timeout, as when a response is lost on the network.
type lostAnswers struct {
	storage.BlobStore
	n atomic.Int32
}

func (s *lostAnswers) Put(ctx context.Context, key string, r io.Reader, size int64, o storage.PutOptions) (storage.Info, error) {
	in, err := s.BlobStore.Put(ctx, key, r, size, o)
	if err == nil && s.n.Add(-1) >= 0 {
		return storage.Info{}, fmt.Errorf("answer lost: %w", context.DeadlineExceeded)
	}
	return in, err
}

// A renewal whose answer was lost is settled by reading the epoch back:
// the retry finds its own epoch and keeps the lease; another node's
// epoch is not mistaken for ours.
func TestLostAnswerSettledByReadingBack(t *testing.T) {
	base, err := fs.New(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer base.Close()
	st := &lostAnswers{BlobStore: base}
	ctx := context.Background()
	a := newLease(t, st, "a", 3*time.Second)
	if ok, err := a.TryAcquire(ctx); !ok || err != nil {
		t.Fatalf("acquire: %v %v", ok, err)
	}
	st.n.Store(1)
	if err := a.Renew(ctx, json.RawMessage(`{"n":1}`)); err == nil {
		t.Fatal("a lost answer was not reported")
	}
	if err := a.Renew(ctx, json.RawMessage(`{"n":1}`)); err != nil {
		t.Fatalf("retry of a renewal that was written: %v", err)
	}
	if !a.Held() || a.Epoch() != 2 {
		t.Fatalf("held %v at epoch %d, want epoch 2", a.Held(), a.Epoch())
	}
	// b writes epoch 3 behind a's back (as after a's expiry): a's renewal
	// of epoch 3 is refused, not taken for its own.
	b := newLease(t, base, "b", 3*time.Second)
	raw, _ := json.Marshal(lease.Record{Holder: "b", Expires: time.Now().Add(time.Minute)})
	if _, err := base.Put(ctx, storage.LeaseKey("webhooks", 3), strings.NewReader(string(raw)), int64(len(raw)), storage.PutOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := a.Renew(ctx, nil); !errors.Is(err, lease.ErrLost) {
		t.Fatalf("a renewed over b's epoch: %v", err)
	}
	if ok, _ := b.TryAcquire(ctx); !ok {
		t.Fatal("b could not take back its own unexpired epoch")
	}
}

// A node that finds the lease taken is shown the holder's state.
func TestObserveHolderState(t *testing.T) {
	st, err := fs.New(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	ctx := context.Background()
	a := newLease(t, st, "a", 3*time.Second)
	var seen []string
	b, err := lease.New(lease.Config{Store: st, Name: "webhooks", Holder: "b", TTL: 3 * time.Second, Skew: 100 * time.Millisecond,
		Log: slog.New(slog.DiscardHandler), Observe: func(s json.RawMessage) { seen = append(seen, string(s)) }})
	if err != nil {
		t.Fatal(err)
	}
	if ok, err := a.TryAcquire(ctx); !ok || err != nil {
		t.Fatal(ok, err)
	}
	if err := a.Renew(ctx, json.RawMessage(`{"hooks":{"wh_1":17}}`)); err != nil {
		t.Fatal(err)
	}
	if ok, _ := b.TryAcquire(ctx); ok {
		t.Fatal("b took a live lease")
	}
	if len(seen) != 1 || seen[0] != `{"hooks":{"wh_1":17}}` {
		t.Fatalf("b observed %q", seen)
	}
}
