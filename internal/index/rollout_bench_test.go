package index

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/reliquary/reliquary/internal/library"
)

// BenchmarkResolve100kRollout resolves with 100,000 releases in one
// product, with a target and rollouts in force (DESIGN.md §14): the
// newest release of every major below 100% (10%, 1,000 pilots, 3
// environments) and the 20 newest releases overall at 10% too, so a
// target outside the rollouts walks past them. Latency percentiles are
// reported per constraint.
func BenchmarkResolve100kRollout(b *testing.B) {
	ix := fillReleasedIndex(b, 100_000)
	lib := library.New(library.Config{Repo: ix})
	pilots := make([]string, library.MaxRolloutPilots)
	for i := range pilots {
		pilots[i] = fmt.Sprintf("pilot-%04d.example.net", i)
	}
	plan := &library.Rollout{Percent: 10, PilotCount: len(pilots), Environments: []string{"canary", "staging", "lab"}, UpdatedAt: time.Now()}
	var versions []string
	for major := range 100 {
		versions = append(versions, fmt.Sprintf("%d.99.9", major))
	}
	for i := 99_980; i < 100_000; i++ {
		versions = append(versions, fmt.Sprintf("%d.%d.%d", i/1000, i/10%100, i%10))
	}
	err := ix.Update(func(tx library.WriteTx) error {
		for _, v := range versions {
			r, err := tx.Release("big", v)
			if err != nil {
				return err
			}
			r.Rollout = plan
			if err := tx.PutRelease(r); err != nil {
				return err
			}
			if err := tx.SetRolloutPilots("big", v, pilots); err != nil {
				return err
			}
		}
		_, err := tx.Record(library.Event{Time: time.Now(), Actor: "bench", Type: "bench.rollout", Subject: "big"})
		return err
	})
	if err != nil {
		b.Fatal(err)
	}
	for _, constraint := range []string{"^1", "~7.3", "", ">=5, <50"} {
		b.Run(fmt.Sprintf("constraint=%q", constraint), func(b *testing.B) {
			var lat []time.Duration
			i := 0
			for b.Loop() {
				i++
				req := library.ResolveRequest{Constraint: constraint, OS: "linux", Arch: "amd64", Target: fmt.Sprintf("host-%d.example.net", i%5000), Environment: "production"}
				start := time.Now()
				if _, err := lib.Resolve(b.Context(), "big", req); err != nil {
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
