// Package chaos_test runs the built reliquary binary as a separate process
// and does to it what production does: SIGKILL under load, slow clients,
// TLS. `make test` runs short versions; `make chaos` the long ones
// (RELIQUARY_CHAOS_KILLS=20).
package chaos_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/reliquary/reliquary/internal/testenv"
)

// adminSecret is the bootstrap admin token of every server started here.
const adminSecret = "rlq_chaos-admin-secret-0123456789abcdef"

func TestMain(m *testing.M) {
	code := m.Run()
	testenv.StopShared()
	os.Exit(code)
}

// binary is the reliquary command, built once per test run.
func binary(t *testing.T) string { return testenv.ReliquaryBinary(t) }

// server is one `reliquary serve` process on a fixed address, so a
// restart keeps the URL.
type server struct {
	t       *testing.T
	dataDir string
	addr    string
	args    []string // extra serve flags (store, TLS, ...)
	scheme  string
	cmd     *exec.Cmd
	exited  chan struct{}
	log     *testenv.SyncBuffer // stderr of every run, appended
}

func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

func newServer(t *testing.T, dataDir string, args ...string) *server {
	s := &server{t: t, dataDir: dataDir, addr: freeAddr(t), args: args, scheme: "http", log: &testenv.SyncBuffer{}}
	t.Cleanup(func() {
		if s.cmd != nil {
			s.kill()
		}
	})
	return s
}

func (s *server) url() string { return s.scheme + "://" + s.addr }

// start runs serve and waits until /healthz answers.
func (s *server) start(client *http.Client) {
	s.t.Helper()
	args := append([]string{"serve", "--listen", s.addr, "--data-dir", s.dataDir}, s.args...)
	cmd := exec.Command(binary(s.t), args...)
	cmd.Env = append(os.Environ(), "RELIQUARY_ADMIN_TOKEN="+adminSecret)
	cmd.Stdout, cmd.Stderr = s.log, s.log
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		s.t.Fatal(err)
	}
	s.cmd = cmd
	s.exited = make(chan struct{})
	go func() { _ = cmd.Wait(); close(s.exited) }()
	if client == nil {
		client = http.DefaultClient
	}
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case <-s.exited:
			s.t.Fatalf("reliquary serve exited at start:\n%s", s.log)
		default:
		}
		resp, err := client.Get(s.url() + "/healthz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	s.t.Fatalf("reliquary serve did not answer within 30s:\n%s", s.log)
}

// kill sends SIGKILL and waits for the process to go.
func (s *server) kill() {
	if s.cmd == nil {
		return
	}
	_ = s.cmd.Process.Signal(syscall.SIGKILL)
	<-s.exited
	s.cmd = nil
}

// stop sends SIGTERM (a graceful drain) and waits.
func (s *server) stop() {
	if s.cmd == nil {
		return
	}
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.exited:
	case <-time.After(30 * time.Second):
		s.t.Error("reliquary serve did not stop within 30s of SIGTERM")
		s.kill()
	}
	s.cmd = nil
}

// tool runs an offline command (audit verify, fsck) on the data directory
// and returns its exit code and output.
func (s *server) tool(args ...string) (int, string) {
	s.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	args = append(args, "--data-dir", s.dataDir)
	args = append(args, s.storeArgs()...)
	cmd := exec.CommandContext(ctx, binary(s.t), args...)
	out, err := cmd.CombinedOutput()
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		return ee.ExitCode(), string(out)
	case err != nil:
		s.t.Fatalf("reliquary %s: %v", strings.Join(args, " "), err)
	}
	return 0, string(out)
}

// storeArgs are the store flags among the serve flags (the offline tools
// take the same).
func (s *server) storeArgs() []string {
	var out []string
	for i := 0; i < len(s.args); i++ {
		a := s.args[i]
		if strings.HasPrefix(a, "--storage") || strings.HasPrefix(a, "--s3-") {
			out = append(out, a)
			if !strings.Contains(a, "=") && a != "--s3-insecure" && i+1 < len(s.args) {
				out = append(out, s.args[i+1])
				i++
			}
		}
	}
	return out
}

// s3Args are the serve flags for a new bucket on a MinIO server.
func s3Args(t *testing.T, m *testenv.MinIO) []string {
	cfg := m.Config(t)
	return []string{"--storage", "s3", "--s3-endpoint", cfg.Endpoint, "--s3-bucket", cfg.Bucket,
		"--s3-access-key", cfg.AccessKey, "--s3-secret-key", cfg.SecretKey, "--s3-insecure"}
}

func (s *server) String() string { return fmt.Sprintf("reliquary serve on %s (%s)", s.addr, s.dataDir) }
