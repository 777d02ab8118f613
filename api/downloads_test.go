package api_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	apiclient "github.com/reliquary/reliquary/api/client"
	"github.com/reliquary/reliquary/internal/testenv"
)

// downloadsEnv is a product "hr" with release 1.0.0 holding hr.bin (the
// given bytes), sealed, and a reader token.
type downloadsEnv struct {
	srv                *testenv.Server
	admin, ci, reader  *client
	readerID, readerTk string
	data               []byte
}

func newDownloadsEnv(t *testing.T, o testenv.ServerOptions, size int) *downloadsEnv {
	t.Helper()
	srv := testenv.StartServer(t, o)
	admin := newClient(t, srv, srv.AdminToken)
	tok := func(name, role string) (string, string) {
		var v struct{ ID, Secret string }
		admin.json("POST", "/tokens", map[string]any{"name": name, "role": role}).must(t, 201).decode(t, &v)
		return v.ID, v.Secret
	}
	_, ciTok := tok("ci", "publisher")
	rid, rtok := tok("installer", "reader")
	e := &downloadsEnv{srv: srv, admin: admin, ci: newClient(t, srv, ciTok), reader: newClient(t, srv, rtok),
		readerID: rid, readerTk: rtok, data: make([]byte, size)}
	_, _ = rand.Read(e.data)
	admin.json("POST", "/products", map[string]any{"name": "hr"}).must(t, 201)
	// A CI tag with its v prefix is accepted and stored without it.
	var rel struct{ Version string }
	e.ci.json("POST", "/products/hr/releases", map[string]any{"version": "v1.0.0"}).must(t, 201).decode(t, &rel)
	if rel.Version != "1.0.0" {
		t.Fatalf("release created as v1.0.0 is stored as %q, want 1.0.0", rel.Version)
	}
	e.ci.do("PUT", "/products/hr/releases/v1.0.0/artifacts/hr.bin", bytes.NewReader(e.data),
		"Content-Type", "application/octet-stream").must(t, 201)
	e.ci.json("POST", "/products/hr/releases/1.0.0/seal", nil).must(t, 200)
	return e
}

func (e *downloadsEnv) link(t *testing.T, c *client, query string) (string, time.Time) {
	t.Helper()
	var l struct {
		URL       string    `json:"url"`
		ExpiresAt time.Time `json:"expires_at"`
	}
	c.json("GET", "/products/hr/releases/1.0.0/artifacts/hr.bin/link"+query, nil).must(t, 200).decode(t, &l)
	return l.URL, l.ExpiresAt
}

// rawGet fetches a URL with no Authorization header, without following
// redirects and without the spec check (a link's URL carries its ticket).
func rawGet(t *testing.T, u string, hdr ...string) (int, http.Header, []byte) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, u, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	hc := &http.Client{Transport: httpTransport(t), CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var b bytes.Buffer
	_, _ = b.ReadFrom(resp.Body)
	return resp.StatusCode, resp.Header, b.Bytes()
}

