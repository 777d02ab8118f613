package api_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/reliquary/reliquary/internal/fsck"
	"github.com/reliquary/reliquary/internal/testenv"
	"github.com/reliquary/reliquary/storage/storagetest"
)

// gatedReader streams the deterministic bytes of (seed, size); after pause
// bytes it closes reached and waits for gate before sending the rest.
type gatedReader struct {
	r       io.Reader
	sent    int64
	pause   int64
	reached chan struct{}
	gate    chan struct{}
	once    sync.Once
}

func newGatedReader(seed, size, pause int64) *gatedReader {
	return &gatedReader{r: storagetest.NewStream(seed, size), pause: pause,
		reached: make(chan struct{}), gate: make(chan struct{})}
}

func (g *gatedReader) Read(p []byte) (int, error) {
	if g.sent >= g.pause {
		g.once.Do(func() { close(g.reached) })
		<-g.gate
	} else if rest := g.pause - g.sent; int64(len(p)) > rest {
		p = p[:rest]
	}
	n, err := g.r.Read(p)
	g.sent += int64(n)
	return n, err
}

// rawPut streams body as an artifact upload and returns the response (or
// the transport error).
func (c *client) rawPut(path string, body io.Reader, size int64) (response, error) {
	c.t.Helper()
	req, err := http.NewRequest(http.MethodPut, c.base+path, body)
	if err != nil {
		c.t.Fatal(err)
	}
	req.ContentLength = size
	req.Header.Set("Authorization", "Bearer "+c.token)
	req.Header.Set("Content-Type", "application/octet-stream")
	resp, err := c.http.Do(req)
	if err != nil {
		return response{}, err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return response{status: resp.StatusCode, header: resp.Header, body: b}, nil
}

func hexSum(seed, size int64) string {
	h := sha256.New()
	_, _ = io.Copy(h, storagetest.NewStream(seed, size))
	return hex.EncodeToString(h.Sum(nil))
}

// unavailable fails the test unless r is 503 STORAGE_UNAVAILABLE with a
// Retry-After.
func unavailable(t *testing.T, what string, r response) {
	t.Helper()
	if r.status != http.StatusServiceUnavailable || r.errCode() != "STORAGE_UNAVAILABLE" || r.header.Get("Retry-After") == "" {
		t.Errorf("%s during the outage: %d Retry-After=%q %s, want 503 STORAGE_UNAVAILABLE with Retry-After",
			what, r.status, r.header.Get("Retry-After"), bytes.TrimSpace(r.body))
	}
}

// TestStorageOutage stops MinIO while uploads and a download stream through
// the service, checks every client is told 503 STORAGE_UNAVAILABLE (with
// Retry-After), /readyz turns 503 and no index record names a missing
// object; then starts MinIO again on the same port and directory and checks
// the same server recovers and the retried uploads succeed.
func TestStorageOutage(t *testing.T) {
	m := testenv.StartMinIO(t)
	cfg := m.Config(t)
	srv := testenv.StartServer(t, testenv.ServerOptions{Store: "s3", S3: &cfg})
	admin := newClient(t, srv, srv.AdminToken)
	admin.json("POST", "/products", map[string]any{"name": "app"}).must(t, 201)
	admin.json("POST", "/products/app/releases", map[string]any{"version": "1.0.0"}).must(t, 201)
	base := "/products/app/releases/1.0.0/artifacts/"
	const bigSize = 24 << 20
	admin.put(base+"before.bin", upload{size: bigSize, seed: 100}).must(t, 201)
	admin.json("POST", "/products/app/releases", map[string]any{"version": "2.0.0"}).must(t, 201)
	admin.put("/products/app/releases/2.0.0/artifacts/x.bin", upload{size: 1000, seed: 9}).must(t, 201)
	ready := func() int { return admin.do("GET", "/readyz", nil).status }
	if s := ready(); s != 200 {
		t.Fatalf("readyz before the outage: %d", s)
	}

	// Uploads in flight when MinIO goes: single-part and multipart (the
	// store's parts are 16 MiB), each paused after 1 MiB.
	type inflight struct {
		name       string
		seed, size int64
		body       *gatedReader
		resp       response
		err        error
		done       chan struct{}
	}
	var ups []*inflight
	for i, size := range []int64{2 << 20, 3 << 20, 20 << 20, 40 << 20, 3 << 20, 20 << 20} {
		u := &inflight{name: fmt.Sprintf("cut-%d.bin", i), seed: int64(200 + i), size: size, done: make(chan struct{})}
		u.body = newGatedReader(u.seed, u.size, 1<<20)
		ups = append(ups, u)
		chunked := i >= 4 // no Content-Length: minio-go buffers parts
		go func() {
			defer close(u.done)
			if chunked {
				u.resp, u.err = admin.rawPut(base+u.name, struct{ io.Reader }{u.body}, -1)
				return
			}
			u.resp, u.err = admin.rawPut(base+u.name, u.body, u.size)
		}()
	}
	// A download in flight: 1 MiB read, the rest waits in the pipes.
	req, _ := http.NewRequest("GET", admin.base+base+"before.bin", nil)
	req.Header.Set("Authorization", "Bearer "+admin.token)
	dl, err := admin.http.Do(req)
	if err != nil || dl.StatusCode != 200 {
		t.Fatalf("download before the outage: %v %v", dl, err)
	}
	h := sha256.New()
	if _, err := io.CopyN(h, dl.Body, 1<<20); err != nil {
		t.Fatal(err)
	}
	for _, u := range ups {
		select {
		case <-u.body.reached:
		case <-time.After(30 * time.Second):
			t.Fatalf("upload %s never got 1 MiB in", u.name)
		}
	}

	start := time.Now()
	m.Stop()
	t.Logf("MinIO stopped in %s with %d uploads and 1 download in flight", time.Since(start).Round(time.Millisecond), len(ups))

	// The cut download: an error, or the exact bytes; never a complete-looking wrong body.
	n, derr := io.Copy(h, dl.Body)
	dl.Body.Close()
	switch {
	case derr == nil && n+1<<20 == bigSize && hex.EncodeToString(h.Sum(nil)) != hexSum(100, bigSize):
		t.Errorf("download cut by the outage delivered %d bytes with the wrong digest", n+1<<20)
	case derr == nil && n+1<<20 != bigSize:
		t.Errorf("download cut by the outage ended cleanly after %d of %d bytes", n+1<<20, bigSize)
	}
	t.Logf("download in flight: %d more bytes, err=%v", n, derr)

	for _, u := range ups {
		close(u.body.gate)
	}
	for _, u := range ups {
		<-u.done
		if u.err != nil {
			t.Errorf("upload %s cut by the outage: transport error %v, want a 503 answer", u.name, u.err)
			continue
		}
		unavailable(t, "upload "+u.name+" in flight", u.resp)
	}

	// New requests during the outage.
	start = time.Now()
	r, err := admin.rawPut(base+"during.bin", storagetest.NewStream(300, 5<<20), 5<<20)
	if err != nil {
		t.Fatalf("upload during the outage: %v", err)
	}
	unavailable(t, "new upload", r)
	t.Logf("a new upload was refused in %s", time.Since(start).Round(time.Millisecond))
	r, err = admin.rawPut(base+"during-big.bin", storagetest.NewStream(301, 20<<20), 20<<20)
	if err != nil {
		t.Fatalf("multipart upload during the outage: %v", err)
	}
	unavailable(t, "new multipart upload", r)
	unavailable(t, "download", admin.do("GET", base+"before.bin", nil))
	unavailable(t, "ranged download", admin.do("GET", base+"before.bin", nil, "Range", "bytes=10-20"))
	for _, u := range []string{srv.URL + "/readyz", srv.URL + "/api/v1/readyz"} {
		resp, err := testHTTPClient(t).Get(u)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 503 || resp.Header.Get("Retry-After") == "" {
			t.Errorf("%s during the outage: %d", u, resp.StatusCode)
		}
	}
	// A seal writes the manifest to the store: refused whole.
	unavailable(t, "seal", admin.json("POST", "/products/app/releases/2.0.0/seal", nil))
	var st struct{ State string }
	admin.json("GET", "/products/app/releases/2.0.0", nil).must(t, 200).decode(t, &st)
	if st.State != "draft" {
		t.Errorf("a seal refused during the outage left the release %s", st.State)
	}
	// Metadata is served from the index meanwhile.
	var rel struct {
		Artifacts []struct{ Name, SHA256 string }
	}
	admin.json("GET", "/products/app/releases/1.0.0", nil).must(t, 200).decode(t, &rel)
	if len(rel.Artifacts) != 1 || rel.Artifacts[0].Name != "before.bin" {
		t.Errorf("artifacts after the failed uploads: %+v", rel.Artifacts)
	}

	// MinIO comes back on the same port and directory; the server recovers
	// without a restart.
	if err := m.Start(); err != nil {
		t.Fatal(err)
	}
	start = time.Now()
	for ready() != 200 {
		if time.Since(start) > 30*time.Second {
			t.Fatal("readyz still not 200 30s after MinIO came back")
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Logf("ready again %s after MinIO restarted", time.Since(start).Round(time.Millisecond))

	ctx := context.Background()
	rep, err := fsck.Run(ctx, srv.Index, srv.Store, fsck.Options{})
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range rep.Findings {
		if f.Kind == fsck.Missing || f.Kind == fsck.SizeMismatch {
			t.Errorf("after the outage the index names a missing object: %+v", f)
		}
	}
	t.Logf("fsck after the outage: %d objects checked, findings %+v", rep.Objects, rep.Findings)

	admin.json("POST", "/products/app/releases/2.0.0/seal", nil).must(t, 200)
	retries := append(ups, &inflight{name: "during.bin", seed: 300, size: 5 << 20}, &inflight{name: "during-big.bin", seed: 301, size: 20 << 20})
	for _, u := range retries {
		admin.put(base+u.name, upload{size: u.size, seed: u.seed, header: "checksum"}).must(t, 201)
	}
	for _, u := range append(retries, &inflight{name: "before.bin", seed: 100, size: bigSize}) {
		status, _, sum, n := admin.download(base + u.name)
		if status != 200 || n != u.size || hex.EncodeToString(sum) != hexSum(u.seed, u.size) {
			t.Errorf("download %s after recovery: %d, %d bytes, digest ok=%v", u.name, status, n, hex.EncodeToString(sum) == hexSum(u.seed, u.size))
		}
	}
	if _, err := fsck.Run(ctx, srv.Index, srv.Store, fsck.Options{Repair: true}); err != nil {
		t.Fatal(err)
	}
	rep, err = fsck.Run(ctx, srv.Index, srv.Store, fsck.Options{Deep: true})
	if err != nil {
		t.Fatal(err)
	}
	if !rep.Clean() {
		t.Errorf("fsck --deep after repair: %+v", rep.Findings)
	}
}
