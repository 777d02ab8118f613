package app_test

import (
	"fmt"
	"log/slog"
	"slices"
	"testing"
	"time"

	"github.com/reliquary/reliquary/internal/app"
	"github.com/reliquary/reliquary/internal/library"
	"github.com/reliquary/reliquary/internal/testenv"
)

// BenchmarkCommit measures one write's commit on a single node: the
// library's decision, the create-only PUT of its journal object
// (journal/<seq>.json, DESIGN §9) and the bbolt commit. It reports the p50
// and p99 latency per store:
//
//	go test ./internal/app -run '^$' -bench BenchmarkCommit -benchtime 2000x
func BenchmarkCommit(b *testing.B) {
	for name, mk := range map[string]func(testing.TB) storeFactory{"fs": fsCluster, "s3": s3Cluster} {
		b.Run(name, func(b *testing.B) {
			newStore := mk(b)
			a, err := app.New(b.Context(), app.Config{DataDir: b.TempDir(), Store: newStore(b), AdminToken: testenv.AdminSecret,
				Logger: slog.New(slog.DiscardHandler)})
			if err != nil {
				b.Fatal(err)
			}
			defer a.Close()
			admin := library.Principal{Name: "bench", Role: library.RoleAdmin}
			lat := make([]time.Duration, 0, b.N)
			b.ResetTimer()
			for i := range b.N {
				start := time.Now()
				if _, err := a.Lib.CreateProduct(b.Context(), admin, library.ProductInput{Name: fmt.Sprintf("p%d", i)}); err != nil {
					b.Fatal(err)
				}
				lat = append(lat, time.Since(start))
			}
			b.StopTimer()
			slices.Sort(lat)
			p := func(q float64) float64 { return float64(lat[min(len(lat)-1, int(q*float64(len(lat))))].Microseconds()) / 1000 }
			b.ReportMetric(p(0.50), "p50-ms")
			b.ReportMetric(p(0.99), "p99-ms")
		})
	}
}
