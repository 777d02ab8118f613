package main

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// publish measures 5: create a release, upload a 1 KiB artifact, seal,
// from cfg.publishConc clients; cfg.publish publishes per run.
func (b *bench) publish(ctx context.Context) error {
	const product = "small"
	if err := api(ctx, http.MethodPost, b.relURL+"/api/v1/products", map[string]any{"name": product}, http.StatusCreated, nil); err != nil {
		return err
	}
	for run := range b.cfg.runs {
		stopProf := b.profile("publish", run)
		d, err := b.publishN(ctx, product, fmt.Sprintf("%d", 10+run), b.cfg.publish)
		stopProf()
		if err != nil {
			return err
		}
		rate := float64(b.cfg.publish) / d.Seconds()
		b.add("publish", rate)
		b.logf("publish run %d: %d releases in %s: %.1f/s", run, b.cfg.publish, d.Round(time.Millisecond), rate)
	}
	return nil
}

func (b *bench) publishN(ctx context.Context, product, major string, n int) (time.Duration, error) {
	var next atomic.Int64
	var wg sync.WaitGroup
	errs := make([]error, b.cfg.publishConc)
	start := time.Now()
	for w := range b.cfg.publishConc {
		wg.Go(func() {
			for {
				k := int(next.Add(1)) - 1
				if k >= n {
					return
				}
				v := fmt.Sprintf("%s.%d.%d", major, k/100, k%100)
				rel := b.relURL + "/api/v1/products/" + product + "/releases"
				if err := api(ctx, http.MethodPost, rel, map[string]any{"version": v, "change_id": "BENCH-5"}, http.StatusCreated, nil); err != nil {
					errs[w] = err
					return
				}
				if err := putArtifact(ctx, b.relURL, product, v, "small.bin", uint64(1_000_000+k), 1024); err != nil {
					errs[w] = err
					return
				}
				if err := api(ctx, http.MethodPost, rel+"/"+v+"/seal", nil, http.StatusOK, nil); err != nil {
					errs[w] = err
					return
				}
				b.published.Add(1)
			}
		})
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return 0, err
		}
	}
	return time.Since(start), nil
}

var rebuiltRe = regexp.MustCompile(`from (\d+) events in \S+ \(([\d.]+) events/s\)`)

// rebuild measures 7: once the journal (at least cfg.rebuildEvents
// events; a scripted history of publishes tops it up) is mirrored to the
// bucket, `reliquary index rebuild --from-bucket` builds a fresh index
// from it.
func (b *bench) rebuild(ctx context.Context) error {
	const product = "history"
	if b.published.Load()*3 < int64(b.cfg.rebuildEvents) {
		if err := api(ctx, http.MethodPost, b.relURL+"/api/v1/products", map[string]any{"name": product}, http.StatusCreated, nil); err != nil {
			return err
		}
		missing := (int64(b.cfg.rebuildEvents) - b.published.Load()*3 + 2) / 3
		if _, err := b.publishN(ctx, product, "1", int(missing)); err != nil {
			return err
		}
	}
	if err := waitMirror(ctx, b.relURL); err != nil {
		return err
	}
	for run := range b.cfg.runs {
		out := filepath.Join(b.dir, fmt.Sprintf("rebuilt-%d.db", run))
		cmd := exec.CommandContext(ctx, b.relBin, "index", "rebuild", "--from-bucket", "--out", out,
			"--data-dir", filepath.Join(b.dir, "rebuild-data"),
			"--storage", "s3", "--s3-endpoint", b.minioAddr, "--s3-bucket", b.bucket, "--s3-access-key", minioUser, "--s3-insecure")
		cmd.Env = append(os.Environ(), "RELIQUARY_S3_SECRET_KEY="+minioSecret)
		var outB []byte
		minioCPU, busy := cpuSeconds(b.minio.pid()), machineBusy()
		d, err := timed(func() (err error) { outB, err = cmd.CombinedOutput(); return err })
		if err != nil {
			return fmt.Errorf("index rebuild: %w: %s", err, outB)
		}
		minioCPU = cpuSeconds(b.minio.pid()) - minioCPU
		cliCPU := (cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()).Seconds()
		m := rebuiltRe.FindSubmatch(outB)
		if m == nil {
			return fmt.Errorf("index rebuild: unexpected output %q", outB)
		}
		events, _ := strconv.Atoi(string(m[1]))
		rate, _ := strconv.ParseFloat(string(m[2]), 64)
		b.rebuildEvents = events
		if events > 0 {
			b.add("rebuild/cpu/minio", 1000*minioCPU/float64(events))
			b.add("rebuild/cpu/cli", 1000*cliCPU/float64(events))
			b.add("rebuild/cpu/other", 1000*max(0, machineBusy()-busy-minioCPU-cliCPU)/float64(events))
		}
		b.add("rebuild", rate)
		b.add("rebuild/wall", float64(events)/d.Seconds())
		b.logf("rebuild run %d: %d events, %.0f events/s (%.0f/s with process start)", run, events, rate, float64(events)/d.Seconds())
		os.Remove(out)
	}
	return nil
}
