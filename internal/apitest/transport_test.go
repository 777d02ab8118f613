package apitest_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/reliquary/reliquary/internal/apitest"
)

// recorder is a testing.TB that collects Errorf calls instead of failing.
type recorder struct {
	testing.TB
	mu   sync.Mutex
	errs []string
}

func (r *recorder) Helper() {}

func (r *recorder) Errorf(format string, args ...any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.errs = append(r.errs, fmt.Sprintf(format, args...))
}

func (r *recorder) Error(args ...any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.errs = append(r.errs, fmt.Sprint(args...))
}

func (r *recorder) all() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return strings.Join(r.errs, "\n")
}

const (
	sha  = "0c6f1c4f6d3b0f5bb1b9e8b8a4d9a2b3c1e0f9d8c7b6a5948372615049382716"
	art  = "/api/v1/products/app/releases/1.2.0/artifacts/app.tar.gz"
	b64  = "DG8cT207D1uxueiLpNmis8Hg+djHtqWUg3JhUEk4JxY="
	prod = `{"name":"app","description":"","owner":"","ci_id":"","policy":{"required_approvals":1,"four_eyes":true,"require_change_id":true,"supported_majors":1,"supported_minors":1,"allowed_types":["major"],"max_artifact_bytes":10},"created_by":"admin","created_at":"2026-01-02T03:04:05Z"}`
)

// fakeServer answers spec'd routes, some of them wrongly.
func fakeServer(t *testing.T) *httptest.Server {
	h := http.NewServeMux()
	jsonAnswer := func(status int, body string, hdr ...string) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			_, _ = io.Copy(io.Discard, r.Body)
			w.Header().Set("Content-Type", "application/json; charset=utf-8")
			for i := 0; i+1 < len(hdr); i += 2 {
				w.Header().Set(hdr[i], hdr[i+1])
			}
			w.WriteHeader(status)
			_, _ = io.WriteString(w, body)
		}
	}
	h.HandleFunc("GET /api/v1/healthz", jsonAnswer(200, `{"status":"ok"}`, "X-Request-ID", "abc"))
	h.HandleFunc("GET /api/v1/products", jsonAnswer(200, `{"items":[]}`, "X-Request-ID", "abc"))
	h.HandleFunc("POST /api/v1/products", jsonAnswer(201, prod, "X-Request-ID", "abc", "Location", "/api/v1/products/app", "X-Reliquary-Seq", "7"))
	h.HandleFunc("GET /api/v1/products/app", jsonAnswer(200, prod)) // no X-Request-ID
	h.HandleFunc("GET /api/v1/products/other", jsonAnswer(200, strings.Replace(prod, `"created_at":"2026-01-02T03:04:05Z"`, `"created_at":"yesterday"`, 1), "X-Request-ID", "abc"))
	h.HandleFunc("GET /api/v1/tokens", jsonAnswer(http.StatusTeapot, `{"error":{"code":"INTERNAL","message":"teapot"}}`, "X-Request-ID", "abc"))
	h.HandleFunc("DELETE /api/v1/tokens/{id}", jsonAnswer(404, `{"error":{"code":"NO_SUCH_CODE","message":"x"}}`, "X-Request-ID", "abc"))
	download := func(etag string, ranges bool) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("X-Request-ID", "abc")
			w.Header().Set("ETag", etag)
			if ranges {
				w.Header().Set("Accept-Ranges", "bytes")
			}
			w.Header().Set("Repr-Digest", "sha-256=:"+b64+":")
			w.Header().Set("Content-Digest", "sha-256=:"+b64+":")
			w.Header().Set("Content-Disposition", "attachment; filename=app.tar.gz")
			w.Header().Set("Last-Modified", "Fri, 02 Jan 2026 03:04:05 GMT")
			w.Header().Set("Content-Type", "application/gzip")
			_, _ = io.WriteString(w, "bytes")
		}
	}
	h.HandleFunc("GET "+art, download(`"`+sha+`"`, true))
	h.HandleFunc("HEAD "+art, download(`"`+sha+`"`, false)) // no Accept-Ranges
	h.HandleFunc("GET /api/v1/products/app/releases/1.0.0/artifacts/app.tar.gz", download("weak-etag", true))
	h.HandleFunc("GET "+art+"/signature", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Request-ID", "abc")
		w.Header().Set("Content-Type", "image/png")
		_, _ = io.WriteString(w, "png")
	})
	h.HandleFunc("PUT "+art, jsonAnswer(201, `{"name":"app.tar.gz","size":5,"sha256":"`+sha+`","media_type":"application/gzip","uploaded_by":"ci","uploaded_at":"2026-01-02T03:04:05Z"}`,
		"X-Request-ID", "abc", "Location", art, "ETag", `"`+sha+`"`, "X-Reliquary-Seq", "8"))
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv
}

