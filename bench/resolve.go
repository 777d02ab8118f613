package main

import (
	"bufio"
	"context"
	"fmt"
	"net/http"
	"net/url"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/reliquary/reliquary/internal/index"
	"github.com/reliquary/reliquary/internal/library"
)

// populate writes n released releases of product "big" (versions
// i/1000 . i/10%100 . i%10, one linux/amd64 artifact each) straight into a
// new index file, through internal/index, in journaled batches: what the
// service would hold after n publishes, in seconds instead of hours.
func populate(indexPath string, n int) error {
	ix, err := index.Open(indexPath, index.Options{})
	if err != nil {
		return err
	}
	now := time.Now().UTC()
	const batch = 5000
	for start := 0; start < n; start += batch {
		err := ix.Update(func(tx library.WriteTx) error {
			if start == 0 {
				p := &library.Product{Name: "big", Policy: library.DefaultPolicy(), CreatedAt: now}
				if err := tx.PutProduct(p); err != nil {
					return err
				}
			}
			for i := start; i < min(n, start+batch); i++ {
				v := fmt.Sprintf("%d.%d.%d", i/1000, i/10%100, i%10)
				r := &library.Release{Product: "big", Version: v, State: library.StateReleased, ChangeID: "BENCH-4", CreatedAt: now}
				if err := tx.PutRelease(r); err != nil {
					return err
				}
				a := &library.Artifact{Name: "big.tar.gz", Size: 1 << 20, SHA256: strings.Repeat("ab", 32),
					MediaType: "application/gzip", OS: "linux", Arch: "amd64", UploadedBy: "bench", UploadedAt: now}
				if err := tx.PutArtifact("big", v, a); err != nil {
					return err
				}
			}
			_, err := tx.Record(library.Event{Time: now, Actor: "bench", Type: "bench.populate", Subject: "big",
				Data: map[string]any{"from": start, "to": min(n, start+batch)}})
			return err
		})
		if err != nil {
			ix.Close()
			return fmt.Errorf("populate: %w", err)
		}
	}
	return ix.Close()
}

// resolveConstraints are the constraints resolved in turn (those of
// BenchmarkResolve100k); a small BENCH_RELEASES uses ones it can match.
func resolveConstraints(n int) []string {
	if n >= 10_000 {
		return []string{"^1", "~7.3", "", ">=5, <50"}
	}
	return []string{"^0", "~0.3", "", ">=0.2, <1"}
}

// load sends GETs to the URLs (round robin) from conc clients for d and
// returns the sorted latencies and the request rate.
func load(ctx context.Context, urls []string, auth bool, conc int, d time.Duration) ([]time.Duration, float64, error) {
	var mu sync.Mutex
	var all []time.Duration
	var firstErr error
	var wg sync.WaitGroup
	start := time.Now()
	deadline := start.Add(d)
	for w := range conc {
		wg.Go(func() {
			lat := make([]time.Duration, 0, 1<<14)
			for i := w; time.Now().Before(deadline); i++ {
				t0 := time.Now()
				_, err := getBody(ctx, urls[i%len(urls)], auth, http.StatusOK)
				if err != nil {
					mu.Lock()
					firstErr = err
					mu.Unlock()
					return
				}
				lat = append(lat, time.Since(t0))
			}
			mu.Lock()
			all = append(all, lat...)
			mu.Unlock()
		})
	}
	wg.Wait()
	el := time.Since(start)
	slices.Sort(all)
	return all, float64(len(all)) / el.Seconds(), firstErr
}

