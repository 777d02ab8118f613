package api_test

import (
	"bytes"
	"crypto/rand"
	"fmt"
	"io"
	"net/http"
	"syscall"
	"testing"
	"time"

	"github.com/reliquary/reliquary/internal/testenv"
)

// Focused benchmarks of the proxy paths, for CPU profiles
// (go test ./api -run '^$' -bench Proxy -cpuprofile cpu.out). They move
// 64 MiB per operation through an in-process server; `make bench` is the
// figure of record (separate processes, 1 GiB, ratios to direct MinIO).
const benchSize = 64 << 20

func benchServer(b *testing.B, store string) (*testenv.Server, []byte) {
	b.Helper()
	if store == "s3" {
		testenv.RequireTool(b, "minio", testenv.MinIOBinary(), "make tools")
	}
	srv := testenv.StartServer(b, testenv.ServerOptions{Store: store})
	admin := newClient(b, srv, srv.AdminToken)
	admin.json("POST", "/products", map[string]any{"name": "hr"}).must(b, 201)
	admin.json("POST", "/products/hr/releases", map[string]any{"version": "1.0.0"}).must(b, 201)
	data := make([]byte, benchSize)
	_, _ = rand.Read(data)
	return srv, data
}

func benchDownload(b *testing.B, store string) {
	srv, data := benchServer(b, store)
	url := srv.URL + "/api/v1/products/hr/releases/1.0.0/artifacts/big.bin"
	put(b, srv, url, data)
	b.SetBytes(benchSize)
	b.ResetTimer()
	defer cpuPerGiB(b)()
	for b.Loop() {
		req, _ := http.NewRequest(http.MethodGet, url, nil)
		req.Header.Set("Authorization", "Bearer "+srv.AdminToken)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			b.Fatal(err)
		}
		n, err := io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if err != nil || n != benchSize || resp.StatusCode != 200 {
			b.Fatalf("download: %d bytes, %d, %v", n, resp.StatusCode, err)
		}
	}
}

// cpuPerGiB reports the process's CPU seconds (user+system: this process
// is the server and its client; MinIO runs apart) per GiB moved, the
// figure a shared, noisy machine measures more steadily than throughput.
func cpuPerGiB(b *testing.B) func() {
	before := cpuSeconds()
	return func() {
		gib := float64(b.N) * benchSize / (1 << 30)
		b.ReportMetric((cpuSeconds()-before)/gib, "cpu-s/GiB")
	}
}

func cpuSeconds() float64 {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()).Seconds()
}

func put(b *testing.B, srv *testenv.Server, url string, data []byte) {
	b.Helper()
	req, _ := http.NewRequest(http.MethodPut, url, bytes.NewReader(data))
	req.Header.Set("Authorization", "Bearer "+srv.AdminToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		b.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 201 {
		b.Fatalf("upload: %d", resp.StatusCode)
	}
}

func BenchmarkProxyDownloadS3(b *testing.B) { benchDownload(b, "s3") }
func BenchmarkProxyDownloadFS(b *testing.B) { benchDownload(b, "fs") }

func BenchmarkProxyUploadS3(b *testing.B) {
	srv, data := benchServer(b, "s3")
	b.SetBytes(benchSize)
	i := 0
	defer cpuPerGiB(b)()
	for b.Loop() {
		i++
		put(b, srv, fmt.Sprintf("%s/api/v1/products/hr/releases/1.0.0/artifacts/big-%d.bin", srv.URL, i), data)
	}
}