// TestDownloadLinks: a link downloads its one artifact with no header,
// and is refused when tampered with, used for another artifact, expired,
// or once its token is revoked; bad ttl values are 400.
func TestDownloadLinks(t *testing.T) {
	e := newDownloadsEnv(t, testenv.ServerOptions{}, 100_000)

	u, exp := e.link(t, e.reader, "?ttl=10m")
	if d := time.Until(exp); d < 9*time.Minute || d > 11*time.Minute {
		t.Errorf("expires_at %s is not about 10 minutes away", exp)
	}
	if !strings.HasPrefix(u, e.srv.URL+"/api/v1/products/hr/releases/1.0.0/artifacts/hr.bin?ticket=") {
		t.Fatalf("link %s is not the artifact's URL on this server with a ticket", u)
	}
	status, h, body := rawGet(t, u)
	if status != 200 || !bytes.Equal(body, e.data) || h.Get("ETag") == "" {
		t.Fatalf("link download: %d, %d bytes (want %d)", status, len(body), len(e.data))
	}
	if _, def := e.link(t, e.reader, ""); time.Until(def) > 16*time.Minute || time.Until(def) < 14*time.Minute {
		t.Errorf("default ttl gives expires_at %s, want 15 minutes", def)
	}

	pu, _ := url.Parse(u)
	ticket := pu.Query().Get("ticket")
	refused := func(label, target string) {
		t.Helper()
		status, _, body := rawGet(t, target)
		if status != http.StatusUnauthorized || !strings.Contains(string(body), "UNAUTHENTICATED") {
			t.Errorf("%s: %d %s, want 401 UNAUTHENTICATED", label, status, body)
		}
	}
	base := e.srv.URL + "/api/v1/products/hr/releases/1.0.0/artifacts/"
	refused("tampered ticket", base+"hr.bin?ticket="+url.QueryEscape(ticket[:len(ticket)-2]+"AA"))
	refused("garbage ticket", base+"hr.bin?ticket=not-a-ticket")
	refused("another artifact", base+"other.bin?ticket="+url.QueryEscape(ticket))
	// The ticket opens downloads only, not the release or the link route.
	if status, _, _ := rawGet(t, e.srv.URL+"/api/v1/products/hr/releases/1.0.0?ticket="+url.QueryEscape(ticket)); status != 401 {
		t.Errorf("ticket on the release route: %d, want 401", status)
	}

	for _, bad := range []string{"0s", "-1m", "abc", "169h", "1ms"} {
		r := e.reader.hostileClient().json("GET", "/products/hr/releases/1.0.0/artifacts/hr.bin/link?ttl="+bad, nil)
		if r.status != 400 || r.errCode() != "INVALID_INPUT" {
			t.Errorf("ttl=%s: %d %s, want 400 INVALID_INPUT", bad, r.status, r.body)
		}
	}
	if r := e.reader.hostileClient().json("GET", "/products/hr/releases/1.0.0/artifacts/nope.bin/link", nil); r.status != 404 {
		t.Errorf("link to a missing artifact: %d", r.status)
	}

	short, _ := e.link(t, e.reader, "?ttl=1s")
	time.Sleep(2100 * time.Millisecond)
	refused("expired link", short)

	e.admin.json("DELETE", "/tokens/"+e.readerID, nil).must(t, 204)
	refused("link of a revoked token", u)
}

// TestConditionalDownloads: If-None-Match and If-Modified-Since answer
// 304, a v-prefixed version in the path is the same release, and the
// manifest has an ETag and HEAD.
func TestConditionalDownloads(t *testing.T) {
	e := newDownloadsEnv(t, testenv.ServerOptions{}, 1000)
	path := "/products/hr/releases/v1.0.0/artifacts/hr.bin"
	r := e.reader.do("GET", path, nil).must(t, 200)
	if !bytes.Equal(r.body, e.data) {
		t.Fatal("download through a v-prefixed version is not the artifact")
	}
	lm, etag := r.header.Get("Last-Modified"), r.header.Get("ETag")
	lmt, err := http.ParseTime(lm)
	if err != nil {
		t.Fatalf("Last-Modified %q: %v", lm, err)
	}
	e.reader.do("GET", path, nil, "If-Modified-Since", lm).must(t, 304)
	e.reader.do("GET", path, nil, "If-Modified-Since", lmt.Add(time.Hour).Format(http.TimeFormat)).must(t, 304)
	e.reader.do("GET", path, nil, "If-Modified-Since", lmt.Add(-time.Second).Format(http.TimeFormat)).must(t, 200)
	e.reader.hostileClient().do("GET", path, nil, "If-Modified-Since", "yesterday").must(t, 200)
	// If-None-Match wins over If-Modified-Since (RFC 9110 §13.2.2).
	e.reader.do("GET", path, nil, "If-None-Match", `"other"`, "If-Modified-Since", lm).must(t, 200)
	e.reader.do("HEAD", path, nil, "If-None-Match", etag).must(t, 304)

	m := e.reader.do("GET", "/products/hr/releases/1.0.0/manifest", nil).must(t, 200)
	metag := m.header.Get("ETag")
	if len(metag) != 66 || !json.Valid(m.body) {
		t.Fatalf("manifest ETag %q", metag)
	}
	hd := e.reader.do("HEAD", "/products/hr/releases/v1.0.0/manifest", nil).must(t, 200)
	if len(hd.body) != 0 || hd.header.Get("ETag") != metag || hd.header.Get("Content-Length") != strconv.Itoa(len(m.body)) {
		t.Errorf("manifest HEAD: %d body bytes, ETag %q, Content-Length %q", len(hd.body), hd.header.Get("ETag"), hd.header.Get("Content-Length"))
	}
	e.reader.do("GET", "/products/hr/releases/1.0.0/manifest", nil, "If-None-Match", metag).must(t, 304)
}

