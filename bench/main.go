// Command bench is `make bench`: it starts its own MinIO, the real
// `reliquary serve --storage s3` binary and the CNCF distribution registry
// (S3 driver, same MinIO), measures throughput, memory, latency and rates
// side by side with their baselines in the same run, and prints one
// Markdown table (BENCHMARKS.md explains every row).
//
// Run from the repository root: `go run ./bench`. Settings are environment
// variables (see config below); small sizes for a quick check:
//
//	BENCH_SIZE_MIB=64 BENCH_RELEASES=5000 BENCH_PUBLISH=50 go run ./bench
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"

	"github.com/reliquary/reliquary/storage/s3"
)

type config struct {
	size          int64         // BENCH_SIZE_MIB: bytes per large artifact (default 1024 MiB)
	runs          int           // BENCH_RUNS: runs per figure, the median is reported (default 3)
	clients       int           // BENCH_CLIENTS: concurrent uploaders in 3 (default 8)
	releases      int           // BENCH_RELEASES: releases in the resolve product (default 100000)
	resolveConc   int           // BENCH_RESOLVE_CLIENTS: concurrent clients for req/s (default 4)
	resolveDur    time.Duration // BENCH_RESOLVE_SECONDS: per measurement (default 2)
	publish       int           // BENCH_PUBLISH: publishes per run in 5 (default 400)
	publishConc   int           // BENCH_PUBLISH_CLIENTS (default 4)
	rebuildEvents int           // BENCH_REBUILD_EVENTS: least journal length for 7 (default 3000)
	only          string        // BENCH_ONLY: comma-separated scenarios to run, e.g. "1,3" (default all)
	peer          bool          // the registry binary is known (BENCH_REGISTRY)
	minioBin      string        // BENCH_MINIO
	registryBin   string        // BENCH_REGISTRY
	pprof         string        // BENCH_PPROF: 127.0.0.1:port for the server's RELIQUARY_PPROF
	profileDir    string        // BENCH_PROFILE_DIR: write a CPU profile of the server per measurement
	keep          bool          // BENCH_KEEP=1: keep the temporary directory (logs, data)
	// BENCH_RELIQUARY: a prebuilt reliquary binary to measure (default: go build ./cmd/reliquary)
}

func envInt(name string, def int) int {
	if v := os.Getenv(name); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n <= 0 {
			fatalf("%s=%q: want a positive integer", name, v)
		}
		return n
	}
	return def
}

func loadConfig() config {
	c := config{
		size:          int64(envInt("BENCH_SIZE_MIB", 1024)) << 20,
		runs:          envInt("BENCH_RUNS", 3),
		clients:       envInt("BENCH_CLIENTS", 8),
		releases:      envInt("BENCH_RELEASES", 100_000),
		resolveConc:   envInt("BENCH_RESOLVE_CLIENTS", 4),
		resolveDur:    time.Duration(envInt("BENCH_RESOLVE_SECONDS", 2)) * time.Second,
		publish:       envInt("BENCH_PUBLISH", 400),
		publishConc:   envInt("BENCH_PUBLISH_CLIENTS", 4),
		rebuildEvents: envInt("BENCH_REBUILD_EVENTS", 3000),
		only:          os.Getenv("BENCH_ONLY"),
		minioBin:      os.Getenv("BENCH_MINIO"),
		registryBin:   os.Getenv("BENCH_REGISTRY"),
		pprof:         os.Getenv("BENCH_PPROF"),
		profileDir:    os.Getenv("BENCH_PROFILE_DIR"),
		keep:          os.Getenv("BENCH_KEEP") == "1",
	}
	if c.minioBin == "" {
		c.minioBin = toolPath("minio-v0.0.0-20260212201848-7aac2a2c5b7c/minio")
	}
	if c.registryBin == "" {
		c.registryBin = toolPath("registry-v3.1.2/registry")
	}
	if _, err := os.Stat(c.minioBin); err != nil {
		fatalf("MinIO not found at %s: run `make bench` (it builds it) or set BENCH_MINIO", c.minioBin)
	}
	if _, err := os.Stat(c.registryBin); err == nil {
		c.peer = true
	} else {
		fmt.Fprintf(os.Stderr, "bench: registry not found at %s: the peer rows are skipped (`make bench` builds it)\n", c.registryBin)
	}
	if c.profileDir != "" && c.pprof == "" {
		c.pprof = "127.0.0.1:" + strings.Split(freeAddr(), ":")[1]
	}
	return c
}

