package main

import (
	"bytes"
	"context"
	"net"
	"net/http"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestAdminTokenStaysOutOfLogs starts the real binary as a container would
// (settings in the environment) and checks that a given --admin-token
// never reaches its output, while a generated one is shown exactly once,
// at the first start; `reliquary healthcheck` finds the server from
// RELIQUARY_LISTEN alone, as the Dockerfile's HEALTHCHECK runs it.
func TestAdminTokenStaysOutOfLogs(t *testing.T) {
	bin := binary(t)
	start := func(dataDir string, env ...string) (stop func() string) {
		t.Helper()
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addr := l.Addr().String()
		l.Close()
		base := []string{"PATH=/usr/bin:/bin", "RELIQUARY_LISTEN=" + addr, "RELIQUARY_DATA_DIR=" + dataDir, "RELIQUARY_LOG_FORMAT=json"}
		cmd := exec.Command(bin, "serve")
		cmd.Env = append(base, env...)
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		deadline := time.Now().Add(30 * time.Second)
		for {
			hc := exec.Command(bin, "healthcheck", "--timeout", "500ms")
			hc.Env = base
			if err := hc.Run(); err == nil {
				break
			}
			if time.Now().After(deadline) {
				_ = cmd.Process.Kill()
				t.Fatalf("server did not become healthy:\n%s", out.String())
			}
			time.Sleep(100 * time.Millisecond)
		}
		// One authenticated request, so the access log has a line for it.
		for _, e := range env {
			if tok, ok := strings.CutPrefix(e, "RELIQUARY_ADMIN_TOKEN="); ok {
				req, _ := http.NewRequestWithContext(context.Background(), http.MethodGet, "http://"+addr+"/api/v1/tokens", nil)
				req.Header.Set("Authorization", "Bearer "+tok)
				resp, err := http.DefaultClient.Do(req)
				if err != nil || resp.StatusCode != 200 {
					t.Fatalf("GET /tokens with the admin token: %v %v", resp, err)
				}
				resp.Body.Close()
			}
		}
		return func() string {
			_ = cmd.Process.Signal(syscall.SIGTERM)
			_ = cmd.Wait()
			return out.String()
		}
	}

	const secret = "rlq_given-admin-secret-7f3a9c41d2"
	logs := start(t.TempDir(), "RELIQUARY_ADMIN_TOKEN="+secret)()
	if strings.Contains(logs, secret) || strings.Contains(logs, "RELIQUARY_TOKEN=") || strings.Contains(logs, "given-admin") {
		t.Errorf("the given admin token reached the output:\n%s", logs)
	}
	if !strings.Contains(logs, "reliquary serving") {
		t.Errorf("no start line in the output:\n%s", logs)
	}

	dir := t.TempDir()
	first := start(dir)()
	if strings.Count(first, "RELIQUARY_TOKEN=rlq_") != 1 {
		t.Errorf("a generated admin token is shown once at first start:\n%s", first)
	}
	if again := start(dir)(); strings.Contains(again, "RELIQUARY_TOKEN=") {
		t.Errorf("the generated token was shown again at the second start:\n%s", again)
	}
}