// TestRedirectClients runs the real wget, aria2c (-x 4) and curl against
// a MinIO-backed server in redirect mode: each gets the exact bytes. curl
// and the Go client take the 307 to a presigned URL on the public
// endpoint; wget and aria2c, which forward Authorization across hosts, are
// served directly; conditional requests are answered 304 before any
// redirect; a download link works with wget and no header.
func TestRedirectClients(t *testing.T) {
	testenv.RequireTool(t, "minio", testenv.MinIOBinary(), "make tools")
	for _, tool := range []string{"wget", "aria2c", "curl"} {
		p, _ := exec.LookPath(tool)
		testenv.RequireTool(t, tool, p, "make tools (apt-get install wget aria2 curl)")
	}
	cfg := testenv.SharedMinIO(t).Config(t)
	// The service reaches MinIO at 127.0.0.1; downloaders at "localhost".
	_, port, _ := strings.Cut(cfg.Endpoint, ":")
	cfg.PublicEndpoint = "http://localhost:" + port
	e := newDownloadsEnv(t, testenv.ServerOptions{Store: "s3", S3: &cfg, Downloads: "redirect"}, 6<<20+12345)
	art := e.srv.URL + "/api/v1/products/hr/releases/1.0.0/artifacts/hr.bin"
	auth := "Authorization: Bearer " + e.readerTk

	// Who takes which path.
	for _, ua := range []string{"curl/8.5.0", "Mozilla/5.0 (X11; Linux x86_64) Chrome/130", "reliquary-cli"} {
		status, h, _ := rawGet(t, art, "Authorization", "Bearer "+e.readerTk, "User-Agent", ua)
		loc, _ := url.Parse(h.Get("Location"))
		if status != http.StatusTemporaryRedirect || loc == nil || loc.Host != "localhost:"+port {
			t.Errorf("User-Agent %s: %d to %q, want 307 to the public endpoint localhost:%s", ua, status, h.Get("Location"), port)
		}
	}
	for _, ua := range []string{"Wget/1.21.4", "aria2/1.37.0"} {
		status, _, body := rawGet(t, art, "Authorization", "Bearer "+e.readerTk, "User-Agent", ua)
		if status != 200 || !bytes.Equal(body, e.data) {
			t.Errorf("User-Agent %s: %d with %d bytes, want 200 with the artifact", ua, status, len(body))
		}
	}
	// 304 before redirecting.
	sum := sha256.Sum256(e.data)
	status, _, _ := rawGet(t, art, "Authorization", "Bearer "+e.readerTk, "If-None-Match", `"`+hex.EncodeToString(sum[:])+`"`)
	if status != http.StatusNotModified {
		t.Errorf("If-None-Match in redirect mode: %d, want 304", status)
	}
	status, _, _ = rawGet(t, art, "Authorization", "Bearer "+e.readerTk, "If-Modified-Since", time.Now().Add(time.Hour).UTC().Format(http.TimeFormat))
	if status != http.StatusNotModified {
		t.Errorf("If-Modified-Since in redirect mode: %d, want 304", status)
	}

	dir := t.TempDir()
	run := func(name string, argv ...string) {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		out, err := exec.CommandContext(ctx, argv[0], argv[1:]...).CombinedOutput()
		if err != nil {
			t.Fatalf("%s: %v\n%s", strings.Join(argv, " "), err, out)
		}
		got, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil || !bytes.Equal(got, e.data) {
			t.Errorf("%s: %d bytes, not byte-exact with the %d uploaded (%v)\n%s", argv[0], len(got), len(e.data), err, out)
		}
	}
	run("curl.bin", "curl", "-sSfL", "-H", auth, "-o", filepath.Join(dir, "curl.bin"), art)
	run("wget.bin", "wget", "-q", "--header", auth, "-O", filepath.Join(dir, "wget.bin"), art)
	run("aria2.bin", "aria2c", "-q", "-x", "4", "-s", "4", "-k", "1M", "--min-split-size=1M", "--allow-overwrite=true",
		"--header", auth, "-d", dir, "-o", "aria2.bin", art)
	link, _ := e.link(t, e.reader, "?ttl=5m")
	run("link.bin", "wget", "-q", "-O", filepath.Join(dir, "link.bin"), link)
	run("link-aria2.bin", "aria2c", "-q", "-x", "4", "-s", "4", "-k", "1M", "--min-split-size=1M", "-d", dir, "-o", "link-aria2.bin", link)

	// The Go client follows the 307 without its token and gets the bytes.
	c := apiclient.New(e.srv.URL, e.readerTk)
	var buf writerAtBuffer
	n, err := c.DownloadTo(context.Background(), "hr", "1.0.0", "hr.bin", &buf, 0, nil)
	if err != nil || n != int64(len(e.data)) || !bytes.Equal(buf.b, e.data) {
		t.Errorf("Go client in redirect mode: %d bytes, %v", n, err)
	}
}

