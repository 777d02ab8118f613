package library_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/reliquary/reliquary/internal/index"
	"github.com/reliquary/reliquary/internal/library"
	"github.com/reliquary/reliquary/storage/fs"
)

// BenchmarkRetention100k: a retention run over one product of 100,000
// releases (90% of them drafts due for deletion) on a real bbolt file and
// the filesystem store. It reports the dry run's and the real run's time
// and the process's peak RSS during the runs (VmHWM, reset after seeding).
//
//	go test -run '^$' -bench Retention100k -benchtime 1x ./internal/library/
func BenchmarkRetention100k(b *testing.B) {
	const releases = 100_000
	for range b.N {
		b.StopTimer()
		dir := b.TempDir()
		ix, err := index.Open(filepath.Join(dir, "index.db"), index.Options{})
		if err != nil {
			b.Fatal(err)
		}
		store, err := fs.New(filepath.Join(dir, "blobs"))
		if err != nil {
			b.Fatal(err)
		}
		now := time.Date(2026, 11, 30, 0, 0, 0, 0, time.UTC)
		lib := library.New(library.Config{Repo: ix, Store: store, Now: func() time.Time { return now }})
		seedReleases(b, ix, releases, now)
		runtime.GC()
		resetPeakRSS(b)

		heap := sampleHeap()
		b.StartTimer()
		start := time.Now()
		admin := library.Principal{Name: "bench", Role: library.RoleAdmin}
		dry, err := lib.RunRetention(context.Background(), admin, true)
		if err != nil {
			b.Fatal(err)
		}
		dryTime := time.Since(start)
		start = time.Now()
		real, err := lib.RunRetention(context.Background(), admin, false)
		if err != nil {
			b.Fatal(err)
		}
		realTime := time.Since(start)
		b.StopTimer()
		if len(real.Deleted) != len(dry.Deleted) || len(real.Deleted) != releases*9/10 {
			b.Fatalf("deleted %d (dry run %d), want %d", len(real.Deleted), len(dry.Deleted), releases*9/10)
		}
		b.ReportMetric(dryTime.Seconds(), "dry-run-s")
		b.ReportMetric(realTime.Seconds(), "run-s")
		b.ReportMetric(float64(len(real.Deleted))/realTime.Seconds(), "deletions/s")
		b.ReportMetric(float64(peakRSS(b))/(1<<20), "peak-RSS-MiB")
		b.ReportMetric(float64(heap())/(1<<20), "peak-heap-MiB")
		if st, err := os.Stat(filepath.Join(dir, "index.db")); err == nil {
			b.ReportMetric(float64(st.Size())/(1<<20), "index-file-MiB")
		}
		ix.Close()
		store.Close()
	}
}

// seedReleases writes n drafts of product "big" straight into the index,
// 1,000 per transaction, each with its journal event; every tenth is new,
// the rest ten days old (retention: drafts_days 7).
func seedReleases(b *testing.B, ix *index.Index, n int, now time.Time) {
	b.Helper()
	old := now.Add(-10 * 24 * time.Hour)
	p := &library.Product{Name: "big", Policy: library.DefaultPolicy(), CreatedAt: old}
	p.Policy.Retention = &library.RetentionPolicy{DraftsDays: 7}
	err := ix.Update(func(tx library.WriteTx) error {
		if err := tx.PutProduct(p); err != nil {
			return err
		}
		_, err := tx.Record(library.Event{Time: old, Actor: "bench", Type: library.EvProductCreated, Subject: "big"})
		return err
	})
	if err != nil {
		b.Fatal(err)
	}
	for first := 0; first < n; first += 1000 {
		err := ix.Update(func(tx library.WriteTx) error {
			for i := first; i < min(first+1000, n); i++ {
				v := fmt.Sprintf("%d.%d.%d", i/10000, i/100%100, i%100)
				created := old
				if i%10 == 0 {
					created = now.Add(-time.Hour)
				}
				sv, err := library.ParseVersion(v)
				if err != nil {
					return err
				}
				r := &library.Release{Product: "big", Version: v, Type: library.TypeOf(sv), State: library.StateDraft,
					CreatedBy: "ci", CreatedAt: created, CIIDs: []string{}, Labels: map[string]string{}, Approvals: []library.Approval{}, History: []library.Transition{}}
				if err := tx.PutRelease(r); err != nil {
					return err
				}
				if _, err := tx.Record(library.Event{Time: created, Actor: "ci", Type: library.EvReleaseCreated, Subject: "big@" + v}); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			b.Fatal(err)
		}
	}
}

// sampleHeap samples the Go heap in use every 5 ms until the returned
// function is called, which answers the highest sample.
func sampleHeap() func() uint64 {
	stop := make(chan struct{})
	done := make(chan uint64)
	go func() {
		var peak uint64
		var ms runtime.MemStats
		t := time.NewTicker(5 * time.Millisecond)
		defer t.Stop()
		for {
			runtime.ReadMemStats(&ms)
			peak = max(peak, ms.HeapInuse)
			select {
			case <-stop:
				done <- peak
				return
			case <-t.C:
			}
		}
	}()
	return func() uint64 { close(stop); return <-done }
}

// resetPeakRSS resets the kernel's peak RSS (VmHWM) of this process.
func resetPeakRSS(b *testing.B) {
	if err := os.WriteFile("/proc/self/clear_refs", []byte("5"), 0); err != nil {
		b.Skipf("cannot reset VmHWM: %v", err)
	}
}

// peakRSS is VmHWM in bytes.
func peakRSS(b *testing.B) int64 {
	raw, err := os.ReadFile("/proc/self/status")
	if err != nil {
		b.Fatal(err)
	}
	for _, line := range strings.Split(string(raw), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 10, 64)
			if err != nil {
				b.Fatal(err)
			}
			return kb << 10
		}
	}
	b.Fatal("no VmHWM in /proc/self/status")
	return 0
}
