package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/reliquary/reliquary/api/client"
	"github.com/reliquary/reliquary/internal/signing"
	"github.com/reliquary/reliquary/internal/testenv"
)

// rewritingProxy sits between an installer and the real server, as a
// man-in-the-middle on plain http or a compromised server would: rewrite,
// when set, may change a request before it is forwarded and edit the
// response.
type rewritingProxy struct {
	rp      *httputil.ReverseProxy
	mu      sync.Mutex
	request func(r *http.Request)
	body    func(r *http.Request, body []byte) []byte
}

func newRewritingProxy(t *testing.T, backend string) (*rewritingProxy, string) {
	u, err := url.Parse(backend)
	if err != nil {
		t.Fatal(err)
	}
	p := &rewritingProxy{}
	p.rp = &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.SetURL(u)
			p.mu.Lock()
			f := p.request
			p.mu.Unlock()
			if f != nil {
				f(pr.Out)
			}
		},
		ModifyResponse: func(resp *http.Response) error {
			p.mu.Lock()
			f := p.body
			p.mu.Unlock()
			if f == nil {
				return nil
			}
			b, err := io.ReadAll(resp.Body)
			resp.Body.Close()
			if err != nil {
				return err
			}
			b = f(resp.Request, b)
			resp.Body = io.NopCloser(bytes.NewReader(b))
			resp.ContentLength = int64(len(b))
			resp.Header.Set("Content-Length", strconv.Itoa(len(b)))
			resp.Header.Del("ETag")
			return nil
		},
	}
	ps := httptest.NewServer(p.rp)
	t.Cleanup(ps.Close)
	return p, ps.URL
}

func (p *rewritingProxy) set(request func(*http.Request), body func(*http.Request, []byte) []byte) {
	p.mu.Lock()
	p.request, p.body = request, body
	p.mu.Unlock()
}

