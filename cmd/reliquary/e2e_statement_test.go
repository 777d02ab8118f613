package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/reliquary/reliquary/api/client"
	"github.com/reliquary/reliquary/internal/testenv"
)

// stateLyingProxy stands between installers and the server and lies about
// states: every resolve answers with the exact version asked for, said to
// be released, and every release record says released. Manifests,
// signatures and statements pass through untouched (they are signed).
func stateLyingProxy(t *testing.T, upstream string) string {
	t.Helper()
	u, err := url.Parse(upstream)
	if err != nil {
		t.Fatal(err)
	}
	rp := httputil.NewSingleHostReverseProxy(u)
	rp.ModifyResponse = func(r *http.Response) error {
		if !strings.Contains(r.Header.Get("Content-Type"), "json") {
			return nil
		}
		var buf bytes.Buffer
		if _, err := buf.ReadFrom(r.Body); err != nil {
			return err
		}
		r.Body.Close()
		b := buf.Bytes()
		for _, s := range []string{"candidate", "withdrawn", "approved"} {
			b = bytes.ReplaceAll(b, []byte(`"state":"`+s+`"`), []byte(`"state":"released"`))
		}
		r.Body = nopCloser{bytes.NewReader(b)}
		r.ContentLength = int64(len(b))
		r.Header.Del("Content-Length")
		return nil
	}
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasSuffix(r.URL.Path, "/resolve") {
			// Answer for the exact version asked for, whatever its state.
			product := strings.Split(strings.TrimPrefix(r.URL.Path, "/api/v1/products/"), "/")[0]
			c := client.New(upstream, strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer "))
			rel, err := c.Release(r.Context(), product, r.URL.Query().Get("constraint"))
			if err != nil {
				http.Error(w, err.Error(), http.StatusBadGateway)
				return
			}
			rel.State = client.StateReleased
			res := client.Resolution{Release: *rel}
			for _, a := range rel.Artifacts {
				res.Artifacts = append(res.Artifacts, client.ResolvedArtifact{Artifact: a,
					DownloadURL: "/api/v1/products/" + product + "/releases/" + rel.Version + "/artifacts/" + a.Name})
			}
			w.Header().Set("Content-Type", "application/json")
			_ = json.NewEncoder(w).Encode(res)
			return
		}
		rp.ServeHTTP(w, r)
	})
	ps := httptest.NewServer(h)
	t.Cleanup(ps.Close)
	return ps.URL
}

type nopCloser struct{ *bytes.Reader }

func (nopCloser) Close() error { return nil }

