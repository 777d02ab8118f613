package api_test

import (
	"testing"
	"time"

	"github.com/reliquary/reliquary/internal/testenv"
)

// TestHungStorage (DESIGN §8 "Hung storage"): with MinIO stopped by
// SIGSTOP, a download, an upload and a release read that needs the store
// answer 503 STORAGE_UNAVAILABLE with Retry-After within the storage
// timeout plus a margin; after SIGCONT the same server serves again,
// without a restart.
func TestHungStorage(t *testing.T) {
	m := testenv.StartMinIO(t)
	cfg := m.Config(t)
	cfg.Timeout = time.Second
	srv := testenv.StartServer(t, testenv.ServerOptions{Store: "s3", S3: &cfg})
	admin := newClient(t, srv, srv.AdminToken)
	admin.json("POST", "/products", map[string]any{"name": "hr"}).must(t, 201)
	admin.json("POST", "/products/hr/releases", map[string]any{"version": "1.0.0"}).must(t, 201)
	admin.put("/products/hr/releases/1.0.0/artifacts/a.bin", upload{size: 1000, seed: 1}).must(t, 201)

	if err := m.Freeze(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = m.Thaw() })
	const bound = 5 * time.Second
	for _, c := range []struct {
		name string
		do   func() response
	}{
		{"download", func() response { return admin.do("GET", "/products/hr/releases/1.0.0/artifacts/a.bin", nil) }},
		{"upload", func() response {
			return admin.put("/products/hr/releases/1.0.0/artifacts/b.bin", upload{size: 1000, seed: 2})
		}},
	} {
		start := time.Now()
		r := c.do()
		el := time.Since(start)
		if r.status != 503 || r.errCode() != "STORAGE_UNAVAILABLE" || r.header.Get("Retry-After") == "" || el > bound {
			t.Errorf("%s on hung storage: %d %s (Retry-After %q) after %s", c.name, r.status, r.body, r.header.Get("Retry-After"), el)
		}
	}

	if err := m.Thaw(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(20 * time.Second)
	for {
		r := admin.do("GET", "/products/hr/releases/1.0.0/artifacts/a.bin", nil)
		if r.status == 200 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no recovery after SIGCONT: %d %s", r.status, r.body)
		}
		time.Sleep(200 * time.Millisecond)
	}
	admin.put("/products/hr/releases/1.0.0/artifacts/b.bin", upload{size: 1000, seed: 2}).must(t, 201)
}
