package main

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/reliquary/reliquary/api/client"
	"github.com/reliquary/reliquary/internal/testenv"
	"github.com/reliquary/reliquary/storage"
)

// getOutput is the -o json answer of get.
type getOutput struct {
	Product, Version, State string
	Verified                bool
	Files                   []installed
}

// TestLifecycleThroughTheCLI drives the built binary as CI, two release
// managers and an installer on another machine would: push and seal two
// versions, approve and promote them with two people's tokens, install
// ^1 (1.1.0) verified, withdraw 1.1.0 and install ^1 again (1.0.0).
func TestLifecycleThroughTheCLI(t *testing.T) {
	for _, o := range []testenv.ServerOptions{{Store: "fs"}, {Store: "s3", Downloads: "redirect"}} {
		t.Run(o.Store, func(t *testing.T) { lifecycle(t, testenv.StartServer(t, o)) })
	}
}

func lifecycle(t *testing.T, srv *testenv.Server) {
	tm := newTeam(t, srv, "hr")

	// CI: push and seal.
	ci := newMachine(t, srv.URL, tm.ci)
	ci.env = []string{"CI=true"}
	v10 := randomFile(t, ci.home, "a.tar.gz", 200<<10)
	var pushed struct {
		Release   client.Release
		Artifacts []pushResult
	}
	ci.jsonOut(&pushed, "push", "hr@1.0.0", "a.tar.gz", "--change-id", "CHG-1", "--label", "branch=main", "--seal")
	if pushed.Release.State != client.StateCandidate || len(pushed.Artifacts) != 1 || pushed.Artifacts[0].Status != "created" ||
		pushed.Artifacts[0].SHA256 != hexSum(v10) || pushed.Release.Labels["branch"] != "main" {
		t.Fatalf("push 1.0.0: %+v", pushed)
	}
	if r := ci.ok("push", "hr@1.0.0", "a.tar.gz", "--seal"); !strings.Contains(r.stdout, "unchanged") {
		t.Fatalf("pushing again is a no-op: %s", r)
	}
	v11 := randomFile(t, ci.home, "a.tar.gz", 300<<10)
	ci.ok("push", "hr@1.1.0", "a.tar.gz", "--change-id", "CHG-2", "--seal")
	if r := ci.run("push", "hr@1.1.0", "a.tar.gz"); r.code != 0 {
		t.Fatalf("the same bytes into a sealed release: %s", r)
	}
	randomFile(t, ci.home, "a.tar.gz", 10)
	if r := ci.expect(1, "push", "hr@1.1.0", "a.tar.gz"); !strings.Contains(r.stderr, "frozen") {
		t.Fatalf("other bytes into a sealed release: %s", r)
	}

	// Release managers: one approves, the other promotes.
	alice, bob := newMachine(t, srv.URL, tm.alice), newMachine(t, srv.URL, tm.bob)
	ci.expect(1, "approve", "hr@1.0.0") // a publisher cannot
	for _, v := range []string{"1.0.0", "1.1.0"} {
		if r := alice.ok("approve", "hr@"+v, "--comment", "tested"); !strings.Contains(r.stdout, "approved") {
			t.Fatalf("approve %s: %s", v, r)
		}
		bob.ok("promote", "hr@"+v, "--to", "released", "--change-id", "CHG-"+v)
	}
	var rels []client.Release
	bob.jsonOut(&rels, "releases", "hr", "--state", "released")
	if len(rels) != 2 || rels[0].Version != "1.1.0" || rels[1].SupersededBy != "1.1.0" {
		t.Fatalf("releases: %+v", rels)
	}
	if r := bob.ok("show", "hr@1.1.0"); !strings.Contains(r.stdout, "a.tar.gz") || !strings.Contains(r.stdout, "released") ||
		!strings.Contains(r.stdout, "alice") {
		t.Fatalf("show: %s", r)
	}

	// Installer, on another machine: ^1 is 1.1.0, verified.
	inst := newMachine(t, srv.URL, tm.installer)
	inst.env = []string{"CI=true"}
	dir := filepath.Join(inst.home, "opt", "hr")
	var got getOutput
	inst.jsonOut(&got, "get", "hr@^1", "-d", dir)
	if got.Version != "1.1.0" || !got.Verified || len(got.Files) != 1 {
		t.Fatalf("get ^1: %+v", got)
	}
	if b, _ := os.ReadFile(filepath.Join(dir, "a.tar.gz")); !bytes.Equal(b, v11) || !slices.Equal(entries(t, dir), []string{"a.tar.gz"}) {
		t.Fatalf("installed %d bytes, directory %v", len(b), entries(t, dir))
	}
	inst.ok("verify", "hr@1.1.0", "--file", filepath.Join(dir, "a.tar.gz"))
	if r := inst.expect(3, "verify", "hr@1.0.0", "--file", filepath.Join(dir, "a.tar.gz")); !strings.Contains(r.stderr, "artifact a.tar.gz") {
		t.Fatalf("verify the wrong file: %s", r)
	}

	// A pinned key: the right one verifies, another one does not.
	keyFile := filepath.Join(inst.home, "reliquary.pub")
	writeFile(t, keyFile, srv.Signer.PublicKeyPEM())
	inst.ok("get", "hr@1.1.0", "-d", filepath.Join(inst.home, "pinned"), "--key", keyFile)
	otherKey := filepath.Join(inst.home, "other.pub")
	writeFile(t, otherKey, newPublicKeyPEM(t))
	wrong := filepath.Join(inst.home, "wrong")
	if r := inst.expect(3, "get", "hr@1.1.0", "-d", wrong, "--key", otherKey); !strings.Contains(r.stderr, "manifest signature") {
		t.Fatalf("get with another key: %s", r)
	}
	if _, err := os.Stat(wrong); !os.IsNotExist(err) {
		t.Fatalf("a failed get left %s behind: %v", wrong, err)
	}

	// Backout: withdraw 1.1.0 and ^1 installs 1.0.0 again.
	bob.ok("withdraw", "hr@1.1.0", "--reason", "data loss on upgrade", "--change-id", "CHG-3")
	inst.jsonOut(&got, "get", "hr@^1", "-d", dir)
	if got.Version != "1.0.0" {
		t.Fatalf("get ^1 after the withdrawal: %+v", got)
	}
	if b, _ := os.ReadFile(filepath.Join(dir, "a.tar.gz")); !bytes.Equal(b, v10) || len(entries(t, dir)) != 1 {
		t.Fatalf("rolled back to %d bytes, directory %v", len(b), entries(t, dir))
	}

	// Exit codes and tables.
	inst.expect(4, "show", "hr@9.9.9")
	inst.expect(4, "get", "hr@^7", "-d", dir)
	inst.expect(2, "get")
	inst.expect(2, "show", "hr")
	inst.expect(2, "releases", "hr", "-o", "yaml")
	inst.expect(2, "frobnicate")
	if r := inst.ok("releases", "hr"); !strings.Contains(r.stdout, "VERSION") || !strings.Contains(r.stdout, "withdrawn") {
		t.Fatalf("releases table: %s", r)
	}
}

