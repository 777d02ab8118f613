package main

import (
	"context"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/reliquary/reliquary/api/client"
	"github.com/reliquary/reliquary/internal/signing"
	"github.com/reliquary/reliquary/internal/testenv"
)

// TestServeRefusesAFreshKeyOverALibrary (issue 13 item 10): `reliquary
// serve` on a data dir without the library's signing key, over a store
// whose bucket already holds a journal, refuses to start and says what to
// do, rather than generating a new key and serving.
func TestServeRefusesAFreshKeyOverALibrary(t *testing.T) {
	srv := testenv.StartServer(t, testenv.ServerOptions{Workers: true})
	newTeam(t, srv, "hr")
	deadline := time.Now().Add(20 * time.Second)
	for srv.Mirror.Lag() > 0 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	srv.Stop()
	dir := t.TempDir()
	if out, err := exec.Command("cp", "-a", filepath.Join(srv.DataDir, "blobs"), filepath.Join(dir, "blobs")).CombinedOutput(); err != nil {
		t.Fatalf("copy blobs: %v %s", err, out)
	}
	m := newMachine(t, "", "")
	r := m.run("serve", "--data-dir", dir, "--listen", "127.0.0.1:0")
	if r.code == 0 || !strings.Contains(r.stderr, "no signing key") || !strings.Contains(r.stderr, "--signing-key") {
		t.Fatalf("serve with a fresh key over a library: %s", r)
	}
	for _, e := range entries(t, dir) {
		if e == "signing.key" {
			t.Fatalf("a signing key was generated: %v", entries(t, dir))
		}
	}
}

// TestServeCatchesUpOnceTheStoreAnswers: `reliquary serve` on a fresh data
// dir (with the library's key) over a bucket that holds a journal, while
// the store is hung (SIGSTOP): it starts but /readyz is 503 (catching up),
// never an empty library as ready; after SIGCONT it catches up in the
// background and serves the library, whose admin token works.
func TestServeCatchesUpOnceTheStoreAnswers(t *testing.T) {
	mi := testenv.StartMinIO(t)
	cfg := mi.Config(t)
	srv := testenv.StartServer(t, testenv.ServerOptions{Store: "s3", S3: &cfg, Workers: true})
	newTeam(t, srv, "hr")
	deadline := time.Now().Add(20 * time.Second)
	for srv.Mirror.Lag() > 0 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	srv.Stop()
	dir := t.TempDir()
	key, err := os.ReadFile(filepath.Join(srv.DataDir, signing.DefaultKeyFile))
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(dir, signing.DefaultKeyFile), key)

	if err := mi.Freeze(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = mi.Thaw() })
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	cmd := exec.Command(binary(t), "serve", "--data-dir", dir, "--listen", addr, "--storage", "s3",
		"--s3-endpoint", cfg.Endpoint, "--s3-bucket", cfg.Bucket, "--s3-access-key", cfg.AccessKey, "--s3-insecure",
		"--storage-timeout", "1s")
	cmd.Env = append(os.Environ(), "RELIQUARY_S3_SECRET_KEY="+cfg.SecretKey)
	logf, err := os.Create(filepath.Join(t.TempDir(), "serve.log"))
	if err != nil {
		t.Fatal(err)
	}
	defer logf.Close()
	cmd.Stderr = logf
	logs := logReader(logf.Name())
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })

	readyz := func() (int, string) {
		resp, err := http.Get("http://" + addr + "/readyz")
		if err != nil {
			return 0, err.Error()
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	deadline = time.Now().Add(30 * time.Second)
	for {
		code, body := readyz()
		if code == 503 && strings.Contains(body, "catching up") {
			break
		}
		if code == 200 || time.Now().After(deadline) {
			t.Fatalf("readyz while the store is hung: %d %s\n%s", code, body, logs.String())
		}
		time.Sleep(200 * time.Millisecond)
	}
	if err := mi.Thaw(); err != nil {
		t.Fatal(err)
	}
	deadline = time.Now().Add(30 * time.Second)
	for {
		code, body := readyz()
		if code == 200 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("readyz after SIGCONT: %d %s\n%s", code, body, logs.String())
		}
		time.Sleep(200 * time.Millisecond)
	}
	if _, err := client.New("http://"+addr, srv.AdminToken).Product(context.Background(), "hr"); err != nil {
		t.Fatalf("the caught-up library: %v\n%s", err, logs.String())
	}
}

// logReader reads a log file on demand (for failure messages).
type logReader string

func (l logReader) String() string {
	b, _ := os.ReadFile(string(l))
	return string(b)
}
