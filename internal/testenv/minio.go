// Package testenv starts the real servers tests run against: a MinIO server
// process on a free 127.0.0.1 port with a temporary data directory.
//
// The MinIO binary is found in $RELIQUARY_MINIO, then in the cache `make
// test` builds it into, then on $PATH. When it is missing the test is skipped
// with instructions, except under CI=true, where it fails.
package testenv

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/reliquary/reliquary/storage/s3"
)

// MinIOVersion is the pinned MinIO build `make test` installs.
const MinIOVersion = "v0.0.0-20260212201848-7aac2a2c5b7c"

const (
	accessKey = "reliquary-test"
	secretKey = "reliquary-test-secret"
)

// MinIOBinary returns the path of the MinIO server binary, or "" when none
// is installed.
func MinIOBinary() string {
	if p := os.Getenv("RELIQUARY_MINIO"); p != "" {
		return p
	}
	if out, err := exec.Command("go", "env", "GOCACHE").Output(); err == nil {
		p := filepath.Join(strings.TrimSpace(string(out)), "reliquary-tools", "minio-"+MinIOVersion, "minio")
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	if p, err := exec.LookPath("minio"); err == nil {
		return p
	}
	return ""
}

// RequireTool skips (or, under CI=true, fails) a test whose tool is missing.
func RequireTool(tb testing.TB, name, path, install string) {
	tb.Helper()
	if path != "" {
		return
	}
	msg := fmt.Sprintf("%s is not installed: run `make test` (it builds it) or %s", name, install)
	if os.Getenv("CI") == "true" {
		tb.Fatal(msg)
	}
	tb.Skip(msg)
}

// MinIO is a running MinIO server process.
type MinIO struct {
	Endpoint string // 127.0.0.1:port
	dir      string
	bin      string
	cmd      *exec.Cmd
	exited   chan struct{}
	mu       sync.Mutex
}

// StartMinIO starts a dedicated MinIO server for one test and stops it at
// the end of the test.
func StartMinIO(tb testing.TB) *MinIO {
	tb.Helper()
	bin := MinIOBinary()
	RequireTool(tb, "MinIO", bin, "go install github.com/minio/minio@"+MinIOVersion+" and set RELIQUARY_MINIO")
	m := &MinIO{dir: tb.TempDir(), bin: bin}
	if err := m.Start(); err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(m.Stop)
	return m
}

var (
	sharedOnce sync.Once
	shared     *MinIO
	sharedErr  error
)

// SharedMinIO returns one MinIO server shared by all tests of the test
// binary (started on first use). Call StopShared from TestMain.
func SharedMinIO(tb testing.TB) *MinIO {
	tb.Helper()
	bin := MinIOBinary()
	RequireTool(tb, "MinIO", bin, "go install github.com/minio/minio@"+MinIOVersion+" and set RELIQUARY_MINIO")
	sharedOnce.Do(func() {
		dir, err := os.MkdirTemp("", "reliquary-minio-")
		if err != nil {
			sharedErr = err
			return
		}
		shared = &MinIO{dir: dir, bin: bin}
		sharedErr = shared.Start()
	})
	if sharedErr != nil {
		tb.Fatal(sharedErr)
	}
	return shared
}

// StopShared stops the shared server, if one was started, and removes its
// data and the reliquary binary ReliquaryBinary built. Call it from TestMain.
func StopShared() {
	if shared != nil {
		shared.Stop()
		os.RemoveAll(shared.dir)
	}
	if binDir != "" {
		os.RemoveAll(binDir)
	}
}

// Start launches the server (again, after Stop, on the same port and data
// directory when it had one) and waits until it answers.
func (m *MinIO) Start() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.Endpoint == "" {
		port, err := freePort()
		if err != nil {
			return err
		}
		m.Endpoint = fmt.Sprintf("127.0.0.1:%d", port)
	}
	console, err := freePort()
	if err != nil {
		return err
	}
	cmd := exec.Command(m.bin, "server", "--quiet", "--address", m.Endpoint,
		"--console-address", fmt.Sprintf("127.0.0.1:%d", console), filepath.Join(m.dir, "data"))
	cmd.Env = append(os.Environ(),
		"MINIO_ROOT_USER="+accessKey, "MINIO_ROOT_PASSWORD="+secretKey,
		"MINIO_BROWSER=off", "MINIO_UPDATE=off", "CI=") // CI=true makes MinIO noisy
	logf, err := os.Create(filepath.Join(m.dir, "minio.log"))
	if err != nil {
		return err
	}
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		logf.Close()
		return fmt.Errorf("start minio: %w", err)
	}
	m.cmd = cmd
	m.exited = make(chan struct{})
	go func() { _ = cmd.Wait(); logf.Close(); close(m.exited) }()

	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case <-m.exited:
			log, _ := os.ReadFile(filepath.Join(m.dir, "minio.log"))
			return fmt.Errorf("minio exited at start: %s", log)
		default:
		}
		resp, err := http.Get("http://" + m.Endpoint + "/minio/health/ready")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	m.kill()
	return errors.New("minio did not become ready within 60s")
}