// TestAdminCommands: products, policy and tokens through the binary.
func TestAdminCommands(t *testing.T) {
	srv := testenv.StartServer(t, testenv.ServerOptions{})
	admin := newMachine(t, srv.URL, srv.AdminToken)
	admin.ok("product", "create", "hr", "--owner", "hr-team", "--ci-id", "CI-HR")
	var ps []client.Product
	admin.jsonOut(&ps, "product", "list")
	if len(ps) != 1 || ps[0].CIID != "CI-HR" {
		t.Fatalf("products %+v", ps)
	}
	var pol client.Policy
	admin.jsonOut(&pol, "policy", "set", "hr", "--required-approvals", "2", "--allowed-types", "emergency")
	if pol.RequiredApprovals != 2 || !slices.Equal(pol.AllowedTypes, []string{"emergency"}) || !pol.FourEyes {
		t.Fatalf("policy %+v", pol)
	}
	admin.jsonOut(&pol, "policy", "get", "hr")
	if pol.RequiredApprovals != 2 {
		t.Fatalf("policy get %+v", pol)
	}
	admin.expect(2, "policy", "set", "hr")
	var tok client.Token
	admin.jsonOut(&tok, "token", "create", "--name", "ci", "--role", "publisher", "--product", "hr")
	if tok.Secret == "" || tok.Role != "publisher" {
		t.Fatalf("token %+v", tok)
	}
	if r := admin.ok("token", "list"); !strings.Contains(r.stdout, tok.ID) || strings.Contains(r.stdout, tok.Secret) {
		t.Fatalf("token list: %s", r)
	}
	admin.ok("token", "revoke", tok.ID)
	admin.expect(4, "token", "revoke", tok.ID)
	newMachine(t, srv.URL, tok.Secret).expect(1, "product", "list")
	for _, shell := range []string{"bash", "zsh", "fish"} {
		if r := admin.ok("completion", shell); !strings.Contains(r.stdout, "reliquary") {
			t.Fatalf("completion %s: %s", shell, r)
		}
	}
	admin.expect(2, "completion", "tcsh")
}