func pct(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	return sorted[min(len(sorted)-1, int(float64(len(sorted))*p))]
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// resolve measures 4 on its own server whose index holds cfg.releases
// releases of one product.
func (b *bench) resolve(ctx context.Context) error {
	name := "resolve"
	data := filepath.Join(b.dir, name+"-data")
	if err := mkdir(data); err != nil {
		return err
	}
	d, err := timed(func() error { return populate(filepath.Join(data, "index.db"), b.cfg.releases) })
	if err != nil {
		return err
	}
	b.logf("populated %d releases in %s", b.cfg.releases, d.Round(time.Millisecond))
	if err := b.makeBucket(ctx, "resolve"); err != nil {
		return err
	}
	srv, base, err := startReliquary(b.dir, name, b.relBin, b.minioAddr, "resolve", b.pprofEnv()...)
	if err != nil {
		return err
	}
	defer srv.stop()
	if err := waitMirror(ctx, base); err != nil {
		return err
	}
	var resolveURLs []string
	for _, c := range resolveConstraints(b.cfg.releases) {
		resolveURLs = append(resolveURLs, base+"/api/v1/products/big/resolve?os=linux&arch=amd64&constraint="+url.QueryEscape(c))
	}
	// Correctness first: newest matching release.
	var res struct {
		Release struct{ Version string } `json:"release"`
	}
	if err := api(ctx, http.MethodGet, resolveURLs[0], nil, http.StatusOK, &res); err != nil {
		return err
	}
	if want := "1.99.9"; b.cfg.releases >= 10_000 && res.Release.Version != want {
		return fmt.Errorf("resolve ^1 = %s, want %s", res.Release.Version, want)
	}
	healthURLs := []string{base + "/healthz"}
	// Warm up connections and caches.
	if _, _, err := load(ctx, resolveURLs, true, b.cfg.resolveConc, 300*time.Millisecond); err != nil {
		return err
	}
	before, err := scrapeHistogram(ctx, base, "/api/v1/products/:product/resolve")
	if err != nil {
		return err
	}
	dur := b.cfg.resolveDur
	for run := range b.cfg.runs {
		for _, ep := range []struct {
			name string
			urls []string
			auth bool
		}{{"healthz", healthURLs, false}, {"resolve", resolveURLs, true}} {
			lat, _, err := load(ctx, ep.urls, ep.auth, 1, dur)
			if err != nil {
				return err
			}
			b.add(ep.name+"/p50", ms(pct(lat, 0.50)))
			b.add(ep.name+"/p99", ms(pct(lat, 0.99)))
			stopProf := b.profile("resolve-"+ep.name, run)
			latC, rps, err := load(ctx, ep.urls, ep.auth, b.cfg.resolveConc, dur)
			stopProf()
			if err != nil {
				return err
			}
			b.add(ep.name+"/rps", rps)
			b.add(ep.name+"/p99c", ms(pct(latC, 0.99)))
			b.logf("%-8s run %d: 1 client p50 %.3f ms p99 %.3f ms; %d clients %.0f req/s p99 %.3f ms",
				ep.name, run, ms(pct(lat, 0.5)), ms(pct(lat, 0.99)), b.cfg.resolveConc, rps, ms(pct(latC, 0.99)))
		}
	}
	after, err := scrapeHistogram(ctx, base, "/api/v1/products/:product/resolve")
	if err != nil {
		return err
	}
	total := after["+Inf"] - before["+Inf"]
	if total > 0 {
		b.serverLE2ms = (after["0.002"] - before["0.002"]) / total
		b.serverLE05ms = (after["0.0005"] - before["0.0005"]) / total
		b.serverCount = total
	}
	return nil
}

// scrapeHistogram returns the cumulative bucket counts (by le) of
// reliquary_http_request_duration_seconds for GET route.
func scrapeHistogram(ctx context.Context, base, route string) (map[string]float64, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+"/metrics", nil)
	if err != nil {
		return nil, err
	}
	resp, err := hc.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	out := map[string]float64{}
	prefix := "reliquary_http_request_duration_seconds_bucket{"
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, prefix) || !strings.Contains(line, `route="`+route+`"`) || !strings.Contains(line, `method="GET"`) {
			continue
		}
		i := strings.Index(line, `le="`)
		j := strings.LastIndexByte(line, ' ')
		if i < 0 || j < 0 {
			continue
		}
		le := line[i+4:]
		le = le[:strings.IndexByte(le, '"')]
		v, err := strconv.ParseFloat(line[j+1:], 64)
		if err == nil {
			out[le] = v
		}
	}
	return out, sc.Err()
}

// waitMirror waits until the journal mirror has copied every event.
func waitMirror(ctx context.Context, base string) error {
	deadline := time.Now().Add(5 * time.Minute)
	for time.Now().Before(deadline) {
		lag, err := metricValue(ctx, base, "reliquary_journal_mirror_lag_events")
		if err != nil {
			return err
		}
		if lag == 0 {
			return nil
		}
		time.Sleep(200 * time.Millisecond)
	}
	return fmt.Errorf("journal mirror of %s still lagging after 5 minutes", base)
}

func metricValue(ctx context.Context, base, name string) (float64, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+"/metrics", nil)
	if err != nil {
		return 0, err
	}
	resp, err := hc.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), name+" "); ok {
			return strconv.ParseFloat(strings.TrimSpace(v), 64)
		}
	}
	return 0, fmt.Errorf("metric %s not found at %s/metrics", name, base)
}
