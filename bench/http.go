package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"
)

// hc is the client every HTTP measurement uses: keep-alive, large socket
// buffers, no compression, redirects not followed (the redirect mode
// follows its 307 itself, without the bearer token).
var hc = &http.Client{
	Transport: &http.Transport{
		MaxIdleConns:        256,
		MaxIdleConnsPerHost: 256,
		IdleConnTimeout:     time.Minute,
		DisableCompression:  true,
		WriteBufferSize:     256 << 10,
		ReadBufferSize:      256 << 10,
	},
	CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
}

// drain reads r to the end through a 1 MiB buffer (io.Discard's own
// ReadFrom would read in 8 KiB steps) and returns the byte count.
func drain(r io.Reader) (int64, error) {
	return io.CopyBuffer(struct{ io.Writer }{io.Discard}, r, make([]byte, 1<<20))
}

// api sends one request to Reliquary with the admin token and decodes a
// JSON answer into out (when not nil); any status other than want fails.
func api(ctx context.Context, method, url string, body any, want int, out any) error {
	var r io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return err
		}
		r = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, url, r)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+adminToken)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := hc.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != want {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		return fmt.Errorf("%s %s: %d, want %d: %s", method, url, resp.StatusCode, want, strings.TrimSpace(string(b)))
	}
	if out != nil {
		return json.NewDecoder(resp.Body).Decode(out)
	}
	_, err = io.Copy(io.Discard, resp.Body)
	return err
}

// putArtifact uploads size bytes of the stream seed to Reliquary as a PUT
// with Content-Length and X-Checksum-Sha256.
func putArtifact(ctx context.Context, base, product, version, name string, seed uint64, size int64) error {
	url := fmt.Sprintf("%s/api/v1/products/%s/releases/%s/artifacts/%s?os=linux&arch=amd64", base, product, version, name)
	req, err := http.NewRequestWithContext(ctx, http.MethodPut, url, newGen(seed, size))
	if err != nil {
		return err
	}
	req.ContentLength = size
	req.Header.Set("Authorization", "Bearer "+adminToken)
	req.Header.Set("Content-Type", "application/octet-stream")
	req.Header.Set("X-Checksum-Sha256", digestOf(seed, size))
	resp, err := hc.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusCreated {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		return fmt.Errorf("upload %s: %d: %s", name, resp.StatusCode, strings.TrimSpace(string(b)))
	}
	_, err = io.Copy(io.Discard, resp.Body)
	return err
}

// getBody GETs url (with the token when auth) and reads the body to the
// end, returning the byte count; a 307 is answered in want307 mode by
// following Location without the token.
func getBody(ctx context.Context, url string, auth bool, want int) (int64, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return 0, err
	}
	if auth {
		req.Header.Set("Authorization", "Bearer "+adminToken)
	}
	resp, err := hc.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	if resp.StatusCode == http.StatusTemporaryRedirect && want == http.StatusTemporaryRedirect {
		io.Copy(io.Discard, resp.Body)
		return getBody(ctx, resp.Header.Get("Location"), false, http.StatusOK)
	}
	if resp.StatusCode != want {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		return 0, fmt.Errorf("GET %s: %d, want %d: %s", url, resp.StatusCode, want, strings.TrimSpace(string(b)))
	}
	return drain(resp.Body)
}