// interruptingProxy forwards to the server but cuts the first artifact
// download half way; it records the Range header of each artifact GET.
type interruptingProxy struct {
	mu      sync.Mutex
	backend *url.URL
	rp      *httputil.ReverseProxy
	cut     bool
	ranges  []string
}

func (p *interruptingProxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	isArtifact := r.Method == http.MethodGet && strings.Contains(r.URL.Path, "/artifacts/") && !strings.HasSuffix(r.URL.Path, "/signature")
	if !isArtifact {
		p.rp.ServeHTTP(w, r)
		return
	}
	p.mu.Lock()
	p.ranges = append(p.ranges, r.Header.Get("Range"))
	cut := p.cut
	p.cut = false
	p.mu.Unlock()
	if !cut {
		p.rp.ServeHTTP(w, r)
		return
	}
	req, _ := http.NewRequestWithContext(r.Context(), r.Method, p.backend.String()+r.URL.RequestURI(), nil)
	req.Header = r.Header.Clone()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		panic(http.ErrAbortHandler)
	}
	defer resp.Body.Close()
	for k, v := range resp.Header {
		w.Header()[k] = v
	}
	w.WriteHeader(resp.StatusCode)
	_, _ = io.CopyN(w, resp.Body, resp.ContentLength/2)
	w.(http.Flusher).Flush()
	panic(http.ErrAbortHandler) // the connection drops half way
}

func TestInterruptedDownloadResumes(t *testing.T) {
	srv := testenv.StartServer(t, testenv.ServerOptions{})
	tm := newTeam(t, srv, "hr")
	data := make([]byte, 2<<20)
	_, _ = rand.Read(data)
	tm.release(t, srv, "hr", "1.0.0", "a.tar.gz", data)
	backend, _ := url.Parse(srv.URL)
	proxy := &interruptingProxy{backend: backend, rp: httputil.NewSingleHostReverseProxy(backend)}
	ps := httptest.NewServer(proxy)
	t.Cleanup(ps.Close)
	inst := newMachine(t, ps.URL, tm.installer)
	inst.env = []string{"CI=true"}

	t.Run("within one run", func(t *testing.T) {
		proxy.mu.Lock()
		proxy.cut, proxy.ranges = true, nil
		proxy.mu.Unlock()
		dir := filepath.Join(inst.home, "one")
		inst.ok("get", "hr@1.0.0", "-d", dir)
		if b, _ := os.ReadFile(filepath.Join(dir, "a.tar.gz")); !bytes.Equal(b, data) {
			t.Fatal("the resumed download differs")
		}
		if len(proxy.ranges) != 2 || proxy.ranges[0] != "" || !strings.HasPrefix(proxy.ranges[1], "bytes=") {
			t.Fatalf("artifact requests' Range: %q", proxy.ranges)
		}
		if n, _ := strconv.Atoi(strings.TrimSuffix(strings.TrimPrefix(proxy.ranges[1], "bytes="), "-")); n <= 0 || n >= len(data) {
			t.Fatalf("resumed at %q", proxy.ranges[1])
		}
	})
	t.Run("across runs", func(t *testing.T) {
		dir := filepath.Join(inst.home, "two")
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		half := len(data) / 3
		writeFile(t, filepath.Join(dir, partName("a.tar.gz")), data[:half])
		proxy.mu.Lock()
		proxy.ranges = nil
		proxy.mu.Unlock()
		inst.ok("get", "hr@1.0.0", "-d", dir)
		if b, _ := os.ReadFile(filepath.Join(dir, "a.tar.gz")); !bytes.Equal(b, data) || len(entries(t, dir)) != 1 {
			t.Fatalf("resumed file differs or part left: %v", entries(t, dir))
		}
		if want := "bytes=" + strconv.Itoa(half) + "-"; len(proxy.ranges) != 1 || proxy.ranges[0] != want {
			t.Fatalf("artifact requests' Range %q, want %q", proxy.ranges, want)
		}
	})
}

