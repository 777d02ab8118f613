package ui_test

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/Masterminds/semver/v3"

	"github.com/reliquary/reliquary/internal/library"
	"github.com/reliquary/reliquary/internal/testenv"
)

// populateBig writes n releases of product "big" straight into the index
// (versions i/1000 . i/10%100 . i%10): the newest 20 are candidates, every
// 50th is withdrawn, the rest released with supersession computed by the
// library's own function, each with one artifact.
func populateBig(b testing.TB, srv *testenv.Server, n int) []string {
	b.Helper()
	now := time.Now().UTC()
	versions := make([]string, n)
	var released []*semver.Version
	state := func(i int) library.State {
		switch {
		case i >= n-20:
			return library.StateCandidate
		case i%50 == 49:
			return library.StateWithdrawn
		}
		return library.StateReleased
	}
	for i := range n {
		versions[i] = fmt.Sprintf("%d.%d.%d", i/1000, i/10%100, i%10)
		if state(i) == library.StateReleased {
			v, _ := library.ParseVersion(versions[i])
			released = append(released, v)
		}
	}
	sup := library.Supersession(released, library.DefaultPolicy())
	const batch = 5000
	for start := 0; start < n; start += batch {
		err := srv.Index.Update(func(tx library.WriteTx) error {
			if start == 0 {
				if err := tx.PutProduct(&library.Product{Name: "big", Description: "100,000 releases", Policy: library.DefaultPolicy(), CreatedAt: now}); err != nil {
					return err
				}
			}
			for i := start; i < min(n, start+batch); i++ {
				v := versions[i]
				v0, _ := library.ParseVersion(v)
				r := &library.Release{Product: "big", Version: v, Type: library.TypeOf(v0), State: state(i), ChangeID: "BENCH-" + strconv.Itoa(i),
					CreatedBy: "ci", CreatedAt: now, SealedBy: "ci", SealedAt: &now, SupersededBy: sup[v]}
				if r.State == library.StateWithdrawn {
					r.Withdrawn = &library.Withdrawal{By: "rm", At: now, Reason: "bench"}
				}
				if err := tx.PutRelease(r); err != nil {
					return err
				}
				a := &library.Artifact{Name: "big.tar.gz", Size: 1 << 20, SHA256: strings.Repeat("ab", 32),
					MediaType: "application/gzip", OS: "linux", Arch: "amd64", UploadedBy: "ci", UploadedAt: now}
				if err := tx.PutArtifact("big", v, a); err != nil {
					return err
				}
			}
			_, err := tx.Record(library.Event{Time: now, Actor: "bench", Type: "bench.populate", Subject: "big",
				Data: map[string]any{"from": start, "to": min(n, start+batch)}})
			return err
		})
		if err != nil {
			b.Fatal(err)
		}
	}
	return versions
}

// BenchmarkUIPages measures every page with 100,000 releases in one
// product (DESIGN.md §6: p95 < 100 ms server-side). Each page is fetched
// over loopback HTTP with a signed-in session, so the figure is an upper
// bound of the server's time; it reports p50 and p95 in ms.
//
//	go test ./internal/ui -run '^$' -bench BenchmarkUIPages -benchtime 200x
//
// BENCH_UI_RELEASES changes the number of releases.
func BenchmarkUIPages(b *testing.B) {
	n := 100000
	if v, err := strconv.Atoi(os.Getenv("BENCH_UI_RELEASES")); err == nil && v > 0 {
		n = v
	}
	srv := testenv.StartServer(b, testenv.ServerOptions{})
	versions := populateBig(b, srv, n)
	ctx := context.Background()
	admin, err := srv.Lib.Authenticate(srv.AdminToken)
	if err != nil {
		b.Fatal(err)
	}
	for _, name := range []string{"before", "after"} {
		if _, err := srv.Lib.CreateBaseline(ctx, admin, library.BaselineInput{Name: name, From: "current"}); err != nil {
			b.Fatal(err)
		}
	}
	_, dep, err := srv.Lib.CreateToken(ctx, admin, library.TokenInput{Name: "installer", Role: "deployer"})
	if err != nil {
		b.Fatal(err)
	}
	depPr, _ := srv.Lib.Authenticate(dep)
	// 300 deployment records: the newest events are ordinary ones (each
	// populate batch above is one huge event, which no real history has).
	for i := range 300 {
		v := versions[n-100-i%20*7]
		if _, err := srv.Lib.RecordDeployment(ctx, depPr, library.DeploymentInput{Product: "big", Version: v, Environment: "production",
			Target: fmt.Sprintf("host-%02d", i%20), Status: library.DeploySucceeded, ChangeID: "CHG-1"}); err != nil {
			b.Fatal(err)
		}
	}

	t := &testing.T{}
	c := newFormClient(t, srv.URL)
	_, _, page := c.get("/ui/login")
	form := url.Values{"csrf": {csrfOf(t, page)}, "token": {srv.AdminToken}}
	if status, _, _ := c.post("/ui/login", form, nil); status != http.StatusSeeOther {
		b.Fatalf("sign-in: %d", status)
	}
	mid := versions[n/2]
	pages := []struct{ name, path string }{
		{"products", "/ui/products"},
		{"product", "/ui/products/big"},
		{"product-page-middle", "/ui/products/big?cursor=" + mid},
		{"product-filter-candidate", "/ui/products/big?state=candidate"},
		{"release", "/ui/products/big/releases/" + versions[n-1]},
		{"approvals", "/ui/approvals"},
		{"baselines", "/ui/baselines"},
		{"baseline-diff", "/ui/baselines/before/diff/after"},
		{"environments", "/ui/environments"},
		{"environment", "/ui/environments/production"},
		{"events", "/ui/events"},
	}
	for _, p := range pages {
		b.Run(p.name, func(b *testing.B) {
			times := make([]time.Duration, 0, b.N)
			for b.Loop() {
				start := time.Now()
				status, _, _ := c.get(p.path)
				times = append(times, time.Since(start))
				if status != http.StatusOK {
					b.Fatalf("%s: status %d", p.path, status)
				}
			}
			slices.Sort(times)
			q := func(f float64) float64 {
				return float64(times[min(len(times)-1, int(f*float64(len(times))))]) / float64(time.Millisecond)
			}
			b.ReportMetric(q(0.50), "p50-ms")
			b.ReportMetric(q(0.95), "p95-ms")
		})
	}
}