// TestGetRefusesUnreleasedBehindARewritingProxy: with the library's key
// pinned, get and verify refuse a sealed but never approved candidate and
// a withdrawn release even when every unsigned answer says "released";
// --min-state approved takes an approved release, and --log-state
// remembers the log.
func TestGetRefusesUnreleasedBehindARewritingProxy(t *testing.T) {
	srv := testenv.StartServer(t, testenv.ServerOptions{})
	tm := newTeam(t, srv, "hr")
	ctx := context.Background()
	tm.release(t, srv, "hr", "1.0.0", "a.tar.gz", bytes.Repeat([]byte("one "), 1000))
	tm.release(t, srv, "hr", "1.1.0", "a.tar.gz", bytes.Repeat([]byte("two "), 1000))
	ci := client.New(srv.URL, tm.ci)
	if _, err := ci.CreateRelease(ctx, "hr", client.ReleaseInput{Version: "1.2.0"}); err != nil {
		t.Fatal(err)
	}
	data := []byte("three")
	if _, _, err := ci.Upload(ctx, client.UploadInput{Product: "hr", Version: "1.2.0", Name: "a.tar.gz", Body: bytes.NewReader(data), Size: int64(len(data))}); err != nil {
		t.Fatal(err)
	}
	if _, err := ci.Seal(ctx, "hr", "1.2.0", ""); err != nil {
		t.Fatal(err)
	}
	if _, err := client.New(srv.URL, tm.bob).Withdraw(ctx, "hr", "1.0.0", client.WithdrawInput{Reason: "CVE", ChangeID: "CHG-W"}); err != nil {
		t.Fatal(err)
	}

	keyFile := filepath.Join(t.TempDir(), "key.pub")
	if err := os.WriteFile(keyFile, srv.Signer.PublicKeyPEM(), 0o644); err != nil {
		t.Fatal(err)
	}
	proxy := stateLyingProxy(t, srv.URL)
	inst := newMachine(t, proxy, tm.installer)
	inst.env = []string{"CI=true"}
	state := filepath.Join(inst.home, "log-state")

	// The proxy does lie: the candidate resolves as released.
	var shown client.Release
	inst.jsonOut(&shown, "show", "hr@1.2.0")
	if shown.State != client.StateReleased {
		t.Fatalf("the proxy does not rewrite: %s", shown.State)
	}

	for _, c := range []struct{ version, want string }{{"1.2.0", "never approved"}, {"1.0.0", "withdrawn"}} {
		dir := filepath.Join(inst.home, "get-"+c.version)
		r := inst.expect(3, "get", "hr@"+c.version, "-d", dir, "--key", keyFile, "--log-state", state)
		if !strings.Contains(r.stderr, "release statement") || !strings.Contains(r.stderr, c.want) {
			t.Fatalf("get %s behind the proxy: %s", c.version, r)
		}
		if _, err := os.Stat(dir); err == nil && len(entries(t, dir)) != 0 {
			t.Fatalf("get %s left %v", c.version, entries(t, dir))
		}
		if r := inst.expect(3, "verify", "hr@"+c.version, "--key", keyFile); !strings.Contains(r.stderr, c.want) {
			t.Fatalf("verify %s behind the proxy: %s", c.version, r)
		}
	}
	// A released version installs, through the same proxy, and the log
	// state is remembered.
	dir := filepath.Join(inst.home, "ok")
	inst.ok("get", "hr@1.1.0", "-d", dir, "--key", keyFile, "--log-state", state)
	if names := entries(t, dir); len(names) != 1 || names[0] != "a.tar.gz" {
		t.Fatalf("installed %v", names)
	}
	first, err := os.ReadFile(state)
	if err != nil || !bytes.Contains(first, []byte("reliquary.dev/log")) {
		t.Fatalf("log state %q: %v", first, err)
	}
	inst.ok("verify", "hr@1.1.0", "--key", keyFile, "--log-state", state)

	// Approved only: refused by default, taken with --min-state approved.
	if _, err := client.New(srv.URL, tm.alice).Approve(ctx, "hr", "1.2.0", "pilot"); err != nil {
		t.Fatal(err)
	}
	direct := newMachine(t, srv.URL, tm.installer)
	direct.env = []string{"CI=true"}
	if r := direct.expect(3, "verify", "hr@1.2.0", "--key", keyFile); !strings.Contains(r.stderr, "only approved") {
		t.Fatalf("verify of an approved release: %s", r)
	}
	direct.ok("verify", "hr@1.2.0", "--key", keyFile, "--min-state", "approved")
	direct.ok("get", "hr@1.2.0", "-d", filepath.Join(direct.home, "pilot"), "--key", keyFile, "--min-state", "approved", "--log-state", state)
	direct.ok("log", "verify", "--key", keyFile, "--log-state", state)

	// A log state from another log (a fork: same origin, other history)
	// is refused.
	other := testenv.StartServer(t, testenv.ServerOptions{DataDir: ""})
	otm := newTeam(t, other, "hr")
	for _, v := range []string{"1.0.0", "1.1.0", "1.2.0", "1.3.0", "1.4.0"} {
		otm.release(t, other, "hr", v, "a.tar.gz", []byte(v))
	}
	otherKey := filepath.Join(t.TempDir(), "other.pub")
	if err := os.WriteFile(otherKey, append(other.Signer.PublicKeyPEM(), srv.Signer.PublicKeyPEM()...), 0o644); err != nil {
		t.Fatal(err)
	}
	forked := filepath.Join(direct.home, "forked-state")
	om := newMachine(t, other.URL, otm.installer)
	om.ok("log", "verify", "--key", otherKey, "--log-state", forked)
	if r := direct.expect(3, "log", "verify", "--key", otherKey, "--log-state", forked); !strings.Contains(r.stderr, "fork") && !strings.Contains(r.stderr, "rollback") {
		t.Fatalf("a forked log state: %s", r)
	}
}
