package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"strings"
	"testing"

	"github.com/reliquary/reliquary/api"
	"github.com/reliquary/reliquary/internal/apitest"
	"github.com/reliquary/reliquary/internal/testenv"
)

func TestMain(m *testing.M) {
	code := m.Run()
	testenv.StopShared()
	os.Exit(code)
}

// client speaks to a test server as one token.
type client struct {
	t     testing.TB
	base  string
	token string
	http  *http.Client
	// hostile marks requests that may break the spec on purpose.
	hostile bool
}

// hostileClient is a copy of c whose requests the spec check does not judge
// (their responses it still does).
func (c *client) hostileClient() *client {
	h := *c
	h.hostile = true
	return &h
}

func newClient(t testing.TB, srv *testenv.Server, token string) *client {
	return &client{t: t, base: srv.URL + api.APIPrefix, token: token, http: testHTTPClient(t)}
}

// testHTTPClient does not follow redirects, so tests see the 307s.
func testHTTPClient(t testing.TB) *http.Client {
	return &http.Client{
		Transport:     httpTransport(t),
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

type response struct {
	status int
	header http.Header
	body   []byte
}

// errCode is the error code of an error envelope ("" for none).
func (r response) errCode() string {
	var e api.ErrorBody
	_ = json.Unmarshal(r.body, &e)
	return e.Error.Code
}

func (r response) decode(t testing.TB, v any) {
	t.Helper()
	if err := json.Unmarshal(r.body, v); err != nil {
		t.Fatalf("decode %s: %v", r.body, err)
	}
}

func (c *client) do(method, path string, body io.Reader, hdr ...string) response {
	c.t.Helper()
	ctx := context.Background()
	if c.hostile {
		ctx = apitest.MayBeInvalidRequest(ctx)
	}
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
	if br, ok := body.(*bytes.Reader); ok {
		req.ContentLength = int64(br.Len())
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

func (c *client) json(method, path string, v any) response {
	c.t.Helper()
	var body io.Reader = http.NoBody
	if v != nil {
		if s, ok := v.(string); ok {
			body = bytes.NewReader([]byte(s))
		} else {
			b, err := json.Marshal(v)
			if err != nil {
				c.t.Fatal(err)
			}
			body = bytes.NewReader(b)
		}
	}
	return c.do(method, path, body, "Content-Type", "application/json")
}

// must fails the test unless the response has the status.
func (r response) must(t testing.TB, status int) response {
	t.Helper()
	if r.status != status {
		t.Fatalf("status %d, want %d: %s", r.status, status, strings.TrimSpace(string(r.body)))
	}
	return r
}
