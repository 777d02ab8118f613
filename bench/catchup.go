package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/reliquary/reliquary/internal/index"
	"github.com/reliquary/reliquary/internal/journal"
	"github.com/reliquary/reliquary/internal/library"
	"github.com/reliquary/reliquary/internal/signing"
	"github.com/reliquary/reliquary/internal/snapshot"
	"github.com/reliquary/reliquary/storage"
	"github.com/reliquary/reliquary/storage/s3"
)

// catchUp measures 10 (DESIGN §6, §9): a new node — `reliquary serve` on
// an empty data dir holding only the library's key — over a bucket whose
// journal holds BENCH_CATCHUP_EVENTS events (default 200,000: one release
// with one artifact each, as segments of 1,000, the way the mirror leaves
// them) and a signed index snapshot 5,000 events behind the head (half
// the writer's default interval of 10,000). Timed from the process start
// to /readyz answering 200; the rate is the journal's events over that
// time. A last run from the same bucket without its snapshot (replay from
// seq 1) is the baseline.
func (b *bench) catchUp(ctx context.Context) error {
	n := envInt("BENCH_CATCHUP_EVENTS", 200_000)
	tailN := min(n/2, 5000)
	name := "catchup"
	src := filepath.Join(b.dir, name+"-src")
	if err := mkdir(src); err != nil {
		return err
	}
	signer, err := signing.Load(ctx, signing.Config{DataDir: src})
	if err != nil {
		return err
	}
	if err := b.makeBucket(ctx, name); err != nil {
		return err
	}
	store, err := s3.New(s3.Config{Endpoint: b.minioAddr, Bucket: name, AccessKey: minioUser, SecretKey: minioSecret, Insecure: true})
	if err != nil {
		return err
	}
	t0 := time.Now()
	ix, err := index.Open(filepath.Join(src, "index.db"), index.Options{})
	if err != nil {
		return err
	}
	defer ix.Close()
	if err := fillCatchUp(ix, 0, n-tailN); err != nil {
		return err
	}
	snap, err := ix.WriteClusterSnapshot()
	if err != nil {
		return err
	}
	defer os.Remove(snap.Path)
	if err := fillCatchUp(ix, n-tailN, n); err != nil {
		return err
	}
	if err := uploadJournal(ctx, store, ix, uint64(n)); err != nil {
		return err
	}
	if seq, err := snapshot.Publish(ctx, store, signer, snap); err != nil || seq == 0 {
		return fmt.Errorf("publish the snapshot: %d %w", seq, err)
	}
	st, _ := os.Stat(snap.Path)
	b.logf("catch-up: %d events in the bucket, snapshot at %d (%d MiB), prepared in %s", n, snap.Seq, st.Size()>>20, time.Since(t0).Round(time.Second))
	key, err := os.ReadFile(filepath.Join(src, signing.DefaultKeyFile))
	if err != nil {
		return err
	}
	node := func(label string) (float64, error) {
		data := filepath.Join(b.dir, label+"-data")
		if err := mkdir(data); err != nil {
			return 0, err
		}
		if err := os.WriteFile(filepath.Join(data, signing.DefaultKeyFile), key, 0o600); err != nil {
			return 0, err
		}
		start := time.Now()
		p, base, err := startReliquary(b.dir, label, b.relBin, b.minioAddr, name, b.pprofEnv()...)
		if err != nil {
			return 0, err
		}
		d := time.Since(start)
		defer p.stop()
		var evs struct {
			Events []struct {
				Seq uint64 `json:"seq"`
			} `json:"events"`
		}
		if err := api(ctx, http.MethodGet, fmt.Sprintf("%s/api/v1/events?after=%d&limit=1", base, n-1), nil, http.StatusOK, &evs); err != nil {
			return 0, err
		}
		if len(evs.Events) != 1 || evs.Events[0].Seq != uint64(n) {
			return 0, fmt.Errorf("%s: event %d after catching up: %+v", label, n, evs.Events)
		}
		return float64(n) / d.Seconds(), nil
	}
	for run := range b.cfg.runs {
		rate, err := node(fmt.Sprintf("catchup-%d", run))
		if err != nil {
			return err
		}
		b.add("catchup", rate)
		b.logf("catch-up run %d: %.0f events/s (snapshot + %d-event tail, process start included)", run, rate, tailN)
	}
	for _, k := range []string{storage.SnapshotSigKey(snap.Seq), storage.SnapshotKey(snap.Seq)} {
		if err := store.Delete(ctx, k); err != nil {
			return err
		}
	}
	rate, err := node("catchup-scratch")
	if err != nil {
		return err
	}
	b.add("catchup/scratch", rate)
	b.logf("catch-up without a snapshot: %.0f events/s", rate)
	return nil
}

