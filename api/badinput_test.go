package api_test

import (
	"bufio"
	"bytes"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/reliquary/reliquary/internal/testenv"
)

// Bad input is answered with the right 4xx and code, and stores nothing.
func TestBadInput(t *testing.T) {
	srv := testenv.StartServer(t, testenv.ServerOptions{})
	admin := newClient(t, srv, srv.AdminToken)
	admin.json("POST", "/products", map[string]any{"name": "app"}).must(t, 201)
	admin.json("POST", "/products", map[string]any{"name": "other"}).must(t, 201)
	admin.json("POST", "/products/app/releases", map[string]any{"version": "1.0.0"}).must(t, 201)

	var reader, publisher, scoped struct{ Secret string }
	admin.json("POST", "/tokens", map[string]any{"name": "rita", "role": "reader"}).must(t, 201).decode(t, &reader)
	admin.json("POST", "/tokens", map[string]any{"name": "paul", "role": "publisher"}).must(t, 201).decode(t, &publisher)
	admin.json("POST", "/tokens", map[string]any{"name": "sam", "role": "publisher", "products": []string{"other"}}).must(t, 201).decode(t, &scoped)
	anon := newClient(t, srv, "")
	bogus := newClient(t, srv, "rlq_not-a-real-token")
	rc := newClient(t, srv, reader.Secret)
	pc := newClient(t, srv, publisher.Secret)
	sc := newClient(t, srv, scoped.Secret)

	long := strings.Repeat("a", 300)
	cases := []struct {
		name   string
		c      *client
		method string
		path   string
		body   string
		hdr    []string
		status int
		code   string
	}{
		{"version v-prefix", admin, "POST", "/products/app/releases", `{"version":"v1.2"}`, nil, 400, "INVALID_VERSION"},
		{"version two parts", admin, "POST", "/products/app/releases", `{"version":"1.2"}`, nil, 400, "INVALID_VERSION"},
		{"version leading zero", admin, "POST", "/products/app/releases", `{"version":"01.2.3"}`, nil, 400, "INVALID_VERSION"},
		{"version build metadata", admin, "POST", "/products/app/releases", `{"version":"1.2.3+build"}`, nil, 400, "INVALID_VERSION"},
		{"version empty", admin, "POST", "/products/app/releases", `{"version":""}`, nil, 400, "INVALID_VERSION"},
		{"version in path", admin, "GET", "/products/app/releases/1.2", "", nil, 400, "INVALID_VERSION"},
		{"artifact ..", admin, "PUT", "/products/app/releases/1.0.0/artifacts/..", "x", nil, 400, "INVALID_NAME"},
		{"artifact a/b", admin, "PUT", "/products/app/releases/1.0.0/artifacts/a%2Fb", "x", nil, 400, "INVALID_NAME"},
		{"artifact %2e%2e", admin, "PUT", "/products/app/releases/1.0.0/artifacts/%2e%2e", "x", nil, 400, "INVALID_NAME"},
		{"artifact 300 chars", admin, "PUT", "/products/app/releases/1.0.0/artifacts/" + long, "x", nil, 400, "INVALID_NAME"},
		{"artifact leading dot", admin, "PUT", "/products/app/releases/1.0.0/artifacts/.hidden", "x", nil, 400, "INVALID_NAME"},
		{"artifact empty name", admin, "PUT", "/products/app/releases/1.0.0/artifacts/", "x", nil, 404, "NOT_FOUND"},
		{"wrong digest", admin, "PUT", "/products/app/releases/1.0.0/artifacts/a.bin", "hello",
			[]string{"X-Checksum-Sha256", strings.Repeat("ab", 32)}, 400, "DIGEST_MISMATCH"},
		{"wrong content-digest", admin, "PUT", "/products/app/releases/1.0.0/artifacts/a.bin", "hello",
			[]string{"Content-Digest", "sha-256=:47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=:"}, 400, "DIGEST_MISMATCH"},
		{"malformed digest header", admin, "PUT", "/products/app/releases/1.0.0/artifacts/a.bin", "hello",
			[]string{"X-Checksum-Sha256", "xyz"}, 400, "INVALID_DIGEST_HEADER"},
		{"unknown product", admin, "GET", "/products/nope", "", nil, 404, "PRODUCT_NOT_FOUND"},
		{"unknown product releases", admin, "GET", "/products/nope/releases", "", nil, 404, "PRODUCT_NOT_FOUND"},
		{"unknown release", admin, "GET", "/products/app/releases/9.9.9", "", nil, 404, "RELEASE_NOT_FOUND"},
		{"unknown release upload", admin, "PUT", "/products/app/releases/9.9.9/artifacts/a.bin", "x", nil, 404, "RELEASE_NOT_FOUND"},
		{"unknown artifact", admin, "GET", "/products/app/releases/1.0.0/artifacts/none.bin", "", nil, 404, "ARTIFACT_NOT_FOUND"},
		{"bad product name", admin, "POST", "/products", `{"name":"Bad Name"}`, nil, 400, "INVALID_NAME"},
		{"no token", anon, "GET", "/products", "", nil, 401, "UNAUTHENTICATED"},
		{"no token upload", anon, "PUT", "/products/app/releases/1.0.0/artifacts/a.bin", "x", nil, 401, "UNAUTHENTICATED"},
		{"bad token", bogus, "GET", "/products", "", nil, 401, "UNAUTHENTICATED"},
		{"reader uploads", rc, "PUT", "/products/app/releases/1.0.0/artifacts/a.bin", "x", nil, 403, "FORBIDDEN"},
		{"reader creates release", rc, "POST", "/products/app/releases", `{"version":"2.0.0"}`, nil, 403, "FORBIDDEN"},
		{"publisher creates product", pc, "POST", "/products", `{"name":"p2"}`, nil, 403, "FORBIDDEN"},
		{"publisher lists tokens", pc, "GET", "/tokens", "", nil, 403, "FORBIDDEN"},
		{"out of scope upload", sc, "PUT", "/products/app/releases/1.0.0/artifacts/a.bin", "x", nil, 403, "FORBIDDEN"},
		{"out of scope read", sc, "GET", "/products/app", "", nil, 403, "FORBIDDEN"},
		{"oversized JSON", admin, "POST", "/products/app/releases", `{"version":"1.0.1","notes":"` + strings.Repeat("n", 2<<20) + `"}`, nil, 413, "BODY_TOO_LARGE"},
		{"unknown JSON field", admin, "POST", "/products/app/releases", `{"version":"1.0.1","colour":"red"}`, nil, 400, "INVALID_JSON"},
		{"field name in other case", admin, "POST", "/products/app/releases", `{"VERSION":"1.0.1"}`, nil, 400, "INVALID_JSON"},
		{"nested field in other case", admin, "POST", "/products", `{"name":"p9","policy":{"Four_Eyes":false}}`, nil, 400, "INVALID_JSON"},
		{"malformed JSON", admin, "POST", "/products/app/releases", `{"version":`, nil, 400, "INVALID_JSON"},
		{"trailing JSON", admin, "POST", "/products/app/releases", `{"version":"1.0.1"} {}`, nil, 400, "INVALID_JSON"},
		{"wrong JSON type", admin, "POST", "/products/app/releases", `{"version":1}`, nil, 400, "INVALID_JSON"},
		{"bad role", admin, "POST", "/tokens", `{"name":"x","role":"god"}`, nil, 400, "INVALID_INPUT"},
		{"null policy", admin, "PUT", "/products/app/policy", `null`, nil, 400, "INVALID_JSON"},
		{"bad policy", admin, "PUT", "/products/app/policy", `{"required_approvals":0}`, nil, 400, "INVALID_INPUT"},
		{"bad state filter", admin, "GET", "/products/app/releases?state=gone", "", nil, 400, "INVALID_INPUT"},
		{"bad constraint", admin, "GET", "/products/app/releases?constraint=%5E%5E1", "", nil, 400, "INVALID_INPUT"},
		{"bad limit", admin, "GET", "/products/app/releases?limit=-1", "", nil, 400, "INVALID_INPUT"},
		{"bad os", admin, "PUT", "/products/app/releases/1.0.0/artifacts/a.bin?os=Lin%20ux", "x", nil, 400, "INVALID_INPUT"},
		{"unknown route", admin, "GET", "/nothing", "", nil, 404, "NOT_FOUND"},
		{"wrong method", admin, "PATCH", "/products", "", nil, 405, "METHOD_NOT_ALLOWED"},
		{"unknown token", admin, "DELETE", "/tokens/tok_none", "", nil, 404, "TOKEN_NOT_FOUND"},
		{"seal empty release", admin, "POST", "/products/app/releases/1.0.0/seal", "", nil, 409, "EMPTY_RELEASE"},
		{"manifest of a draft", admin, "GET", "/products/app/releases/1.0.0/manifest", "", nil, 404, "MANIFEST_NOT_FOUND"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			hdr := append([]string{"Content-Type", "application/json"}, tc.hdr...)
			r := tc.c.hostileClient().do(tc.method, tc.path, bytes.NewReader([]byte(tc.body)), hdr...)
			if r.status != tc.status || r.errCode() != tc.code {
				t.Errorf("%s %s: %d %s, want %d %s", tc.method, tc.path, r.status, r.body, tc.status, tc.code)
			}
			if tc.status >= 400 && r.header.Get("Content-Type") != "application/json; charset=utf-8" {
				t.Errorf("error answered as %q", r.header.Get("Content-Type"))
			}
		})
	}
	if got := nonJournalObjects(t, srv); len(got) != 0 {
		t.Errorf("bad input left objects in the store: %q", got)
	}
	var rel struct{ Artifacts []any }
	admin.json("GET", "/products/app/releases/1.0.0", nil).must(t, 200).decode(t, &rel)
	if len(rel.Artifacts) != 0 {
		t.Errorf("bad input left index records: %v", rel.Artifacts)
	}
}

