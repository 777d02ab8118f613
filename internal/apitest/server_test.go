package apitest_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/reliquary/reliquary/api"
	"github.com/reliquary/reliquary/internal/apitest"
	"github.com/reliquary/reliquary/internal/testenv"
)

// client sends every exchange through the validating transport.
type client struct {
	t     *testing.T
	base  string
	token string
	http  *http.Client
}

type response struct {
	status int
	header http.Header
	body   []byte
}

func (r response) code() string {
	var e api.ErrorBody
	_ = json.Unmarshal(r.body, &e)
	return e.Error.Code
}

func (c *client) do(ctx context.Context, method, path string, body io.Reader, hdr ...string) response {
	c.t.Helper()
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, body)
	if err != nil {
		c.t.Fatal(err)
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := c.http.Do(req)
	if err != nil {
		c.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		c.t.Fatalf("%s %s: read body: %v", method, path, err)
	}
	return response{status: resp.StatusCode, header: resp.Header, body: b}
}

func (c *client) json(ctx context.Context, method, path, body string) response {
	c.t.Helper()
	return c.do(ctx, method, path, strings.NewReader(body), "Content-Type", "application/json")
}

func (c *client) as(token string) *client { d := *c; d.token = token; return &d }

func want(t *testing.T, what string, r response, status int, code string) {
	t.Helper()
	if r.status != status || (code != "" && r.code() != code) {
		t.Fatalf("%s: got %d %s, want %d %s: %s", what, r.status, r.code(), status, code, r.body)
	}
}

