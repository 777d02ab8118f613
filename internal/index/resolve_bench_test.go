package index

import (
	"fmt"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/reliquary/reliquary/internal/library"
)

// fillReleased writes n released releases (versions i/1000 . i/10%100 .
// i%10), each with one linux/amd64 artifact, straight into the index.
func fillReleased(tb testing.TB, n int) *library.Service {
	tb.Helper()
	return library.New(library.Config{Repo: fillReleasedIndex(tb, n)})
}

// fillReleasedIndex is fillReleased's index.
func fillReleasedIndex(tb testing.TB, n int) *Index {
	tb.Helper()
	ix, err := Open(filepath.Join(tb.TempDir(), "index.db"), Options{})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { ix.Close() })
	now := time.Now()
	for start := 0; start < n; start += 5000 {
		err := ix.Update(func(tx library.WriteTx) error {
			if start == 0 {
				if err := tx.PutProduct(&library.Product{Name: "big", Policy: library.DefaultPolicy()}); err != nil {
					return err
				}
			}
			for i := start; i < min(n, start+5000); i++ {
				v := fmt.Sprintf("%d.%d.%d", i/1000, i/10%100, i%10)
				if err := tx.PutRelease(&library.Release{Product: "big", Version: v, State: library.StateReleased, CreatedAt: now}); err != nil {
					return err
				}
				if err := tx.PutArtifact("big", v, &library.Artifact{Name: "big.tar.gz", Size: 1, SHA256: "00", OS: "linux", Arch: "amd64"}); err != nil {
					return err
				}
			}
			_, err := tx.Record(library.Event{Time: now, Actor: "bench", Type: "bench.fill", Subject: "big"})
			return err
		})
		if err != nil {
			tb.Fatal(err)
		}
	}
	return ix
}

func TestResolveSeeksIntoTheRange(t *testing.T) {
	lib := fillReleased(t, 20_000)
	for _, c := range []struct{ constraint, want string }{
		{"^1", "1.99.9"}, {"~7.3", "7.3.9"}, {"", "19.99.9"}, {"^0.5", "0.5.9"}, {"1.2.x", "1.2.9"}, {">=3, <4 || ^12", "12.99.9"},
	} {
		res, err := lib.Resolve(t.Context(), "big", library.ResolveRequest{Constraint: c.constraint, OS: "linux", Arch: "amd64"})
		if err != nil || res.Release.Version != c.want {
			t.Errorf("resolve %q = %v, %v; want %s", c.constraint, res, err, c.want)
		}
	}
}

// BenchmarkResolve100k resolves with 100,000 releases in one product and
// reports the latency percentiles (DESIGN.md §6: p99 < 2 ms).
func BenchmarkResolve100k(b *testing.B) {
	lib := fillReleased(b, 100_000)
	for _, constraint := range []string{"^1", "~7.3", "", ">=5, <50"} {
		b.Run(fmt.Sprintf("constraint=%q", constraint), func(b *testing.B) {
			var lat []time.Duration
			for b.Loop() {
				start := time.Now()
				if _, err := lib.Resolve(b.Context(), "big", library.ResolveRequest{Constraint: constraint, OS: "linux", Arch: "amd64"}); err != nil {
					b.Fatal(err)
				}
				lat = append(lat, time.Since(start))
			}
			slices.Sort(lat)
			b.ReportMetric(float64(lat[len(lat)/2].Microseconds()), "p50-µs")
			b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds()), "p99-µs")
		})
	}
}