// Uploads that fail part way store nothing and record nothing.
func TestFailedUploadsLeaveNothing(t *testing.T) {
	stores(t, func(t *testing.T, store string) {
		srv := testenv.StartServer(t, testenv.ServerOptions{Store: store})
		admin := newClient(t, srv, srv.AdminToken)
		admin.json("POST", "/products", map[string]any{"name": "app", "policy": map[string]any{"max_artifact_bytes": 1 << 20}}).must(t, 201)
		admin.json("POST", "/products/app/releases", map[string]any{"version": "1.0.0"}).must(t, 201)
		path := "/products/app/releases/1.0.0/artifacts/"

		// Too large, declared: refused before reading.
		if r := admin.put(path+"big.bin", upload{size: 2 << 20, seed: 1}); r.status != 413 || r.errCode() != "ARTIFACT_TOO_LARGE" {
			t.Errorf("declared oversize: %d %s", r.status, r.body)
		}
		// Too large, chunked: cut off while streaming.
		req, _ := http.NewRequest("PUT", admin.base+path+"chunked.bin", struct{ *bytes.Reader }{bytes.NewReader(make([]byte, 3<<20))})
		req.Header.Set("Authorization", "Bearer "+admin.token)
		if resp, err := admin.http.Do(req); err == nil {
			resp.Body.Close()
			if resp.StatusCode != 413 {
				t.Errorf("chunked oversize: %d", resp.StatusCode)
			}
		}
		// A client that promises more than it sends and hangs up.
		u, _ := url.Parse(srv.URL)
		for _, cut := range []int{0, 1000, 300_000} {
			conn, err := net.Dial("tcp", u.Host)
			if err != nil {
				t.Fatal(err)
			}
			fmt.Fprintf(conn, "PUT /api/v1%scut%d.bin HTTP/1.1\r\nHost: %s\r\nAuthorization: Bearer %s\r\nContent-Length: 500000\r\n\r\n", path, cut, u.Host, admin.token)
			_, _ = conn.Write(make([]byte, cut))
			conn.(*net.TCPConn).CloseWrite()
			_ = conn.SetReadDeadline(time.Now().Add(10 * time.Second))
			resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
			if err == nil && resp.StatusCode < 400 {
				t.Errorf("short body of %d bytes answered %d", cut, resp.StatusCode)
			}
			conn.Close()
		}
		// Let the server finish the aborted requests.
		deadline := time.Now().Add(10 * time.Second)
		for time.Now().Before(deadline) && len(nonJournalObjects(t, srv)) > 0 {
			time.Sleep(50 * time.Millisecond)
		}
		if got := nonJournalObjects(t, srv); len(got) != 0 {
			t.Errorf("failed uploads left objects: %q", got)
		}
		var rel struct{ Artifacts []any }
		admin.json("GET", "/products/app/releases/1.0.0", nil).must(t, 200).decode(t, &rel)
		if len(rel.Artifacts) != 0 {
			t.Errorf("failed uploads left index records: %v", rel.Artifacts)
		}
	})
}

// nonJournalObjects lists the store's objects but the journal's: every
// committed change has its journal object (DESIGN §9).
func nonJournalObjects(t *testing.T, srv *testenv.Server) []string {
	t.Helper()
	return slices.DeleteFunc(srv.Objects(t, ""), func(k string) bool { return strings.HasPrefix(k, "journal/") })
}