// TestServerConformsToSpec drives a real in-process server through the
// validating transport, so openapi.yaml is checked against real traffic.
func TestServerConformsToSpec(t *testing.T) {
	srv := testenv.StartServer(t, testenv.ServerOptions{})
	hc := &http.Client{
		Transport:     apitest.Transport(t, apitest.SpecPath(t), nil),
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	ctx := context.Background()
	bad := apitest.ExpectInvalidRequest(ctx)
	root := &client{t: t, base: srv.URL, http: hc}
	admin := &client{t: t, base: srv.URL + api.APIPrefix, token: srv.AdminToken, http: hc}
	anon := admin.as("")

	// Public routes.
	for _, p := range []string{"/healthz", "/readyz", "/metrics", api.APIPrefix + "/healthz", api.APIPrefix + "/readyz", api.APIPrefix + "/signing/key", api.APIPrefix + "/signing/keys"} {
		want(t, "GET "+p, root.do(ctx, http.MethodGet, p, nil), http.StatusOK, "")
	}

	// Products.
	r := admin.json(ctx, http.MethodPost, "/products", `{"name":"app","description":"the app","owner":"team","ci_id":"CI-1","policy":{"required_approvals":2,"four_eyes":null}}`)
	want(t, "create product", r, http.StatusCreated, "")
	want(t, "create product again", admin.json(ctx, http.MethodPost, "/products", `{"name":"app"}`), http.StatusConflict, "PRODUCT_EXISTS")
	want(t, "list products", admin.do(ctx, http.MethodGet, "/products", nil), http.StatusOK, "")
	want(t, "get product", admin.do(ctx, http.MethodGet, "/products/app", nil), http.StatusOK, "")
	want(t, "set policy", admin.json(ctx, http.MethodPut, "/products/app/policy", `{"allowed_types":["major","minor","emergency"],"max_artifact_bytes":1048576}`), http.StatusOK, "")
	want(t, "policy out of range", admin.json(bad, http.MethodPut, "/products/app/policy", `{"required_approvals":11}`), http.StatusBadRequest, "INVALID_INPUT")

	// Tokens.
	r = admin.json(ctx, http.MethodPost, "/tokens", `{"name":"ci-bot","role":"publisher","products":["app"]}`)
	want(t, "create token", r, http.StatusCreated, "")
	var tok struct{ ID, Secret string }
	_ = json.Unmarshal(r.body, &tok)
	pub := admin.as(tok.Secret)
	r = admin.json(ctx, http.MethodPost, "/tokens", `{"name":"reader","role":"reader"}`)
	want(t, "create reader token", r, http.StatusCreated, "")
	var rtok struct{ ID, Secret string }
	_ = json.Unmarshal(r.body, &rtok)
	reader := admin.as(rtok.Secret)
	want(t, "list tokens", admin.do(ctx, http.MethodGet, "/tokens", nil), http.StatusOK, "")
	want(t, "bad role", admin.json(bad, http.MethodPost, "/tokens", `{"name":"x","role":"root"}`), http.StatusBadRequest, "INVALID_INPUT")

	// Releases.
	want(t, "create release", pub.json(ctx, http.MethodPost, "/products/app/releases", `{"version":"1.2.0","change_id":"CHG-1","ci_ids":["ci-1"],"labels":{"env":"prod"},"notes":"first"}`), http.StatusCreated, "")
	want(t, "create release 1.0.0", pub.json(ctx, http.MethodPost, "/products/app/releases", `{"version":"1.0.0"}`), http.StatusCreated, "")
	want(t, "create prerelease", pub.json(ctx, http.MethodPost, "/products/app/releases", `{"version":"2.0.0-rc.1","labels":null,"ci_ids":null}`), http.StatusCreated, "")
	want(t, "duplicate release", pub.json(ctx, http.MethodPost, "/products/app/releases", `{"version":"1.2.0"}`), http.StatusConflict, "RELEASE_EXISTS")
	want(t, "bad version", pub.json(bad, http.MethodPost, "/products/app/releases", `{"version":"1.0"}`), http.StatusBadRequest, "INVALID_VERSION")
	want(t, "unknown field", pub.json(bad, http.MethodPost, "/products/app/releases", `{"version":"3.0.0","colour":"red"}`), http.StatusBadRequest, "INVALID_JSON")
	want(t, "unknown product", pub.json(ctx, http.MethodPost, "/products/nope/releases", `{"version":"1.0.0"}`), http.StatusForbidden, "FORBIDDEN") // scoped token
	want(t, "unknown product (admin)", admin.json(ctx, http.MethodPost, "/products/nope/releases", `{"version":"1.0.0"}`), http.StatusNotFound, "PRODUCT_NOT_FOUND")
	want(t, "get unknown product", admin.do(ctx, http.MethodGet, "/products/nope", nil), http.StatusNotFound, "PRODUCT_NOT_FOUND")
	want(t, "invalid product name", admin.do(bad, http.MethodGet, "/products/NOPE", nil), http.StatusBadRequest, "INVALID_NAME")
	want(t, "get unknown release", admin.do(ctx, http.MethodGet, "/products/app/releases/9.9.9", nil), http.StatusNotFound, "RELEASE_NOT_FOUND")
	want(t, "get release bad version", admin.do(bad, http.MethodGet, "/products/app/releases/1.2", nil), http.StatusBadRequest, "INVALID_VERSION")

	// Artifacts.
	data := bytes.Repeat([]byte("reliquary artifact bytes\n"), 4000)
	sum := sha256.Sum256(data)
	art := "/products/app/releases/1.2.0/artifacts/app-linux-amd64.tar.gz"
	r = pub.do(ctx, http.MethodPut, art+"?os=linux&arch=amd64", bytes.NewReader(data),
		"Content-Type", "application/gzip", "X-Checksum-Sha256", hex.EncodeToString(sum[:]))
	want(t, "upload", r, http.StatusCreated, "")
	etag := r.header.Get("ETag")
	r = pub.do(ctx, http.MethodPut, art+"?os=linux&arch=amd64", bytes.NewReader(data),
		"Content-Type", "application/gzip", "Content-Digest", "sha-256=:"+base64.StdEncoding.EncodeToString(sum[:])+":")
	want(t, "upload retry", r, http.StatusOK, "")
	want(t, "upload other bytes", pub.do(ctx, http.MethodPut, art, strings.NewReader("other"), "Content-Type", "application/octet-stream"), http.StatusConflict, "ARTIFACT_EXISTS")
	zero := sha256.Sum256(nil)
	want(t, "digest mismatch", pub.do(ctx, http.MethodPut, "/products/app/releases/1.2.0/artifacts/notes.txt", strings.NewReader("notes"),
		"Content-Type", "text/plain", "X-Checksum-Sha256", hex.EncodeToString(zero[:])), http.StatusBadRequest, "DIGEST_MISMATCH")
	want(t, "bad digest header", pub.do(ctx, http.MethodPut, "/products/app/releases/1.2.0/artifacts/notes.txt", strings.NewReader("notes"),
		"Content-Type", "text/plain", "Content-Digest", "sha-256=nope"), http.StatusBadRequest, "INVALID_DIGEST_HEADER")
	want(t, "upload notes", pub.do(ctx, http.MethodPut, "/products/app/releases/1.2.0/artifacts/notes.txt", strings.NewReader("notes"),
		"Content-Type", "text/plain; charset=utf-8"), http.StatusCreated, "")
	want(t, "too large", pub.do(ctx, http.MethodPut, "/products/app/releases/1.2.0/artifacts/big.bin", bytes.NewReader(make([]byte, 1<<20+1))), http.StatusRequestEntityTooLarge, "ARTIFACT_TOO_LARGE")

	r = reader.do(ctx, http.MethodGet, art, nil)
	want(t, "download", r, http.StatusOK, "")
	if !bytes.Equal(r.body, data) {
		t.Errorf("download: got %d bytes, want %d", len(r.body), len(data))
	}
	r = reader.do(ctx, http.MethodGet, art, nil, "Range", "bytes=10-19")
	want(t, "range", r, http.StatusPartialContent, "")
	if !bytes.Equal(r.body, data[10:20]) {
		t.Errorf("range: got %q, want %q", r.body, data[10:20])
	}
	want(t, "suffix range", reader.do(ctx, http.MethodGet, art, nil, "Range", "bytes=-5"), http.StatusPartialContent, "")
	want(t, "range outside", reader.do(ctx, http.MethodGet, art, nil, "Range", "bytes=999999999-"), http.StatusRequestedRangeNotSatisfiable, "RANGE_NOT_SATISFIABLE")
	want(t, "if-none-match", reader.do(ctx, http.MethodGet, art, nil, "If-None-Match", etag), http.StatusNotModified, "")
	want(t, "head", reader.do(ctx, http.MethodHead, art, nil), http.StatusOK, "")
	want(t, "head range", reader.do(ctx, http.MethodHead, art, nil, "Range", "bytes=0-0"), http.StatusPartialContent, "")
	want(t, "redirect on fs serves bytes", reader.do(ctx, http.MethodGet, art+"?redirect=1", nil), http.StatusOK, "")
	want(t, "artifact signature", reader.do(ctx, http.MethodGet, art+"/signature", nil), http.StatusOK, "")
	want(t, "unknown artifact", reader.do(ctx, http.MethodGet, "/products/app/releases/1.2.0/artifacts/nope.zip", nil), http.StatusNotFound, "ARTIFACT_NOT_FOUND")

	// Listings and a release.
	want(t, "list releases", reader.do(ctx, http.MethodGet, "/products/app/releases", nil), http.StatusOK, "")
	r = reader.do(ctx, http.MethodGet, "/products/app/releases?state=draft&type=minor&constraint=%5E1&label=env:prod&limit=1", nil)
	want(t, "filtered releases", r, http.StatusOK, "")
	r = reader.do(ctx, http.MethodGet, "/products/app/releases?limit=1", nil)
	want(t, "paged releases", r, http.StatusOK, "")
	var page api.ReleaseList
	_ = json.Unmarshal(r.body, &page)
	if page.NextCursor == "" {
		t.Fatalf("first page of one has no next_cursor: %s", r.body)
	}
	want(t, "next page", reader.do(ctx, http.MethodGet, "/products/app/releases?limit=1&cursor="+page.NextCursor, nil), http.StatusOK, "")
	want(t, "bad state filter", reader.do(bad, http.MethodGet, "/products/app/releases?state=gone", nil), http.StatusBadRequest, "INVALID_INPUT")
	want(t, "bad limit", reader.do(bad, http.MethodGet, "/products/app/releases?limit=5000", nil), http.StatusBadRequest, "INVALID_INPUT")
	want(t, "get release", reader.do(ctx, http.MethodGet, "/products/app/releases/1.2.0", nil), http.StatusOK, "")

	// Seal and manifest.
	want(t, "manifest of a draft", reader.do(ctx, http.MethodGet, "/products/app/releases/1.2.0/manifest", nil), http.StatusNotFound, "MANIFEST_NOT_FOUND")
	want(t, "seal empty", pub.do(ctx, http.MethodPost, "/products/app/releases/1.0.0/seal", nil), http.StatusConflict, "EMPTY_RELEASE")
	want(t, "delete notes", pub.do(ctx, http.MethodDelete, "/products/app/releases/1.2.0/artifacts/notes.txt", nil), http.StatusNoContent, "")
	want(t, "delete notes again", pub.do(ctx, http.MethodDelete, "/products/app/releases/1.2.0/artifacts/notes.txt", nil), http.StatusNotFound, "ARTIFACT_NOT_FOUND")
	want(t, "seal", pub.json(ctx, http.MethodPost, "/products/app/releases/1.2.0/seal", `{"comment":"ready"}`), http.StatusOK, "")
	want(t, "seal again", pub.do(ctx, http.MethodPost, "/products/app/releases/1.2.0/seal", nil), http.StatusConflict, "RELEASE_SEALED")
	want(t, "upload after seal", pub.do(ctx, http.MethodPut, "/products/app/releases/1.2.0/artifacts/late.txt", strings.NewReader("late"), "Content-Type", "text/plain"), http.StatusConflict, "RELEASE_SEALED")
	want(t, "manifest", reader.do(ctx, http.MethodGet, "/products/app/releases/1.2.0/manifest", nil), http.StatusOK, "")
	want(t, "manifest signature", reader.do(ctx, http.MethodGet, "/products/app/releases/1.2.0/manifest/signature", nil), http.StatusOK, "")

	// Lifecycle: approvals, promotion, supersession, resolution, withdrawal.
	mk := func(name, role string) *client {
		r := admin.json(ctx, http.MethodPost, "/tokens", `{"name":"`+name+`","role":"`+role+`"}`)
		want(t, "create token "+name, r, http.StatusCreated, "")
		var v struct{ Secret string }
		_ = json.Unmarshal(r.body, &v)
		return admin.as(v.Secret)
	}
	alice := mk("alice", "release-manager")
	sealer := mk("ci-bot", "release-manager") // the same person as the publisher
	rel := "/products/app/releases/1.2.0"
	want(t, "publisher approves", pub.do(ctx, http.MethodPost, rel+"/approvals", nil), http.StatusForbidden, "FORBIDDEN")
	want(t, "four eyes", sealer.do(ctx, http.MethodPost, rel+"/approvals", nil), http.StatusForbidden, "FOUR_EYES")
	want(t, "promote a candidate", alice.json(ctx, http.MethodPost, rel+"/promote", `{"to":"released","change_id":"CHG-2"}`), http.StatusConflict, "INVALID_STATE")
	want(t, "approve", alice.json(ctx, http.MethodPost, rel+"/approvals", `{"comment":"looks good"}`), http.StatusOK, "")
	want(t, "approve twice", alice.do(ctx, http.MethodPost, rel+"/approvals", nil), http.StatusConflict, "ALREADY_APPROVED")
	want(t, "promote without change", alice.json(ctx, http.MethodPost, rel+"/promote", `{"to":"released"}`), http.StatusBadRequest, "CHANGE_ID_REQUIRED")
	want(t, "promote elsewhere", alice.json(bad, http.MethodPost, rel+"/promote", `{"to":"approved","change_id":"CHG-2"}`), http.StatusBadRequest, "INVALID_INPUT")
	want(t, "promote", alice.json(ctx, http.MethodPost, rel+"/promote", `{"to":"released","change_id":"CHG-2","comment":"go"}`), http.StatusOK, "")
	want(t, "resolve", reader.do(ctx, http.MethodGet, "/products/app/resolve?constraint=%5E1&os=linux&arch=amd64&current=true", nil), http.StatusOK, "")
	want(t, "resolve no match", reader.do(ctx, http.MethodGet, "/products/app/resolve?constraint=%5E9", nil), http.StatusNotFound, "NO_MATCH")
	want(t, "resolve bad current", reader.do(bad, http.MethodGet, "/products/app/resolve?current=maybe", nil), http.StatusBadRequest, "INVALID_INPUT")

	fix := "/products/app/releases/1.2.1"
	want(t, "create fix", pub.json(ctx, http.MethodPost, "/products/app/releases", `{"version":"1.2.1","change_id":"CHG-3"}`), http.StatusCreated, "")
	want(t, "upload fix", pub.do(ctx, http.MethodPut, fix+"/artifacts/app.bin", strings.NewReader("fixed"), "Content-Type", "application/octet-stream"), http.StatusCreated, "")
	want(t, "seal fix", pub.do(ctx, http.MethodPost, fix+"/seal", nil), http.StatusOK, "")
	want(t, "approve fix", alice.do(ctx, http.MethodPost, fix+"/approvals", nil), http.StatusOK, "")
	want(t, "promote fix", alice.json(ctx, http.MethodPost, fix+"/promote", `{"to":"released","change_id":"CHG-3"}`), http.StatusOK, "")
	r = reader.do(ctx, http.MethodGet, art, nil)
	want(t, "download superseded", r, http.StatusOK, "")
	if r.header.Get("Deprecation") != "true" || r.header.Get("Link") == "" {
		t.Errorf("download of a superseded release: Deprecation %q, Link %q", r.header.Get("Deprecation"), r.header.Get("Link"))
	}
	want(t, "withdraw without reason", alice.json(bad, http.MethodPost, fix+"/withdraw", `{"change_id":"CHG-4"}`), http.StatusBadRequest, "REASON_REQUIRED")
	want(t, "withdraw", alice.json(ctx, http.MethodPost, fix+"/withdraw", `{"reason":"breaks \"login\"","change_id":"CHG-4"}`), http.StatusOK, "")
	want(t, "withdraw twice", alice.json(ctx, http.MethodPost, fix+"/withdraw", `{"reason":"again","change_id":"CHG-4"}`), http.StatusConflict, "INVALID_STATE")
	r = reader.do(ctx, http.MethodGet, fix+"/artifacts/app.bin", nil)
	want(t, "download withdrawn", r, http.StatusOK, "")
	if !strings.HasPrefix(r.header.Get("Warning"), "299 ") {
		t.Errorf("download of a withdrawn release: Warning %q", r.header.Get("Warning"))
	}
	want(t, "get withdrawn", reader.do(ctx, http.MethodGet, fix, nil), http.StatusOK, "")
	want(t, "list all", reader.do(ctx, http.MethodGet, "/products/app/releases", nil), http.StatusOK, "")

	// Authentication and authorisation.
	want(t, "no token", anon.do(ctx, http.MethodGet, "/products", nil), http.StatusUnauthorized, "UNAUTHENTICATED")
	want(t, "bad token", admin.as("rlq_not-a-token").do(ctx, http.MethodGet, "/products", nil), http.StatusUnauthorized, "UNAUTHENTICATED")
	want(t, "reader creates product", reader.json(ctx, http.MethodPost, "/products", `{"name":"other"}`), http.StatusForbidden, "FORBIDDEN")
	want(t, "publisher lists tokens", pub.do(ctx, http.MethodGet, "/tokens", nil), http.StatusForbidden, "FORBIDDEN")

	// Revocation.
	want(t, "revoke", admin.do(ctx, http.MethodDelete, "/tokens/"+tok.ID, nil), http.StatusNoContent, "")
	want(t, "revoke again", admin.do(ctx, http.MethodDelete, "/tokens/"+tok.ID, nil), http.StatusNotFound, "TOKEN_NOT_FOUND")
	want(t, "revoked token", pub.do(ctx, http.MethodGet, "/products", nil), http.StatusUnauthorized, "UNAUTHENTICATED")
}
