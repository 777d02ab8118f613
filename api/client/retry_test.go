package client_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/reliquary/reliquary/api/client"
	"github.com/reliquary/reliquary/internal/library"
)

// flaky answers each request with the next status of script (the last
// repeats), recording what it received.
type flaky struct {
	mu     sync.Mutex
	script []int
	calls  int
	bodies []string
}

func (f *flaky) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	status := f.script[min(f.calls, len(f.script)-1)]
	f.calls++
	b, _ := io.ReadAll(r.Body)
	f.bodies = append(f.bodies, string(b))
	f.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	if status >= 400 {
		code := "X"
		if status == http.StatusTooManyRequests {
			code = "TOO_MANY_UPLOADS"
		}
		_ = json.NewEncoder(w).Encode(map[string]any{"error": map[string]any{"code": code, "message": "m", "details": map[string]any{"k": "v"}}})
		return
	}
	_, _ = w.Write([]byte(`{"name":"hr","sha256":"ab","status":"ok"}`))
}

func fast(url string) *client.Client {
	return client.New(url, "tok", client.WithBackoff(time.Millisecond), client.WithRetries(3))
}

func TestRetries(t *testing.T) {
	ctx := context.Background()
	cases := []struct {
		name   string
		script []int
		call   func(c *client.Client) error
		calls  int
		status int // 0: success
	}{
		{"GET retried on 503 then ok", []int{503, 502, 200}, func(c *client.Client) error { _, err := c.Product(ctx, "hr"); return err }, 3, 0},
		{"GET gives up after the retries", []int{504}, func(c *client.Client) error { _, err := c.Product(ctx, "hr"); return err }, 4, 504},
		{"GET never retries a 4xx", []int{404, 200}, func(c *client.Client) error { _, err := c.Product(ctx, "hr"); return err }, 1, 404},
		{"POST is not retried", []int{503, 200}, func(c *client.Client) error { _, err := c.Seal(ctx, "hr", "1.0.0", ""); return err }, 1, 503},
		{"seekable upload is retried with the whole body", []int{502, 201}, func(c *client.Client) error {
			_, _, err := c.Upload(ctx, client.UploadInput{Product: "hr", Version: "1.0.0", Name: "a", Body: strings.NewReader("hello"), Size: 5})
			return err
		}, 2, 0},
		{"upload of a plain reader is not retried", []int{502, 201}, func(c *client.Client) error {
			_, _, err := c.Upload(ctx, client.UploadInput{Product: "hr", Version: "1.0.0", Name: "a", Body: io.MultiReader(strings.NewReader("hello")), Size: 5})
			return err
		}, 1, 502},
		{"upload waits for a free slot on 429 TOO_MANY_UPLOADS", []int{429, 429, 201}, func(c *client.Client) error {
			_, _, err := c.Upload(ctx, client.UploadInput{Product: "hr", Version: "1.0.0", Name: "a", Body: strings.NewReader("hello"), Size: 5})
			return err
		}, 3, 0},
		{"GET does not retry a 429", []int{429, 200}, func(c *client.Client) error { _, err := c.Product(ctx, "hr"); return err }, 1, 429},
		{"upload never retries another 4xx", []int{409, 201}, func(c *client.Client) error {
			_, _, err := c.Upload(ctx, client.UploadInput{Product: "hr", Version: "1.0.0", Name: "a", Body: strings.NewReader("hello"), Size: 5})
			return err
		}, 1, 409},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := &flaky{script: tc.script}
			srv := httptest.NewServer(f)
			defer srv.Close()
			err := tc.call(fast(srv.URL))
			if f.calls != tc.calls {
				t.Errorf("calls %d, want %d", f.calls, tc.calls)
			}
			var e *client.Error
			switch {
			case tc.status == 0 && err != nil:
				t.Errorf("error %v", err)
			case tc.status != 0 && (!errors.As(err, &e) || e.Status != tc.status || e.Code == "" || e.Details["k"] != "v"):
				t.Errorf("error %#v, want status %d with the envelope", err, tc.status)
			}
			for i, b := range f.bodies {
				if strings.Contains(tc.name, "upload") && b != "hello" {
					t.Errorf("attempt %d sent %q", i, b)
				}
			}
		})
	}
}

func TestRetryOnConnectionError(t *testing.T) {
	var calls int
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls++
		if calls == 1 {
			panic(http.ErrAbortHandler) // the connection drops without an answer
		}
		_, _ = w.Write([]byte(`{"name":"hr"}`))
	}))
	defer srv.Close()
	p, err := fast(srv.URL).Product(context.Background(), "hr")
	if err != nil || p.Name != "hr" || calls != 2 {
		t.Fatalf("product %+v, err %v, calls %d", p, err, calls)
	}
}

