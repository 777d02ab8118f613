package main

import (
	"fmt"
	"io"
	"os"
	"runtime"
	"slices"
	"strings"
	"time"

	"github.com/reliquary/reliquary/storage/s3"
)

func median(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	s := slices.Clone(v)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// fig is "median (min–max)" of a series, or "—" when it was not measured.
func (b *bench) fig(key, format string) string {
	v := b.samples[key]
	if len(v) == 0 {
		return "—"
	}
	m := fmt.Sprintf(format, median(v))
	if len(v) > 1 {
		m += fmt.Sprintf(" ("+format+"–"+format+")", slices.Min(v), slices.Max(v))
	}
	return m
}

func (b *bench) med(key string) (float64, bool) {
	v := b.samples[key]
	return median(v), len(v) > 0
}

// ratio is the median of the per-run ratios a[i]/b[i] (the two were
// measured back to back in run i, so load from outside the benchmark
// weighs on both), with the target verdict when given.
func (b *bench) ratio(a, bKey string, target float64) string {
	x, y := b.samples[a], b.samples[bKey]
	if len(x) == 0 || len(x) != len(y) {
		return "—"
	}
	rs := make([]float64, len(x))
	for i := range x {
		rs[i] = x[i] / y[i]
	}
	r := median(rs)
	s := fmt.Sprintf("%.2f", r)
	if target > 0 {
		s += fmt.Sprintf(" (target ≥ %.2f: %s)", target, verdict(r >= target))
	}
	return s
}

func verdict(ok bool) string {
	if ok {
		return "met"
	}
	return "**missed**"
}

func (b *bench) report(w io.Writer) {
	cpu, mem := machine()
	host, _ := os.Hostname()
	size := fmt.Sprintf("%d MiB", b.cfg.size>>20)
	if b.cfg.size == 1<<30 {
		size = "1 GiB"
	}
	p := func(format string, args ...any) { fmt.Fprintf(w, format+"\n", args...) }
	p("")
	p("Reliquary benchmark — %s", time.Now().UTC().Format("2006-01-02 15:04 MST"))
	p("")
	p("- machine: %s, %d cores, %s memory, Linux %s (host %s)", cpu, runtime.NumCPU(), mem, kernel(), host)
	p("- Go %s; MinIO %s (single drive, local disk); peer: distribution registry v3.1.2, S3 driver, chunksize %d MiB (Reliquary's part size), redirect disabled", runtime.Version(), minioVersion(b.cfg.minioBin), s3.DefaultPartSize>>20)
	p("- load average at start %s, at end %s; each figure: median of %d runs (min–max)", b.loadStart, b.loadEnd, b.cfg.runs)
	p("")
	p("| # | measurement | Reliquary | baseline | ratio / target |")
	p("|---|---|---|---|---|")
	p("| 1 | upload %s, MiB/s | %s | direct PutObject %s | %s |", size, b.fig("up/reliquary", "%.0f"), b.fig("up/direct", "%.0f"),
		b.ratio("up/reliquary", "up/direct", 0.95))
	p("| 2 | download %s, proxy, MiB/s | %s | direct GetObject %s | %s |", size, b.fig("down/reliquary", "%.0f"), b.fig("down/direct", "%.0f"),
		b.ratio("down/reliquary", "down/direct", 0.95))
	p("| 2 | download %s, `?redirect=1` (307 → presigned GET), MiB/s | %s | direct GetObject | %s |", size, b.fig("down/redirect", "%.0f"),
		b.ratio("down/redirect", "down/direct", 0))
	p("| 3 | %d clients × %s concurrent upload, aggregate MiB/s | %s | direct %d × PutObject %s | %s |", b.cfg.clients, size,
		b.fig("conc/reliquary", "%.0f"), b.cfg.clients, b.fig("conc/direct", "%.0f"), b.ratio("conc/reliquary", "conc/direct", 0))
	rss := "—"
	if v := b.samples["conc/rss"]; len(v) > 0 {
		rss = fmt.Sprintf("max %.0f MiB: %s", slices.Max(v), verdict(slices.Max(v) < 192))
	}
	p("| 3 | server peak RSS during that run, MiB | %s | | target < 192 MiB, %s |", b.fig("conc/rss", "%.0f"), rss)
	releases := fmt.Sprintf("%d", b.cfg.releases)
	if b.cfg.releases == 100_000 {
		releases = "100,000"
	}
	p("| 4 | resolve, %s releases in one product, 1 client: p50 / p99 latency, ms | %s / %s | `GET /healthz` %s / %s | p99 target < 2 ms: %s |", releases,
		b.fig("resolve/p50", "%.3f"), b.fig("resolve/p99", "%.3f"), b.fig("healthz/p50", "%.3f"), b.fig("healthz/p99", "%.3f"),
		b.verdictLess("resolve/p99", 2))
	p("| 4 | resolve, %d clients: requests/s | %s | `GET /healthz` %s | %s of the framework's ceiling |", b.cfg.resolveConc,
		b.fig("resolve/rps", "%.0f"), b.fig("healthz/rps", "%.0f"), b.ratio("resolve/rps", "healthz/rps", 0))
	p("| 4 | resolve, %d clients: p99 latency (client side, queueing included), ms | %s | `GET /healthz` %s | |", b.cfg.resolveConc,
		b.fig("resolve/p99c", "%.2f"), b.fig("healthz/p99c", "%.2f"))
	if b.serverCount > 0 {
		p("| 4 | resolve, server side (`reliquary_http_request_duration_seconds`, all %.0f requests above): share ≤ 0.5 ms / ≤ 2 ms | %.2f%% / %.3f%% | | p99 < 2 ms: %s |",
			b.serverCount, 100*b.serverLE05ms, 100*b.serverLE2ms, verdict(b.serverLE2ms >= 0.99))
	}
	p("| 5 | publish (create release + 1 KiB upload + seal), %d clients, per s | %s | | |", b.cfg.publishConc, b.fig("publish", "%.1f"))
	if b.cfg.peer {
		p("| 6 | upload %s vs peer (monolithic blob PUT), MiB/s | %s | registry %s | %s |", size, b.fig("up/reliquary", "%.0f"), b.fig("up/peer", "%.0f"),
			b.ratio("up/reliquary", "up/peer", 0))
		p("| 6 | download %s vs peer (GET blob, proxied), MiB/s | %s | registry %s | %s |", size, b.fig("down/reliquary", "%.0f"), b.fig("down/peer", "%.0f"),
			b.ratio("down/reliquary", "down/peer", 0))
	}
	rb := "—"
	if v, ok := b.med("rebuild"); ok {
		rb = fmt.Sprintf("target ≥ 5,000: %s", verdict(v >= 5000))
	}
	p("| 7 | `index rebuild --from-bucket` of %d mirrored events, events/s | %s | | %s |", b.rebuildEvents, b.fig("rebuild", "%.0f"), rb)
	p("| 7 | the same, process start included, events/s | %s | | |", b.fig("rebuild/wall", "%.0f"))
	b.reportLog(p) // 8: the signed log (log.go)
	// 10, 11: three nodes on one bucket (cluster.go)
	b.reportCluster(p)
	for _, l := range []struct{ key, what string }{
		{"lists/events/rss", "`GET /events?limit=1000`, paged through"},
		{"lists/releases/rss", "`GET /products/lists/releases?limit=1000`, paged through"},
	} {
		verdictRSS := "—"
		if v := b.samples[l.key]; len(v) > 0 {
			verdictRSS = fmt.Sprintf("target < 300 MiB: %s", verdict(slices.Max(v) < 300))
		}
		p("| 9 | %d clients × %s (%d releases with 60 KiB notes): server peak RSS, MiB | %s | | %s |", envInt("BENCH_LIST_CLIENTS", 16), l.what, b.listEvents,
			b.fig(l.key, "%.0f"), verdictRSS)
	}
	b.reportCatchUp(p) // 10: catch-up of a new node (catchup.go)
	b.cpuTable(p)
	if len(b.samples["rebuild/cpu/minio"]) > 0 {
		m, _ := b.med("rebuild/cpu/minio")
		c, _ := b.med("rebuild/cpu/cli")
		o, _ := b.med("rebuild/cpu/other")
		p("")
		p("Rebuild CPU per event (median): MinIO %.2f ms, `reliquary index rebuild` %.2f ms, rest of the machine %.2f ms.", m, c, o)
	}
	p("")
	p("command: %s; total %s", command(), time.Since(b.started).Round(time.Second))
}

func (b *bench) verdictLess(key string, limit float64) string {
	v, ok := b.med(key)
	if !ok {
		return "—"
	}
	return verdict(v < limit)
}

func minioVersion(bin string) string {
	for _, part := range strings.Split(bin, "/") {
		if v, ok := strings.CutPrefix(part, "minio-"); ok {
			return v
		}
	}
	return "?"
}

func command() string {
	var env []string
	for _, kv := range os.Environ() {
		if strings.HasPrefix(kv, "BENCH_") && !strings.HasPrefix(kv, "BENCH_MINIO=") && !strings.HasPrefix(kv, "BENCH_REGISTRY=") {
			env = append(env, kv)
		}
	}
	return "`" + strings.TrimSpace(strings.Join(env, " ")+" make bench") + "`"
}

// cpuTable prints where the CPU went per GiB moved: the benchmark's client,
// the server in the path (Reliquary or the peer), MinIO, and the rest of
// the machine (other work that competed for the same cores).
func (b *bench) cpuTable(p func(string, ...any)) {
	rows := []struct{ key, label string }{
		{"up/direct", "upload, direct PutObject"}, {"up/reliquary", "upload through Reliquary"}, {"up/peer", "upload through the peer"},
		{"down/direct", "download, direct GetObject"}, {"down/reliquary", "download through Reliquary (proxy)"},
		{"down/redirect", "download, Reliquary redirect"}, {"down/peer", "download through the peer"},
		{"conc/direct", "concurrent upload, direct"}, {"conc/reliquary", "concurrent upload through Reliquary"},
	}
	header := false
	for _, r := range rows {
		if len(b.samples["cpu/"+r.key+"/client"]) == 0 {
			continue
		}
		if !header {
			p("")
			p("CPU seconds per GiB moved (median of runs; %d cores = %d CPU-s per wall second):", runtime.NumCPU(), runtime.NumCPU())
			p("")
			p("| path | client | server | MinIO | ours total | rest of the machine |")
			p("|---|---|---|---|---|---|")
			header = true
		}
		get := func(proc string) float64 { v, _ := b.med("cpu/" + r.key + "/" + proc); return v }
		server := get("reliquary")
		if strings.HasSuffix(r.key, "peer") {
			server = get("peer")
		}
		if strings.HasSuffix(r.key, "direct") {
			server = 0
		}
		p("| %s | %.2f | %.2f | %.2f | %.2f | %.2f |", r.label, get("client"), server, get("minio"), get("client")+server+get("minio"), get("other"))
	}
}