// TestTransportReportsViolations proves the transport catches what it
// must, and stays quiet on conforming exchanges.
func TestTransportReportsViolations(t *testing.T) {
	srv := fakeServer(t)
	spec := apitest.SpecPath(t)
	ctx := context.Background()
	cases := []struct {
		name         string
		ctx          context.Context
		method, path string
		body         string
		hdr          []string
		want         string // "" means: no violation
	}{
		{name: "conforming", method: "GET", path: "/api/v1/healthz"},
		{name: "conforming upload", method: "PUT", path: art + "?os=linux", body: "bytes", hdr: []string{"Content-Type", "application/gzip", "X-Checksum-Sha256", sha}},
		{name: "conforming download", method: "GET", path: art, hdr: []string{"Range", "bytes=0-1"}},
		{name: "conforming create", method: "POST", path: "/api/v1/products", body: `{"name":"app","policy":null}`, hdr: []string{"Content-Type", "application/json"}},
		{name: "wrong JSON shape", method: "GET", path: "/api/v1/products", want: `"items"`},
		{name: "missing required header", method: "GET", path: "/api/v1/products/app", want: `X-Request-ID`},
		{name: "bad date-time", method: "GET", path: "/api/v1/products/other", want: `created_at`},
		{name: "undeclared status", method: "GET", path: "/api/v1/tokens", want: "status 418 is not declared"},
		{name: "unknown error code", method: "DELETE", path: "/api/v1/tokens/tok_1", want: `"/error/code"`},
		{name: "bad ETag", method: "GET", path: "/api/v1/products/app/releases/1.0.0/artifacts/app.tar.gz", want: "ETag"},
		{name: "HEAD missing header", method: "HEAD", path: art, want: "Accept-Ranges"},
		{name: "undeclared media type", method: "GET", path: art + "/signature", want: "image/png"},
		{name: "unknown route", method: "GET", path: "/api/v1/nowhere", want: "no operation"},
		{name: "unknown field in request", method: "POST", path: "/api/v1/products", body: `{"name":"app","colour":"red"}`, hdr: []string{"Content-Type", "application/json"}, want: "colour"},
		{name: "bad path parameter", method: "GET", path: "/api/v1/products/App", want: "request"},
		{name: "bad query parameter", method: "PUT", path: art + "?os=Linux!", body: "x", hdr: []string{"Content-Type", "application/gzip"}, want: "os"},
		{name: "invalid on purpose but valid", ctx: apitest.ExpectInvalidRequest(ctx), method: "GET", path: "/api/v1/healthz", want: "spec accepts it"},
		{name: "invalid on purpose", ctx: apitest.ExpectInvalidRequest(ctx), method: "POST", path: "/api/v1/products", body: `{"colour":"red"}`, hdr: []string{"Content-Type", "application/json"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			rec := &recorder{TB: t}
			hc := &http.Client{Transport: apitest.Transport(rec, spec, nil)}
			c := tc.ctx
			if c == nil {
				c = ctx
			}
			var body io.Reader
			if tc.body != "" {
				body = strings.NewReader(tc.body)
			}
			req, err := http.NewRequestWithContext(c, tc.method, srv.URL+tc.path, body)
			if err != nil {
				t.Fatal(err)
			}
			for i := 0; i+1 < len(tc.hdr); i += 2 {
				req.Header.Set(tc.hdr[i], tc.hdr[i+1])
			}
			resp, err := hc.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			// The caller still gets the whole body.
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if tc.method != "HEAD" && resp.StatusCode != 404 && len(b) == 0 {
				t.Errorf("the response body was lost")
			}
			got := rec.all()
			switch {
			case tc.want == "" && got != "":
				t.Errorf("unexpected violations:\n%s", got)
			case tc.want != "" && !strings.Contains(got, tc.want):
				t.Errorf("want a violation mentioning %q, got:\n%s", tc.want, got)
			case tc.want != "" && !strings.Contains(got, tc.method+" "+tc.path):
				t.Errorf("the report does not name %s %s:\n%s", tc.method, tc.path, got)
			}
		})
	}
}

// TestTransportConcurrent uses one transport from many goroutines (-race).
func TestTransportConcurrent(t *testing.T) {
	srv := fakeServer(t)
	rec := &recorder{TB: t}
	hc := &http.Client{Transport: apitest.Transport(rec, apitest.SpecPath(t), nil)}
	var wg sync.WaitGroup
	for i := range 16 {
		wg.Go(func() {
			path := "/api/v1/healthz"
			if i%2 == 1 {
				path = "/api/v1/products"
			}
			resp, err := hc.Get(srv.URL + path)
			if err != nil {
				t.Error(err)
				return
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		})
	}
	wg.Wait()
	rec.mu.Lock()
	n := 0
	for _, e := range rec.errs {
		if strings.Contains(e, "GET /api/v1/products: response 200") {
			n++
		}
	}
	rec.mu.Unlock()
	if n != 8 {
		t.Errorf("want 8 reports of the wrong shape, got %d:\n%s", n, rec.all())
	}
}