type writerAtBuffer struct{ b []byte }

func (w *writerAtBuffer) WriteAt(p []byte, off int64) (int, error) {
	if end := off + int64(len(p)); end > int64(len(w.b)) {
		w.b = append(w.b, make([]byte, end-int64(len(w.b)))...)
	}
	return copy(w.b[off:], p), nil
}

// TestJSONAnswersEndWithNewline: gin-rendered JSON (answers and errors)
// ends with "\n"; exact bytes (an artifact uploaded as JSON, the signed
// manifest) are served unchanged; resolve shows release.artifacts.
func TestJSONAnswersEndWithNewline(t *testing.T) {
	e := newDownloadsEnv(t, testenv.ServerOptions{}, 10)
	for _, path := range []string{"/products", "/products/hr/releases/1.0.0", "/products/nope"} {
		r := e.reader.do("GET", path, nil)
		if !bytes.HasSuffix(r.body, []byte("}\n")) {
			t.Errorf("GET %s: body does not end with a newline: %q", path, r.body[max(0, len(r.body)-20):])
		}
	}
	doc := []byte(`{"exact":true}`)
	e.ci.json("POST", "/products/hr/releases", map[string]any{"version": "1.1.0"}).must(t, 201)
	e.ci.do("PUT", "/products/hr/releases/1.1.0/artifacts/doc.json", bytes.NewReader(doc),
		"Content-Type", "application/json; charset=utf-8").must(t, 201)
	if r := e.reader.do("GET", "/products/hr/releases/1.1.0/artifacts/doc.json", nil).must(t, 200); !bytes.Equal(r.body, doc) {
		t.Errorf("a JSON artifact came back as %q", r.body)
	}
	m := e.reader.do("GET", "/products/hr/releases/1.0.0/manifest", nil).must(t, 200)
	sum := sha256.Sum256(m.body)
	if m.header.Get("ETag") != `"`+hex.EncodeToString(sum[:])+`"` || bytes.HasSuffix(m.body, []byte("\n")) {
		t.Errorf("manifest bytes changed on the way: %q", m.body)
	}
	var rm struct{ Secret string }
	e.admin.json("POST", "/tokens", map[string]any{"name": "alice", "role": "release-manager"}).must(t, 201).decode(t, &rm)
	alice := newClient(t, e.srv, rm.Secret)
	alice.json("POST", "/products/hr/releases/1.0.0/approvals", map[string]string{"comment": "ok"}).must(t, 200)
	alice.json("POST", "/products/hr/releases/1.0.0/promote", map[string]string{"to": "released", "change_id": "CHG-1"}).must(t, 200)
	var res struct {
		Release struct {
			Artifacts *[]map[string]any `json:"artifacts"`
		} `json:"release"`
	}
	e.reader.do("GET", "/products/hr/resolve?constraint=^1", nil).must(t, 200).decode(t, &res)
	if res.Release.Artifacts == nil || len(*res.Release.Artifacts) != 1 {
		t.Errorf("resolve answer's release.artifacts: %v, want the release's one artifact", res.Release.Artifacts)
	}
}
