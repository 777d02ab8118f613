package main

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Scenarios 10 and 11 (DESIGN §9): nodes of one library on a bucket of
// their own, all with one signing key.
//
//	10: commit latency, one write = PUT /products/{p}/policy, client side:
//	    1 node and 1 client; 3 nodes with one client each writing at once
//	    (the nodes race for the journal's next seq). p50 / p99.
//	11: publish rate (create release + 1 KiB upload + seal), 6 clients:
//	    on 1 node, then spread over 3 nodes (client i → node i mod 3).
//
// A write refused with 503 (a node that lost the race for the next seq too
// often, or lost the bucket) is counted as refused, not timed.
//
// BENCH_COMMITS (default 300) writes per latency run; BENCH_CLUSTER_PUBLISH
// (default 300) publishes per rate run.
func (b *bench) cluster(ctx context.Context) error {
	const bucket = "cluster"
	if err := b.makeBucket(ctx, bucket); err != nil {
		return err
	}
	key := filepath.Join(b.dir, "cluster-signing.pem")
	if err := writeSigningKey(key); err != nil {
		return err
	}
	var nodes []*proc
	var urls []string
	defer func() {
		for _, p := range nodes {
			p.stop()
		}
	}()
	startNode := func() error {
		i := len(nodes)
		p, url, err := startNode(b.dir, fmt.Sprintf("node%d", i), b.relBin, b.minioAddr, bucket, key)
		if err != nil {
			return err
		}
		nodes, urls = append(nodes, p), append(urls, url)
		b.logf("cluster node %d: %s", i, url)
		return nil
	}
	if err := startNode(); err != nil {
		return err
	}
	commits := envInt("BENCH_COMMITS", 300)
	publishes := envInt("BENCH_CLUSTER_PUBLISH", 300)
	const clients = 6

	measure := func(label string, urls []string) error {
		// Every node gets its own products, created through it.
		for i, u := range urls {
			for _, p := range []string{fmt.Sprintf("lat-%s-%d", label, i), fmt.Sprintf("pub-%s-%d", label, i)} {
				if err := api(ctx, http.MethodPost, u+"/api/v1/products", map[string]any{"name": p}, http.StatusCreated, nil); err != nil {
					return err
				}
			}
		}
		if b.want("10") {
			for run := range b.cfg.runs {
				lat, failed, err := commitLatency(ctx, urls, label, commits)
				if err != nil {
					return err
				}
				p50, p99 := ms(pct(lat, 0.50)), ms(pct(lat, 0.99))
				b.add("commit"+label+"/p50", p50)
				b.add("commit"+label+"/p99", p99)
				b.add("commit"+label+"/refused", float64(failed))
				b.logf("commit latency, %s node(s), run %d: %d writes, p50 %.2f ms, p99 %.2f ms; %d refused (503)", label, run, len(lat), p50, p99, failed)
			}
		}
		if b.want("11") {
			for run := range b.cfg.runs {
				d, done, failed, err := publishOver(ctx, urls, label, fmt.Sprintf("%d", 20+run), publishes, clients)
				if err != nil {
					return err
				}
				rate := float64(done) / d.Seconds()
				b.add("cpublish"+label, rate)
				b.add("cpublish"+label+"/refused", float64(failed))
				b.logf("publish, %s node(s), %d clients, run %d: %d in %s: %.1f/s; %d refused (503)", label, clients, run, done, d.Round(time.Millisecond), rate, failed)
			}
		}
		return nil
	}
	if err := measure("1", urls); err != nil {
		return err
	}
	for range 2 {
		if err := startNode(); err != nil {
			return err
		}
	}
	return measure("3", urls)
}