// TestGetBindsToTheRequest (DESIGN §12 "Binding"): with the library's key
// pinned, a rewritten resolve answer (another product, a version outside
// the constraint) and a validly signed manifest naming ../../ paths each
// make get and verify exit 3 with nothing written, inside or outside -d.
func TestGetBindsToTheRequest(t *testing.T) {
	srv := testenv.StartServer(t, testenv.ServerOptions{})
	tm := newTeam(t, srv, "hr")
	if _, err := tm.admin.CreateProduct(context.Background(), client.ProductInput{Name: "evil", Owner: "x"}); err != nil {
		t.Fatal(err)
	}
	tm.release(t, srv, "hr", "1.0.0", "a.tar.gz", bytes.Repeat([]byte("old "), 1000))
	tm.release(t, srv, "hr", "2.0.0", "a.tar.gz", bytes.Repeat([]byte("new "), 1000))
	tm.release(t, srv, "evil", "2.0.0", "a.tar.gz", bytes.Repeat([]byte("evil"), 1000))
	proxy, purl := newRewritingProxy(t, srv.URL)
	inst := newMachine(t, purl, tm.installer)
	inst.env = []string{"CI=true"}
	key := filepath.Join(inst.home, "reliquary.pub")
	writeFile(t, key, srv.Signer.PublicKeyPEM())

	// Unmodified, get installs the requested release.
	inst.ok("get", "hr@^2", "--os", "any", "--arch", "any", "--key", key, "-d", filepath.Join(inst.home, "clean"))

	// The installer's tree: -d is deep inside it, so ../../ lands in it.
	base := filepath.Join(inst.home, "tree")
	dir := filepath.Join(base, "opt", "hr")
	nothingWritten := func(t *testing.T, r result) {
		t.Helper()
		var found []string
		filepath.Walk(base, func(p string, fi os.FileInfo, err error) error {
			if err == nil && !fi.IsDir() {
				found = append(found, p)
			}
			return nil
		})
		if len(found) != 0 {
			t.Fatalf("files written: %v\n%s", found, r)
		}
	}
	run := func(t *testing.T, wantIn string, args ...string) {
		t.Helper()
		if err := os.RemoveAll(base); err != nil {
			t.Fatal(err)
		}
		m := *inst
		m.t = t
		r := m.expect(3, args...)
		if !strings.Contains(r.stderr, wantIn) {
			t.Fatalf("stderr does not say %q: %s", wantIn, r)
		}
		nothingWritten(t, r)
	}

	t.Run("another product", func(t *testing.T) {
		proxy.set(func(r *http.Request) {
			r.URL.Path = strings.Replace(r.URL.Path, "/products/hr/resolve", "/products/evil/resolve", 1)
			r.URL.RawPath = ""
		}, nil)
		defer proxy.set(nil, nil)
		run(t, "evil", "get", "hr@^2", "--os", "any", "--arch", "any", "--key", key, "-d", dir)
	})
	t.Run("an older version", func(t *testing.T) {
		proxy.set(func(r *http.Request) {
			if strings.HasSuffix(r.URL.Path, "/products/hr/resolve") {
				q := r.URL.Query()
				q.Set("constraint", "1.0.0")
				r.URL.RawQuery = q.Encode()
			}
		}, nil)
		defer proxy.set(nil, nil)
		run(t, "1.0.0", "get", "hr@^2", "--os", "any", "--arch", "any", "--key", key, "-d", dir)
	})
	t.Run("a signed manifest naming ../../", func(t *testing.T) {
		// The library's own key signs a manifest whose artifact is
		// ../../escape.txt (a compromised server): the bytes are 2.0.0's.
		const evilName = "../../escape.txt"
		real, err := client.New(srv.URL, tm.installer).Manifest(context.Background(), "hr", "2.0.0")
		if err != nil {
			t.Fatal(err)
		}
		m, err := signing.ParseReleaseManifest(real)
		if err != nil {
			t.Fatal(err)
		}
		m.Artifacts[0].Name = evilName
		forged, err := signing.Canonical(m)
		if err != nil {
			t.Fatal(err)
		}
		sig, err := srv.Signer.Sign(context.Background(), forged)
		if err != nil {
			t.Fatal(err)
		}
		sum := sha256.Sum256(forged)
		digest := "sha256:" + hex.EncodeToString(sum[:])
		proxy.set(func(r *http.Request) {
			if p := r.URL.Path; strings.Contains(p, "/artifacts/"+evilName) {
				r.URL.Path = strings.Replace(p, "/artifacts/"+evilName, "/artifacts/a.tar.gz", 1)
				r.URL.RawPath = ""
			}
		}, func(r *http.Request, b []byte) []byte {
			p := r.URL.Path
			switch {
			case strings.HasSuffix(p, "/releases/2.0.0/manifest"):
				return forged
			case strings.HasSuffix(p, "/releases/2.0.0/manifest/signature"):
				return signing.EncodeSignature(sig)
			case strings.HasSuffix(p, "/resolve"), strings.HasSuffix(p, "/releases/2.0.0"):
				var v map[string]any
				if json.Unmarshal(b, &v) != nil {
					return b
				}
				rel := v
				if r, ok := v["release"].(map[string]any); ok {
					rel = r
				}
				rel["manifest_digest"] = digest
				for _, list := range []any{v["artifacts"], rel["artifacts"]} {
					arts, _ := list.([]any)
					for _, a := range arts {
						a.(map[string]any)["name"] = evilName
					}
				}
				out, _ := json.Marshal(v)
				return out
			}
			return b
		})
		defer proxy.set(nil, nil)
		run(t, "artifact", "get", "hr@^2", "--os", "any", "--arch", "any", "--key", key, "-d", dir)
		if _, err := os.Stat(filepath.Join(dir, evilName)); err == nil {
			t.Fatal("the escaping file exists")
		}
		run(t, "manifest", "verify", "hr@2.0.0", "--key", key)
	})
}