// TestTamperedStore flips bytes in the filesystem store: get exits 3 and
// leaves nothing behind; verify exits 3 naming what failed.
func TestTamperedStore(t *testing.T) {
	srv := testenv.StartServer(t, testenv.ServerOptions{})
	tm := newTeam(t, srv, "hr")
	tm.release(t, srv, "hr", "1.0.0", "a.tar.gz", bytes.Repeat([]byte("one "), 50000))
	tm.release(t, srv, "hr", "1.1.0", "a.tar.gz", bytes.Repeat([]byte("two "), 50000))
	inst := newMachine(t, srv.URL, tm.installer)
	inst.env = []string{"CI=true"}
	inst.ok("verify", "hr@1.0.0")
	inst.ok("verify", "hr@1.1.0")

	flipByte(t, srv, storage.ArtifactKey("hr", "1.1.0", "a.tar.gz"))
	dir := filepath.Join(inst.home, "target")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	r := inst.expect(3, "get", "hr@^1", "-d", dir)
	if !strings.Contains(r.stderr, "a.tar.gz") || len(entries(t, dir)) != 0 {
		t.Fatalf("tampered get: %s\ndirectory: %v", r, entries(t, dir))
	}
	r = inst.expect(3, "verify", "hr@1.1.0")
	if !strings.Contains(r.stderr, "artifact a.tar.gz") || !strings.Contains(r.stdout, "FAILED") {
		t.Fatalf("verify of a tampered artifact: %s", r)
	}

	flipByte(t, srv, storage.ReleaseManifestKey("hr", "1.0.0"))
	r = inst.expect(3, "verify", "hr@1.0.0")
	if !strings.Contains(r.stderr, "manifest") || strings.Contains(r.stderr, "artifact a.tar.gz") {
		t.Fatalf("verify of a tampered manifest: %s", r)
	}
	inst.expect(3, "get", "hr@1.0.0", "-d", dir)
	if len(entries(t, dir)) != 0 {
		t.Fatalf("left behind: %v", entries(t, dir))
	}
}

// TestTerminal checks the progress bar under a pseudo-terminal (script
// from util-linux) and its absence in a pipe, with CI=true and --quiet.
func TestTerminal(t *testing.T) {
	script, err := exec.LookPath("script")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("script (util-linux) is needed for the terminal test: apt-get install util-linux")
		}
		t.Skip("script (util-linux) not found: apt-get install util-linux to run the terminal test")
	}
	srv := testenv.StartServer(t, testenv.ServerOptions{})
	tm := newTeam(t, srv, "hr")
	ci := newMachine(t, srv.URL, tm.ci)
	randomFile(t, ci.home, "big.bin", 4<<20)
	tty := func(m *machine, args ...string) string {
		t.Helper()
		line := quote(binary(t))
		for _, a := range args {
			line += " " + quote(a)
		}
		cmd := exec.Command(script, "-qec", line, "/dev/null")
		cmd.Dir, cmd.Env = m.home, m.environ()
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("script %s: %v\n%s", line, err, out)
		}
		return string(out)
	}
	isBar := func(s string) bool { return strings.Contains(s, "100%") && strings.Contains(s, "|") }

	if out := tty(ci, "push", "hr@1.0.0", "big.bin"); !isBar(out) {
		t.Fatalf("no progress bar on a terminal:\n%q", out)
	}
	r := ci.ok("push", "hr@1.1.0", "big.bin")
	if isBar(r.stderr) || strings.Contains(r.stderr, "\r") || !strings.Contains(r.stderr, "push hr@1.1.0 (1 files): 4.0 MiB in") {
		t.Fatalf("in a pipe: want plain lines, got %q", r.stderr)
	}
	ciEnv := *ci
	ciEnv.env = []string{"CI=true"}
	if out := tty(&ciEnv, "push", "hr@1.2.0", "big.bin"); isBar(out) {
		t.Fatalf("a bar with CI=true:\n%q", out)
	}
	if out := tty(ci, "push", "hr@1.3.0", "big.bin", "--quiet", "-o", "json"); isBar(out) || strings.Contains(out, "MiB in") {
		t.Fatalf("--quiet still shows progress:\n%q", out)
	}

	ci.ok("push", "hr@1.4.0", "big.bin", "--change-id", "CHG-1", "--seal")
	newMachine(t, srv.URL, tm.alice).ok("approve", "hr@1.4.0")
	newMachine(t, srv.URL, tm.bob).ok("promote", "hr@1.4.0", "--change-id", "CHG-1")
	inst := newMachine(t, srv.URL, tm.installer)
	if out := tty(inst, "get", "hr@1.4.0", "-d", "dl"); !isBar(out) || !strings.Contains(out, "installed hr@1.4.0") {
		t.Fatalf("get on a terminal:\n%q", out)
	}
	if r := inst.ok("get", "hr@1.4.0", "-d", "dl2"); isBar(r.stderr) || !strings.Contains(r.stderr, "get hr@1.4.0") {
		t.Fatalf("get in a pipe: %q", r.stderr)
	}
}

func quote(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }

func writeFile(t *testing.T, path string, b []byte) {
	t.Helper()
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

func newPublicKeyPEM(t *testing.T) []byte {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalPKIXPublicKey(&k.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
}