// fillCatchUp brings the index's journal from event from to event to:
// event 1 creates product "big", each later one a release with its
// artifact.
func fillCatchUp(ix *index.Index, from, to int) error {
	now := time.Now().UTC()
	if from == 0 {
		err := ix.Update(func(tx library.WriteTx) error {
			if err := tx.PutProduct(&library.Product{Name: "big", Policy: library.DefaultPolicy()}); err != nil {
				return err
			}
			_, err := tx.Record(library.Event{Time: now, Actor: "bench", Type: "product.created", Subject: "big"})
			return err
		})
		if err != nil {
			return fmt.Errorf("fill: %w", err)
		}
		from = 1
	}
	for start := from; start < to; start += 2000 {
		err := ix.Update(func(tx library.WriteTx) error {
			for i := start; i < min(to, start+2000); i++ {
				v := fmt.Sprintf("%d.%d.%d", i/1000, i/10%100, i%10)
				if err := tx.PutRelease(&library.Release{Product: "big", Version: v, State: library.StateReleased, CreatedAt: now}); err != nil {
					return err
				}
				if err := tx.PutArtifact("big", v, &library.Artifact{Name: "big.tar.gz", Size: 1, SHA256: "00", OS: "linux", Arch: "amd64"}); err != nil {
					return err
				}
				if _, err := tx.Record(library.Event{Time: now, Actor: "bench", Type: "release.created", Subject: "big@" + v}); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			return fmt.Errorf("fill: %w", err)
		}
	}
	return nil
}

// uploadJournal writes the index's events 1..n to the bucket as the mirror
// leaves them: segments of journal.SegmentSize, and single objects for the
// events after the last whole segment. Four uploads at a time.
func uploadJournal(ctx context.Context, store storage.BlobStore, ix *index.Index, n uint64) error {
	jobs := make(chan uint64)
	errs := make(chan error, 4)
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for first := range jobs {
				evs, err := ix.EventsAfter(first-1, journal.SegmentSize)
				if err == nil && len(evs) != journal.SegmentSize {
					err = fmt.Errorf("segment from %d: %d events", first, len(evs))
				}
				var buf bytes.Buffer
				for _, e := range evs {
					raw, merr := json.Marshal(e)
					if merr != nil {
						err = merr
						break
					}
					buf.Write(raw)
					buf.WriteByte('\n')
				}
				if err == nil {
					_, err = store.Put(ctx, storage.JournalSegmentKey(first, first+journal.SegmentSize-1), bytes.NewReader(buf.Bytes()),
						int64(buf.Len()), storage.PutOptions{ContentType: "application/x-ndjson"})
				}
				if err != nil {
					select {
					case errs <- err:
					default:
					}
				}
			}
		})
	}
	var covered uint64
	for ; covered+journal.SegmentSize <= n; covered += journal.SegmentSize {
		jobs <- covered + 1
	}
	close(jobs)
	wg.Wait()
	select {
	case err := <-errs:
		return err
	default:
	}
	evs, err := ix.EventsAfter(covered, int(n-covered))
	if err != nil {
		return err
	}
	for _, e := range evs {
		raw, err := json.Marshal(e)
		if err != nil {
			return err
		}
		if _, err := store.Put(ctx, storage.JournalKey(e.Seq), bytes.NewReader(raw), int64(len(raw)), storage.PutOptions{ContentType: "application/json"}); err != nil && !errors.Is(err, storage.ErrExists) {
			return err
		}
	}
	return nil
}

// reportCatchUp is row 12 of the table.
func (b *bench) reportCatchUp(p func(string, ...any)) {
	verdictCU := "—"
	if v, ok := b.med("catchup"); ok {
		verdictCU = fmt.Sprintf("target ≥ 20,000: %s", verdict(v >= 20000))
	}
	n := envInt("BENCH_CATCHUP_EVENTS", 200_000)
	p("| 12 | catch-up of a new node (`serve` on an empty data dir → `/readyz` 200, process start included), %d events, snapshot %d behind the head, events/s | %s | from seq 1 without the snapshot %s | %s |",
		n, min(n/2, 5000), b.fig("catchup", "%.0f"), b.fig("catchup/scratch", "%.0f"), verdictCU)
}