func toolPath(rel string) string {
	out, err := exec.Command("go", "env", "GOCACHE").Output()
	if err != nil {
		return ""
	}
	return filepath.Join(strings.TrimSpace(string(out)), "reliquary-tools", rel)
}

func fatalf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "bench: "+format+"\n", args...)
	os.Exit(1)
}

// bench is one benchmark run: its processes and its samples.
type bench struct {
	cfg       config
	dir       string
	relBin    string
	minio     *proc
	minioAddr string
	mc        *minio.Client
	store     *s3.Store // Reliquary's S3 store on the same bucket: the baseline's client and options
	bucket    string
	rel       *proc
	relURL    string
	reg       *proc
	regURL    string

	mu      sync.Mutex
	samples map[string][]float64

	published, warmups        atomic.Int64
	rebuildEvents             int
	serverLE2ms, serverLE05ms float64
	serverCount               float64
	loadStart, loadEnd        string
	started                   time.Time
	listEvents                int // releases behind scenario 8's feed and listing
}

func (b *bench) add(key string, v float64) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.samples[key] = append(b.samples[key], v)
}

func (b *bench) logf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "%6.1fs  "+format+"\n", append([]any{time.Since(b.started).Seconds()}, args...)...)
}

func (b *bench) want(scenario string) bool {
	if b.cfg.only == "" {
		return true
	}
	return slices.Contains(strings.Split(b.cfg.only, ","), scenario)
}

// pprofEnv is the extra environment of the reliquary servers:
// RELIQUARY_PPROF when profiling, and BENCH_SERVER_ENV (space-separated
// NAME=value pairs, e.g. GOMEMLIMIT=192MiB) to try a setting.
func (b *bench) pprofEnv() []string {
	env := strings.Fields(os.Getenv("BENCH_SERVER_ENV"))
	if b.cfg.pprof != "" {
		env = append(env, "RELIQUARY_PPROF="+b.cfg.pprof)
	}
	return env
}

func mkdir(dir string) error { return os.MkdirAll(dir, 0o700) }

func (b *bench) makeBucket(ctx context.Context, name string) error {
	return b.mc.MakeBucket(ctx, name, minio.MakeBucketOptions{})
}

func main() {
	cfg := loadConfig()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	b := &bench{cfg: cfg, samples: map[string][]float64{}, started: time.Now(), bucket: "bench"}
	err := b.run(ctx)
	b.shutdown()
	if err != nil {
		fatalf("%v", err)
	}
}

func (b *bench) shutdown() {
	b.reg.stop()
	b.rel.stop()
	b.minio.stop()
	if b.dir != "" {
		if b.cfg.keep {
			fmt.Fprintf(os.Stderr, "bench: kept %s\n", b.dir)
		} else {
			os.RemoveAll(b.dir)
		}
	}
}