// commitLatency sends n writes, one client per node at once, each client
// writing its node's own product, and returns the sorted latencies.
func commitLatency(ctx context.Context, urls []string, label string, n int) ([]time.Duration, int64, error) {
	var failed atomic.Int64
	var mu sync.Mutex
	var all []time.Duration
	var next atomic.Int64
	errs := make([]error, len(urls))
	var wg sync.WaitGroup
	for i, u := range urls {
		wg.Go(func() {
			url := fmt.Sprintf("%s/api/v1/products/lat-%s-%d/policy", u, label, i)
			for {
				k := next.Add(1)
				if k > int64(n) {
					return
				}
				start := time.Now()
				if err := api(ctx, http.MethodPut, url, map[string]any{"max_artifact_bytes": 1_000_000 + k}, http.StatusOK, nil); err != nil {
					// A refused commit (503) is counted, not timed; anything
					// else ends the run.
					if !strings.Contains(err.Error(), ": 503,") {
						errs[i] = err
						return
					}
					failed.Add(1)
					continue
				}
				d := time.Since(start)
				mu.Lock()
				all = append(all, d)
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return nil, 0, err
		}
	}
	slices.Sort(all)
	if len(all) == 0 {
		return nil, 0, fmt.Errorf("all %d writes were refused", n)
	}
	return all, failed.Load(), nil
}

// publishOver publishes n releases from clients clients, client i through
// urls[i mod len(urls)] into that node's product.
func publishOver(ctx context.Context, urls []string, label, major string, n, clients int) (time.Duration, int64, int64, error) {
	var next, done, failed atomic.Int64
	errs := make([]error, clients)
	var wg sync.WaitGroup
	start := time.Now()
	for c := range clients {
		wg.Go(func() {
			node := c % len(urls)
			base := urls[node]
			product := fmt.Sprintf("pub-%s-%d", label, node)
			rel := base + "/api/v1/products/" + product + "/releases"
			for {
				k := int(next.Add(1)) - 1
				if k >= n {
					return
				}
				v := fmt.Sprintf("%s.%d.%d", major, k/1000, k%1000)
				err := api(ctx, http.MethodPost, rel, map[string]any{"version": v}, http.StatusCreated, nil)
				if err == nil {
					err = putArtifact(ctx, base, product, v, "small.bin", uint64(2_000_000+k), 1024)
				}
				if err == nil {
					err = api(ctx, http.MethodPost, rel+"/"+v+"/seal", nil, http.StatusOK, nil)
				}
				if err != nil {
					// A refused commit (503) abandons this release and is
					// counted; anything else ends the run.
					if !strings.Contains(err.Error(), ": 503") {
						errs[c] = err
						return
					}
					failed.Add(1)
					continue
				}
				done.Add(1)
			}
		})
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return 0, 0, 0, err
		}
	}
	return time.Since(start), done.Load(), failed.Load(), nil
}

// startNode runs one cluster node: `reliquary serve --storage s3` on the
// shared bucket with the shared signing key (and the cluster flags the
// binary has).
func startNode(dir, name, bin, minioAddr, bucket, signingKey string) (*proc, string, error) {
	addr := freeAddr()
	data := filepath.Join(dir, name+"-data")
	if err := os.MkdirAll(data, 0o700); err != nil {
		return nil, "", err
	}
	env := []string{"RELIQUARY_S3_SECRET_KEY=" + minioSecret, "RELIQUARY_ADMIN_TOKEN=" + adminToken}
	args := []string{"serve", "--listen", addr, "--data-dir", data, "--signing-key", signingKey, "--retention-interval", "0",
		"--storage", "s3", "--s3-endpoint", minioAddr, "--s3-bucket", bucket, "--s3-access-key", minioUser, "--s3-insecure"}
	p, err := start(dir, name, env, bin, args...)
	if err != nil {
		return nil, "", err
	}
	if err := p.waitHTTP("http://"+addr+"/readyz", http.StatusOK, 60*time.Second); err != nil {
		p.stop()
		return nil, "", err
	}
	return p, "http://" + addr, nil
}

// writeSigningKey writes a new P-256 key as PKCS#8 PEM.
func writeSigningKey(path string) error {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return err
	}
	der, err := x509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		return err
	}
	return os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), 0o600)
}

// reportCluster prints the rows of scenarios 10 and 11.
func (b *bench) reportCluster(p func(format string, args ...any)) {
	p("| 10 | commit latency (`PUT .../policy`), 1 node, 1 client: p50 / p99, ms | %s / %s | | p99 target < 20 ms: %s |",
		b.fig("commit1/p50", "%.2f"), b.fig("commit1/p99", "%.2f"), b.verdictLess("commit1/p99", 20))
	p("| 10 | commit latency, 3 nodes, 1 client each at once: p50 / p99, ms | %s / %s | | p99 target < 20 ms: %s |",
		b.fig("commit3/p50", "%.2f"), b.fig("commit3/p99", "%.2f"), b.verdictLess("commit3/p99", 20))
	p("| 10 | writes refused (503) per run of %d, 1 node / 3 nodes | %s / %s | | |", envInt("BENCH_COMMITS", 300),
		b.fig("commit1/refused", "%.0f"), b.fig("commit3/refused", "%.0f"))
	p("| 11 | publish (create + 1 KiB upload + seal), 6 clients, 1 node, per s | %s | | |", b.fig("cpublish1", "%.1f"))
	target := "—"
	if v, ok := b.med("cpublish3"); ok {
		target = "target ≥ 150: " + verdict(v >= 150)
	}
	p("| 11 | publish, 6 clients over 3 nodes, per s | %s | | %s |", b.fig("cpublish3", "%.1f"), target)
	p("| 11 | publishes refused (503) per run of %d, 1 node / 3 nodes | %s / %s | | |", envInt("BENCH_CLUSTER_PUBLISH", 300),
		b.fig("cpublish1/refused", "%.0f"), b.fig("cpublish3/refused", "%.0f"))
}
