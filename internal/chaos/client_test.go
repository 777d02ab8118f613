package chaos_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"sync"
	"testing"

	"github.com/reliquary/reliquary/storage/storagetest"
)

// caller is one token talking to the server with no retries, so the test
// knows exactly which requests were acknowledged.
type caller struct {
	base  string
	token string
	hc    *http.Client
}

func newCaller(base, token string, hc *http.Client) *caller {
	return &caller{base: base + "/api/v1", token: token, hc: hc}
}

// call sends a JSON request; err is a transport error (no answer).
func (c *caller) call(ctx context.Context, method, path string, in any) (int, []byte, error) {
	var body io.Reader = http.NoBody
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return 0, nil, err
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, body)
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("Authorization", "Bearer "+c.token)
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return 0, nil, err
	}
	return resp.StatusCode, b, nil
}

// upload streams the deterministic bytes of (seed, size) with their digest
// declared.
func (c *caller) upload(ctx context.Context, path string, seed, size int64) (int, []byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPut, c.base+path, storagetest.NewStream(seed, size))
	if err != nil {
		return 0, nil, err
	}
	req.ContentLength = size
	req.Header.Set("Authorization", "Bearer "+c.token)
	req.Header.Set("Content-Type", "application/octet-stream")
	req.Header.Set("X-Checksum-Sha256", digest(seed, size))
	resp, err := c.hc.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return 0, nil, err
	}
	return resp.StatusCode, b, nil
}

// download returns the status, the SHA-256 (hex) and length of the body.
func (c *caller) download(ctx context.Context, path string) (int, string, int64, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.base+path, nil)
	if err != nil {
		return 0, "", 0, err
	}
	req.Header.Set("Authorization", "Bearer "+c.token)
	resp, err := c.hc.Do(req)
	if err != nil {
		return 0, "", 0, err
	}
	defer resp.Body.Close()
	h := sha256.New()
	n, err := io.Copy(h, resp.Body)
	if err != nil {
		return resp.StatusCode, "", n, err
	}
	return resp.StatusCode, hex.EncodeToString(h.Sum(nil)), n, nil
}

// must fails the test unless the call answered status.
func (c *caller) must(t *testing.T, status int, method, path string, in any) []byte {
	t.Helper()
	got, b, err := c.call(context.Background(), method, path, in)
	if err != nil || got != status {
		t.Fatalf("%s %s: %d %s %v, want %d", method, path, got, b, err, status)
	}
	return b
}

// token creates a token and returns its secret.
func (c *caller) newToken(t *testing.T, name, role string) string {
	t.Helper()
	var v struct{ Secret string }
	if err := json.Unmarshal(c.must(t, 201, "POST", "/tokens", map[string]any{"name": name, "role": role}), &v); err != nil || v.Secret == "" {
		t.Fatalf("token %s: %v", name, err)
	}
	return v.Secret
}

var (
	digestsMu sync.Mutex
	digests   = map[[2]int64]string{}
)

// digest is the hex SHA-256 of the bytes of (seed, size), memoised.
func digest(seed, size int64) string {
	digestsMu.Lock()
	d, ok := digests[[2]int64{seed, size}]
	digestsMu.Unlock()
	if ok {
		return d
	}
	h := sha256.New()
	_, _ = io.Copy(h, storagetest.NewStream(seed, size))
	d = hex.EncodeToString(h.Sum(nil))
	digestsMu.Lock()
	digests[[2]int64{seed, size}] = d
	digestsMu.Unlock()
	return d
}

func artifactPath(product, version, name string) string {
	return fmt.Sprintf("/products/%s/releases/%s/artifacts/%s", product, version, name)
}
