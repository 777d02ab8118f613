package main

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/http"
	"path/filepath"
	"time"

	"github.com/reliquary/reliquary/internal/index"
	"github.com/reliquary/reliquary/internal/library"
)

// logEvents is the journal length of scenario 8.
const logEvents = 100_000

// populateLog writes n journal events straight into a new index file,
// through internal/index (the signed log's tree grows with them), and
// marks them mirrored so the server does not copy them to the bucket. It
// returns the time per event, batches of 2,000 events a transaction.
func populateLog(indexPath string, n int) (time.Duration, error) {
	ix, err := index.Open(indexPath, index.Options{})
	if err != nil {
		return 0, err
	}
	now := time.Now().UTC()
	const batch = 2000
	start := time.Now()
	for from := 0; from < n; from += batch {
		err := ix.Update(func(tx library.WriteTx) error {
			for i := from; i < min(n, from+batch); i++ {
				if _, err := tx.Record(library.Event{Time: now, Actor: "bench", Type: "bench.log", Subject: "log",
					Data: map[string]any{"i": i}}); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			ix.Close()
			return 0, fmt.Errorf("populate log: %w", err)
		}
	}
	per := time.Since(start) / time.Duration(n)
	head, _, err := ix.Head()
	if err == nil {
		err = ix.SetMirrorCursor(head)
	}
	if err == nil {
		err = ix.SetSegmentCursor(head)
	}
	if err != nil {
		ix.Close()
		return 0, err
	}
	return per, ix.Close()
}

// signedLog measures 8: inclusion and consistency proofs and checkpoints
// served over HTTP from a log of 100,000 events, against GET /healthz from
// the same server in the same run.
func (b *bench) signedLog(ctx context.Context) error {
	name := "log"
	data := filepath.Join(b.dir, name+"-data")
	if err := mkdir(data); err != nil {
		return err
	}
	per, err := populateLog(filepath.Join(data, "index.db"), logEvents)
	if err != nil {
		return err
	}
	b.add("log/populate", float64(per)/float64(time.Microsecond))
	b.logf("populated %d events, %s per event (batches of 2,000)", logEvents, per)
	if err := b.makeBucket(ctx, name); err != nil {
		return err
	}
	srv, base, err := startReliquary(b.dir, name, b.relBin, b.minioAddr, name, b.pprofEnv()...)
	if err != nil {
		return err
	}
	defer srv.stop()
	rng := rand.New(rand.NewPCG(8, 8))
	var incl, cons []string
	for range 256 {
		incl = append(incl, fmt.Sprintf("%s/api/v1/log/proof/inclusion?seq=%d&size=%d", base, 1+rng.IntN(logEvents), logEvents))
		cons = append(cons, fmt.Sprintf("%s/api/v1/log/proof/consistency?from=%d&to=%d", base, 1+rng.IntN(logEvents-1), logEvents))
	}
	if err := api(ctx, http.MethodGet, incl[0], nil, http.StatusOK, nil); err != nil {
		return err
	}
	eps := []struct {
		name string
		urls []string
		auth bool
	}{{"log/healthz", []string{base + "/healthz"}, false}, {"log/inclusion", incl, true},
		{"log/consistency", cons, true}, {"log/checkpoint", []string{base + "/api/v1/log/checkpoint"}, true}}
	if _, _, err := load(ctx, incl, true, 1, 300*time.Millisecond); err != nil { // warm up
		return err
	}
	for run := range b.cfg.runs {
		for _, ep := range eps {
			lat, _, err := load(ctx, ep.urls, ep.auth, 1, b.cfg.resolveDur)
			if err != nil {
				return err
			}
			b.add(ep.name+"/p50", ms(pct(lat, 0.50)))
			b.add(ep.name+"/p99", ms(pct(lat, 0.99)))
			b.logf("%-16s run %d: 1 client p50 %.3f ms p99 %.3f ms", ep.name, run, ms(pct(lat, 0.5)), ms(pct(lat, 0.99)))
		}
	}
	return nil
}

// reportLog writes scenario 8's rows.
func (b *bench) reportLog(p func(format string, args ...any)) {
	if len(b.samples["log/inclusion/p50"]) == 0 {
		return
	}
	p("| 8 | journal of 100,000 events written through the index (event + signed log, batches of 2,000), µs per event | %s | | |", b.fig("log/populate", "%.1f"))
	for _, r := range []struct{ key, what string }{
		{"log/inclusion", "inclusion proof (random seq, size 100,000)"},
		{"log/consistency", "consistency proof (random size → 100,000)"},
		{"log/checkpoint", "signed checkpoint (re-signed at most once a second)"},
	} {
		p("| 8 | %s, 1 client: p50 / p99 latency, ms | %s / %s | `GET /healthz` %s / %s | p99 %s× `/healthz` |", r.what,
			b.fig(r.key+"/p50", "%.3f"), b.fig(r.key+"/p99", "%.3f"), b.fig("log/healthz/p50", "%.3f"), b.fig("log/healthz/p99", "%.3f"),
			b.ratio(r.key+"/p99", "log/healthz/p99", 0))
	}
}