// TestDownloadToResumes cuts the first download half way: DownloadTo asks
// for the rest with Range and If-Range and the bytes come out whole.
func TestDownloadToResumes(t *testing.T) {
	data := randomBytes(t, 1<<20)
	var mu sync.Mutex
	var ranges []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		ranges = append(ranges, r.Method+" "+r.Header.Get("Range")+" "+r.Header.Get("If-Range"))
		first := len(ranges) == 1
		mu.Unlock()
		w.Header().Set("ETag", `"`+hexSum(data)+`"`)
		if first {
			w.Header().Set("Content-Length", "1048576")
			_, _ = w.Write(data[:len(data)/2])
			w.(http.Flusher).Flush()
			panic(http.ErrAbortHandler)
		}
		http.ServeContent(w, r, "a.bin", time.Time{}, bytes.NewReader(data))
	}))
	defer srv.Close()
	w := &bytesWriterAt{}
	var last int64
	n, err := fast(srv.URL).DownloadTo(context.Background(), "hr", "1.0.0", "a.bin", w, 0, func(done, total int64) { last = done })
	if err != nil || n != int64(len(data)) || !bytes.Equal(w.b, data) || last != n {
		t.Fatalf("n=%d err=%v equal=%v last=%d", n, err, bytes.Equal(w.b, data), last)
	}
	want := "GET bytes=524288- \"" + hexSum(data) + "\""
	if len(ranges) != 2 || ranges[1] != want {
		t.Fatalf("requests %q, want the second %q", ranges, want)
	}
}

// TestRedirectDropsAuthorization: a presigned URL on another port must
// not receive the bearer token.
func TestRedirectDropsAuthorization(t *testing.T) {
	var auth = "unset"
	target := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		auth = r.Header.Get("Authorization")
		_, _ = w.Write([]byte("bytes"))
	}))
	defer target.Close()
	front := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, target.URL+"/bucket/key?X-Amz-Signature=1", http.StatusTemporaryRedirect)
	}))
	defer front.Close()
	d, err := fast(front.URL).Download(context.Background(), "hr", "1.0.0", "a", 0, "")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(d.Body)
	d.Body.Close()
	if string(b) != "bytes" || auth != "" {
		t.Fatalf("body %q, Authorization at the target %q", b, auth)
	}
}

func TestNewValidatesURL(t *testing.T) {
	for _, u := range []string{"", "ftp://x", "not a url", "localhost:8080"} {
		if _, err := client.New(u, "").Product(context.Background(), "hr"); err == nil || !strings.Contains(err.Error(), "URL") {
			t.Errorf("%q: %v", u, err)
		}
	}
	if got := client.New("http://h:1/api/v1/", "").BaseURL(); got != "http://h:1" {
		t.Errorf("base %q", got)
	}
}

// TestTypesMatchServer decodes the server's types strictly into the
// client's, so a field added on one side only is caught.
func TestTypesMatchServer(t *testing.T) {
	now := time.Now()
	cases := []struct {
		server, client any
	}{
		{&library.Release{Product: "hr", SealedAt: &now, ReleasedAt: &now, Withdrawn: &library.Withdrawal{Reason: "x"},
			Approvals: []library.Approval{{By: "a"}}, History: []library.Transition{{To: "draft"}},
			Artifacts: []library.Artifact{{Name: "a", OS: "linux", Arch: "amd64", Signature: "s", KeyID: "k"}},
			SealedBy:  "ci", ManifestDigest: "sha256:00", ReleasedBy: "bob"}, &client.Release{}},
		{&library.Product{Name: "hr", Policy: library.DefaultPolicy()}, &client.Product{}},
	}
	for _, tc := range cases {
		b, err := json.Marshal(tc.server)
		if err != nil {
			t.Fatal(err)
		}
		dec := json.NewDecoder(bytes.NewReader(b))
		dec.DisallowUnknownFields()
		if err := dec.Decode(tc.client); err != nil {
			t.Errorf("%T into %T: %v", tc.server, tc.client, err)
		}
		back, _ := json.Marshal(tc.client)
		var a, c map[string]any
		_ = json.Unmarshal(b, &a)
		_ = json.Unmarshal(back, &c)
		for k := range a {
			if _, ok := c[k]; !ok {
				t.Errorf("%T: the client drops field %q", tc.server, k)
			}
		}
	}
}