func (b *bench) run(ctx context.Context) error {
	var err error
	b.loadStart = loadavg()
	if b.dir, err = os.MkdirTemp("", "reliquary-bench-"); err != nil {
		return err
	}
	if b.cfg.profileDir != "" {
		if err := mkdir(b.cfg.profileDir); err != nil {
			return err
		}
	}
	if b.relBin = os.Getenv("BENCH_RELIQUARY"); b.relBin == "" {
		b.relBin = filepath.Join(b.dir, "reliquary")
		build := exec.CommandContext(ctx, "go", "build", "-o", b.relBin, "./cmd/reliquary")
		build.Stdout, build.Stderr = os.Stderr, os.Stderr
		if err := build.Run(); err != nil {
			return fmt.Errorf("go build ./cmd/reliquary (run from the repository root): %w", err)
		}
	}
	if b.minio, b.minioAddr, err = startMinIO(b.dir, b.cfg.minioBin); err != nil {
		return err
	}
	tr, err := minio.DefaultTransport(false)
	if err != nil {
		return err
	}
	b.mc, err = minio.New(b.minioAddr, &minio.Options{Creds: credentials.NewStaticV4(minioUser, minioSecret, ""),
		Region: "us-east-1", Transport: tr, BucketLookup: minio.BucketLookupAuto})
	if err != nil {
		return err
	}
	for _, bk := range []string{b.bucket, "peer"} {
		if err := b.makeBucket(ctx, bk); err != nil {
			return err
		}
	}
	b.store, err = s3.New(s3.Config{Endpoint: b.minioAddr, Bucket: b.bucket, AccessKey: minioUser, SecretKey: minioSecret, Insecure: true})
	if err != nil {
		return err
	}
	if b.rel, b.relURL, err = startReliquary(b.dir, "reliquary", b.relBin, b.minioAddr, b.bucket, b.pprofEnv()...); err != nil {
		return err
	}
	if b.cfg.peer {
		if b.reg, b.regURL, err = startRegistry(b.dir, b.cfg.registryBin, b.minioAddr, "peer", s3.DefaultPartSize); err != nil {
			return err
		}
	}
	b.logf("MinIO %s, reliquary %s, registry %s, work dir %s", b.minioAddr, b.relURL, b.regURL, b.dir)
	if err := api(ctx, "POST", b.relURL+"/api/v1/products", map[string]any{"name": "bench"}, 201, nil); err != nil {
		return err
	}
	steps := []struct {
		which string
		f     func(context.Context) error
	}{
		{"1,2,6", b.transfers}, {"3", b.concurrent}, {"5", b.publish}, {"7", b.rebuild},
		{"8", b.signedLog}, // the signed log at 100,000 events (log.go)
		{"9", b.lists},     // lists and feeds under 16 callers: peak RSS (lists.go)
		// 3 nodes on one bucket: commit latency, publish rate (cluster.go)
		{"10,11", b.cluster},
		{"12", b.catchUp}, // catch-up of a new node from a snapshot (catchup.go)
	}
	for _, s := range steps {
		run := false
		for _, w := range strings.Split(s.which, ",") {
			run = run || b.want(w)
		}
		if run {
			if err := s.f(ctx); err != nil {
				return err
			}
		}
	}
	// The resolve server runs alone: stop the others first.
	b.reg.stop()
	b.reg = nil
	b.rel.stop()
	b.rel = nil
	if b.want("4") {
		if err := b.resolve(ctx); err != nil {
			return err
		}
	}
	b.loadEnd = loadavg()
	b.report(os.Stdout)
	return nil
}

// profile fetches a CPU profile of the main server while a measurement
// runs (BENCH_PROFILE_DIR, first run only); the returned func waits for it.
func (b *bench) profile(name string, run int) func() {
	if b.cfg.profileDir == "" || run != 0 {
		return func() {}
	}
	secs := envInt("BENCH_PROFILE_SECONDS", 5)
	done := make(chan struct{})
	go func() {
		defer close(done)
		out := filepath.Join(b.cfg.profileDir, name+".pprof")
		resp, err := hc.Get(fmt.Sprintf("http://%s/debug/pprof/profile?seconds=%d", b.cfg.pprof, secs))
		if err != nil {
			b.logf("profile %s: %v", name, err)
			return
		}
		defer resp.Body.Close()
		f, err := os.Create(out)
		if err != nil {
			return
		}
		defer f.Close()
		_, _ = io.Copy(f, resp.Body)
		b.logf("profile %s written to %s", name, out)
	}()
	return func() { <-done }
}

func loadavg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	f := strings.Fields(string(b))
	return strings.Join(f[:3], " ")
}

func machine() (cpu string, mem string) {
	cpu = "unknown CPU"
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for line := range strings.Lines(string(b)) {
			if v, ok := strings.CutPrefix(line, "model name"); ok {
				cpu = strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(v), ":"))
				break
			}
		}
	}
	if v, err := procMeminfo("MemTotal"); err == nil {
		mem = fmt.Sprintf("%.1f GiB", float64(v)/(1<<30))
	}
	return cpu, mem
}

func procMeminfo(field string) (int64, error) {
	b, err := os.ReadFile("/proc/meminfo")
	if err != nil {
		return 0, err
	}
	for line := range strings.Lines(string(b)) {
		if v, ok := strings.CutPrefix(line, field+":"); ok {
			kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			return kb << 10, err
		}
	}
	return 0, fmt.Errorf("%s not in /proc/meminfo", field)
}

func kernel() string {
	b, err := os.ReadFile("/proc/sys/kernel/osrelease")
	if err != nil {
		return "?"
	}
	return strings.TrimSpace(string(b))
}
