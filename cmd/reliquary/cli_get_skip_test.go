package main

import (
	"bytes"
	"crypto/rand"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/reliquary/reliquary/api/client"
	"github.com/reliquary/reliquary/internal/testenv"
)

// bytesServed reads the server's downloaded-bytes counter from /metrics.
func bytesServed(t *testing.T, srv *testenv.Server) float64 {
	t.Helper()
	resp, err := http.Get(srv.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	m := regexp.MustCompile(`(?m)^reliquary_artifact_bytes_downloaded_total (\S+)$`).FindSubmatch(b)
	if m == nil {
		t.Fatalf("no download counter in /metrics")
	}
	v, _ := strconv.ParseFloat(string(m[1]), 64)
	return v
}

// TestGetTwiceDownloadsOnce: a second `get` into the same directory finds
// the files in place with the right digest and downloads nothing; a
// leftover .part whose bytes are not a prefix of the artifact is thrown
// away and downloaded again instead of failing the get.
func TestGetTwiceDownloadsOnce(t *testing.T) {
	srv := testenv.StartServer(t, testenv.ServerOptions{})
	ctx := t.Context()
	admin := client.New(srv.URL, srv.AdminToken)
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	_, err := admin.CreateProduct(ctx, client.ProductInput{Name: "hr"})
	must(err)
	_, err = admin.CreateRelease(ctx, "hr", client.ReleaseInput{Version: "1.0.0", ChangeID: "CHG-1"})
	must(err)
	data := make([]byte, 300_000)
	_, _ = rand.Read(data)
	_, _, err = admin.Upload(ctx, client.UploadInput{Product: "hr", Version: "1.0.0", Name: "hr.bin", Body: bytes.NewReader(data), Size: int64(len(data))})
	must(err)
	_, err = admin.Seal(ctx, "hr", "1.0.0", "")
	must(err)
	tok, err := admin.CreateToken(ctx, client.TokenInput{Name: "alice", Role: "release-manager"})
	must(err)
	alice := client.New(srv.URL, tok.Secret)
	_, err = alice.Approve(ctx, "hr", "1.0.0", "ok")
	must(err)
	_, err = alice.Promote(ctx, "hr", "1.0.0", client.PromoteInput{To: "released", ChangeID: "CHG-1"})
	must(err)

	dir := t.TempDir()
	get := func() {
		t.Helper()
		root := newRootCmd()
		root.SetOut(io.Discard)
		root.SetErr(io.Discard)
		root.SetArgs([]string{"get", "hr@^1", "-d", dir, "--url", srv.URL, "--token", srv.AdminToken, "-q"})
		if err := root.Execute(); err != nil {
			t.Fatal(err)
		}
		got, err := os.ReadFile(filepath.Join(dir, "hr.bin"))
		if err != nil || !bytes.Equal(got, data) {
			t.Fatalf("hr.bin after get: %d bytes, %v", len(got), err)
		}
	}
	get()
	first := bytesServed(t, srv)
	if first != float64(len(data)) {
		t.Fatalf("first get downloaded %v bytes, want %d", first, len(data))
	}
	get()
	if again := bytesServed(t, srv); again != first {
		t.Errorf("second get downloaded %v more bytes, want none", again-first)
	}

	// A stale .part (other bytes) and no installed file: resumed, fails
	// verification, is downloaded whole again, and the get succeeds.
	must(os.Remove(filepath.Join(dir, "hr.bin")))
	must(os.WriteFile(filepath.Join(dir, partName("hr.bin")), bytes.Repeat([]byte("x"), 1000), 0o644))
	get()
	if _, err := os.Stat(filepath.Join(dir, partName("hr.bin"))); !os.IsNotExist(err) {
		t.Errorf("the .part is left behind: %v", err)
	}

	// Withdrawn: no range resolves to it; --allow-withdrawn fetches it by
	// exact version only, with a warning that -q does not silence.
	_, err = alice.Withdraw(ctx, "hr", "1.0.0", client.WithdrawInput{Reason: "broken build", ChangeID: "CHG-2"})
	must(err)
	run := func(args ...string) (string, error) {
		root := newRootCmd()
		var errOut bytes.Buffer
		root.SetOut(io.Discard)
		root.SetErr(&errOut)
		root.SetArgs(append(args, "--url", srv.URL, "--token", srv.AdminToken, "-q"))
		err := root.Execute()
		return errOut.String(), err
	}
	forensics := t.TempDir()
	if _, err := run("get", "hr@^1", "-d", forensics); exitCode(err) != exitNotFound {
		t.Errorf("get of a range whose only release is withdrawn: %v", err)
	}
	if _, err := run("get", "hr@^1", "--allow-withdrawn", "-d", forensics); exitCode(err) != exitUsage {
		t.Errorf("--allow-withdrawn with a range: %v, want a usage error", err)
	}
	stderr, err := run("get", "hr@v1.0.0", "--allow-withdrawn", "-d", forensics)
	if err != nil || !regexp.MustCompile(`WARNING: hr@1.0.0 is WITHDRAWN \(broken build\)`).MatchString(stderr) {
		t.Errorf("get --allow-withdrawn: %v, stderr %q", err, stderr)
	}
	if got, _ := os.ReadFile(filepath.Join(forensics, "hr.bin")); !bytes.Equal(got, data) {
		t.Errorf("forensic copy is not the artifact")
	}
	if stderr, _ := run("verify", "hr@1.0.0", "--file", filepath.Join(forensics, "hr.bin")); !strings.Contains(stderr, "hr@1.0.0 is WITHDRAWN (broken build)") {
		t.Errorf("verify of a withdrawn release does not say so: %q", stderr)
	}
}
