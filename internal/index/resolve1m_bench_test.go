package index

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/reliquary/reliquary/internal/library"
)

// BenchmarkResolve1M resolves with 1,000,000 releases in one product (a
// real bbolt file, DESIGN.md §6: p99 < 1 ms server-side) and reports the
// latency percentiles of the library's Resolve, the whole of the server's
// work but the HTTP framing (measured at 0.13 ms p50 for GET /healthz in
// BENCHMARKS.md). Building the index takes about a minute: it runs in
// `make bench-go`, never in `make test`.
func BenchmarkResolve1M(b *testing.B) {
	start := time.Now()
	lib := fillReleased(b, 1_000_000)
	b.Logf("1,000,000 releases written in %s", time.Since(start).Round(time.Second))
	for _, constraint := range []string{"^1", "~7.3", "", ">=5, <50", "^999", "0.0.x"} {
		b.Run(fmt.Sprintf("constraint=%q", constraint), func(b *testing.B) {
			var lat []time.Duration
			for b.Loop() {
				t0 := time.Now()
				if _, err := lib.Resolve(b.Context(), "big", library.ResolveRequest{Constraint: constraint, OS: "linux", Arch: "amd64"}); err != nil {
					b.Fatal(err)
				}
				lat = append(lat, time.Since(t0))
			}
			slices.Sort(lat)
			b.ReportMetric(float64(lat[len(lat)/2].Nanoseconds())/1e3, "p50-µs")
			b.ReportMetric(float64(lat[len(lat)*99/100].Nanoseconds())/1e3, "p99-µs")
		})
	}
}
