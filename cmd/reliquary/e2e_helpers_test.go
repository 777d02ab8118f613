package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/reliquary/reliquary/api/client"
	"github.com/reliquary/reliquary/internal/testenv"
)

func TestMain(m *testing.M) {
	code := m.Run()
	testenv.StopShared()
	os.Exit(code)
}

// binary is the reliquary command, built once per test run.
func binary(t *testing.T) string { return testenv.ReliquaryBinary(t) }

// machine is where a command runs: its own HOME and working directory,
// the server URL and a token, as a CI runner or an installer host would be.
type machine struct {
	t     *testing.T
	home  string
	url   string
	token string
	// env is extra environment (e.g. CI=true).
	env []string
}

func newMachine(t *testing.T, url, token string) *machine {
	home := t.TempDir()
	return &machine{t: t, home: home, url: url, token: token}
}

func (m *machine) environ() []string {
	env := []string{"PATH=" + os.Getenv("PATH"), "HOME=" + m.home, "SHELL=/bin/sh", "TERM=xterm",
		"RELIQUARY_URL=" + m.url, "RELIQUARY_TOKEN=" + m.token}
	return append(env, m.env...)
}

type result struct {
	stdout, stderr string
	code           int
}

func (r result) String() string {
	return "exit " + strconv.Itoa(r.code) + "\nstdout:\n" + r.stdout + "\nstderr:\n" + r.stderr
}

// run runs the binary on the machine with pipes for stdout and stderr.
func (m *machine) run(args ...string) result {
	m.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, binary(m.t), args...)
	cmd.Dir = m.home
	cmd.Env = m.environ()
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code := 0
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		code = ee.ExitCode()
	case err != nil:
		m.t.Fatalf("run %v: %v", args, err)
	}
	return result{stdout: out.String(), stderr: errb.String(), code: code}
}

// ok runs and fails the test unless the exit code is 0.
func (m *machine) ok(args ...string) result {
	m.t.Helper()
	r := m.run(args...)
	if r.code != 0 {
		m.t.Fatalf("reliquary %s: %s", strings.Join(args, " "), r)
	}
	return r
}

// expect runs and fails the test unless the exit code is code.
func (m *machine) expect(code int, args ...string) result {
	m.t.Helper()
	r := m.run(args...)
	if r.code != code {
		m.t.Fatalf("reliquary %s: want exit %d, got %s", strings.Join(args, " "), code, r)
	}
	return r
}

// jsonOut runs with -o json and decodes stdout into v.
func (m *machine) jsonOut(v any, args ...string) {
	m.t.Helper()
	r := m.ok(append(args, "-o", "json")...)
	if err := json.Unmarshal([]byte(r.stdout), v); err != nil {
		m.t.Fatalf("decode %q: %v", r.stdout, err)
	}
}

// team is an admin-made product with tokens for CI, two release managers
// and an installer.
type team struct {
	admin                     *client.Client
	ci, alice, bob, installer string
}

func newTeam(t *testing.T, srv *testenv.Server, product string) team {
	t.Helper()
	ctx := context.Background()
	admin := client.New(srv.URL, srv.AdminToken)
	if _, err := admin.CreateProduct(ctx, client.ProductInput{Name: product, Owner: "hr-team"}); err != nil {
		t.Fatal(err)
	}
	tok := func(name, role string) string {
		tk, err := admin.CreateToken(ctx, client.TokenInput{Name: name, Role: role})
		if err != nil {
			t.Fatal(err)
		}
		return tk.Secret
	}
	return team{admin: admin, ci: tok("ci", client.RolePublisher), alice: tok("alice", client.RoleReleaseManager),
		bob: tok("bob", client.RoleReleaseManager), installer: tok("installer", client.RoleReader)}
}

// release pushes, seals, approves and promotes a version through the
// client package (for tests whose subject is not the publishing).
func (tm team) release(t *testing.T, srv *testenv.Server, product, version, name string, data []byte) {
	t.Helper()
	ctx := context.Background()
	ci := client.New(srv.URL, tm.ci)
	rm1, rm2 := client.New(srv.URL, tm.alice), client.New(srv.URL, tm.bob)
	if _, err := ci.CreateRelease(ctx, product, client.ReleaseInput{Version: version, ChangeID: "CHG-" + version}); err != nil {
		t.Fatal(err)
	}
	if _, _, err := ci.Upload(ctx, client.UploadInput{Product: product, Version: version, Name: name,
		Body: bytes.NewReader(data), Size: int64(len(data))}); err != nil {
		t.Fatal(err)
	}
	if _, err := ci.Seal(ctx, product, version, ""); err != nil {
		t.Fatal(err)
	}
	if _, err := rm1.Approve(ctx, product, version, ""); err != nil {
		t.Fatal(err)
	}
	if _, err := rm2.Promote(ctx, product, version, client.PromoteInput{ChangeID: "CHG-" + version}); err != nil {
		t.Fatal(err)
	}
}

func randomFile(t *testing.T, dir, name string, n int) []byte {
	t.Helper()
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
		t.Fatal(err)
	}
	return b
}

// entries lists a directory's names.
func entries(t *testing.T, dir string) []string {
	t.Helper()
	es, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range es {
		names = append(names, e.Name())
	}
	return names
}

// flipByte flips one byte in the middle of a file of the test server's
// filesystem store.
func flipByte(t *testing.T, srv *testenv.Server, key string) {
	t.Helper()
	p := filepath.Join(srv.DataDir, "blobs", filepath.FromSlash(key))
	if err := os.Chmod(p, 0o644); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	b[len(b)/2] ^= 0x01
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
}