// Stop terminates the server and waits for it to exit.
func (m *MinIO) Stop() {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.kill()
}

func (m *MinIO) kill() {
	if m.cmd == nil {
		return
	}
	_ = m.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-m.exited:
	case <-time.After(10 * time.Second):
		_ = m.cmd.Process.Kill()
		<-m.exited
	}
	m.cmd = nil
}

// Config returns a store configuration for a new, empty bucket on this
// server.
func (m *MinIO) Config(tb testing.TB) s3.Config {
	tb.Helper()
	var b [6]byte
	_, _ = rand.Read(b[:])
	cfg := s3.Config{
		Endpoint:  m.Endpoint,
		Bucket:    "test-" + hex.EncodeToString(b[:]),
		AccessKey: accessKey,
		SecretKey: secretKey,
		Insecure:  true,
	}
	st, err := s3.New(cfg)
	if err != nil {
		tb.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := st.CreateBucket(ctx); err != nil {
		tb.Fatal(err)
	}
	return cfg
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// Freeze stops the server process with SIGSTOP: it keeps its port and
// its connections but answers nothing, as a hung S3 endpoint does. Thaw
// (SIGCONT) resumes it; a test that freezes should t.Cleanup(m.Thaw).
func (m *MinIO) Freeze() error {
	if err := m.signal(syscall.SIGSTOP); err != nil {
		return err
	}
	// The signal is delivered asynchronously: wait until every thread is
	// stopped, so no request in flight is still answered.
	m.mu.Lock()
	pid := m.cmd.Process.Pid
	m.mu.Unlock()
	for range 100 {
		if stoppedProcess(pid) {
			return nil
		}
		time.Sleep(10 * time.Millisecond)
	}
	return fmt.Errorf("minio (pid %d) did not stop", pid)
}

// stoppedProcess reports whether every thread of pid is stopped (state T).
func stoppedProcess(pid int) bool {
	tasks, err := os.ReadDir(fmt.Sprintf("/proc/%d/task", pid))
	if err != nil || len(tasks) == 0 {
		return false
	}
	for _, task := range tasks {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/task/%s/stat", pid, task.Name()))
		if err != nil {
			return false
		}
		// pid (comm) state ...: the state follows the last ')'.
		i := strings.LastIndexByte(string(b), ')')
		if i < 0 || i+2 >= len(b) || (b[i+2] != 'T' && b[i+2] != 't') {
			return false
		}
	}
	return true
}

// Thaw resumes a server stopped by Freeze.
func (m *MinIO) Thaw() error { return m.signal(syscall.SIGCONT) }

func (m *MinIO) signal(sig syscall.Signal) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.cmd == nil {
		return errors.New("minio is not running")
	}
	return m.cmd.Process.Signal(sig)
}
