// Package cluster_test is the proof of DESIGN §9: three `reliquary serve
// --storage s3` processes (the built binary) on one MinIO bucket, each
// reaching MinIO through its own TCP proxy (testenv.Proxy) so it can be
// partitioned from the store, while clients write through all of them and
// nodes are SIGKILLed and restarted. `make test` runs a short run; `make
// chaos` a long one (RELIQUARY_CLUSTER_SECONDS, RELIQUARY_CLUSTER_KILLS).
package cluster_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
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

	"github.com/reliquary/reliquary/internal/testenv"
	"github.com/reliquary/reliquary/storage/s3"
)

// adminSecret is the bootstrap admin token of every node.
const adminSecret = "rlq_cluster-admin-secret-0123456789abcdef"

func TestMain(m *testing.M) {
	code := m.Run()
	testenv.StopShared()
	os.Exit(code)
}

// node is one `reliquary serve` process on a fixed address (a restart
// keeps the URL) with its own data directory and its own proxy to MinIO.
type node struct {
	t       *testing.T
	id      int
	addr    string
	dataDir string
	proxy   *testenv.Proxy
	args    []string
	env     []string

	mu     sync.Mutex
	cmd    *exec.Cmd
	exited chan struct{}
	log    *testenv.SyncBuffer
	starts int
}

func (n *node) url() string { return "http://" + n.addr }

// cluster is the nodes and what they share: the bucket, the signing key
// and (when the binary has the flag) the secrets key.
type cluster struct {
	t     *testing.T
	minio *testenv.MinIO
	s3    s3.Config
	nodes []*node
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

// writeSigningKey writes a new P-256 key as PKCS#8 PEM: the one signing
// key every node is started with.
func writeSigningKey(t *testing.T, path string) {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
}

// serveFlags is the help text of `reliquary serve`, to pass the cluster
// flags the binary has (--node-id, --secrets-key) and only those.
func serveFlags(t *testing.T) string {
	out, _ := exec.Command(testenv.ReliquaryBinary(t), "serve", "--help").CombinedOutput()
	return string(out)
}

// newCluster starts n nodes on a new bucket of a dedicated MinIO.
func newCluster(t *testing.T, n int) *cluster {
	t.Helper()
	m := testenv.StartMinIO(t)
	cfg := m.Config(t)
	shared := t.TempDir()
	keyFile := filepath.Join(shared, "signing.pem")
	writeSigningKey(t, keyFile)
	help := serveFlags(t)
	base := []string{"--storage", "s3", "--s3-bucket", cfg.Bucket, "--s3-access-key", cfg.AccessKey, "--s3-insecure",
		"--signing-key", keyFile, "--storage-timeout", "3s", "--retention-interval", "0"}
	if strings.Contains(help, "--secrets-key") {
		var k [32]byte
		_, _ = rand.Read(k[:])
		f := filepath.Join(shared, "secrets.key")
		if err := os.WriteFile(f, []byte(hex.EncodeToString(k[:])+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		base = append(base, "--secrets-key", f)
	}
	c := &cluster{t: t, minio: m, s3: cfg}
	for i := range n {
		nd := &node{t: t, id: i, addr: freeAddr(t), dataDir: t.TempDir(), proxy: testenv.StartProxy(t, m.Endpoint), log: &testenv.SyncBuffer{}}
		nd.args = append([]string{"--s3-endpoint", nd.proxy.Addr}, base...)
		nd.env = []string{"RELIQUARY_S3_SECRET_KEY=" + cfg.SecretKey}
		if strings.Contains(help, "--node-id") {
			nd.args = append(nd.args, "--node-id", fmt.Sprintf("node%d", i))
		}
		t.Cleanup(nd.kill)
		c.nodes = append(c.nodes, nd)
	}
	// The first node creates the journal alone; the others then join it.
	c.nodes[0].start()
	for _, nd := range c.nodes[1:] {
		nd.start()
	}
	return c
}

// start runs serve and waits until /readyz answers 200 (a node catches up
// from the bucket before it is ready).
func (n *node) start() {
	n.t.Helper()
	args := append([]string{"serve", "--listen", n.addr, "--data-dir", n.dataDir}, n.args...)
	cmd := exec.Command(testenv.ReliquaryBinary(n.t), args...)
	cmd.Env = append(os.Environ(), "RELIQUARY_ADMIN_TOKEN="+adminSecret)
	cmd.Env = append(cmd.Env, n.env...)
	fmt.Fprintf(n.log, "--- start %d\n", n.starts+1)
	cmd.Stdout, cmd.Stderr = n.log, n.log
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		n.t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	n.mu.Lock()
	n.cmd, n.exited = cmd, exited
	n.starts++
	n.mu.Unlock()
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case <-exited:
			n.t.Fatalf("node %d exited at start:\n%s", n.id, tailString(n.log.String(), 4000))
		default:
		}
		resp, err := http.Get(n.url() + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	n.t.Fatalf("node %d was not ready within 60s:\n%s", n.id, tailString(n.log.String(), 4000))
}

// kill sends SIGKILL and waits for the process to go.
func (n *node) kill() {
	n.mu.Lock()
	cmd, exited := n.cmd, n.exited
	n.cmd = nil
	n.mu.Unlock()
	if cmd == nil {
		return
	}
	_ = cmd.Process.Signal(syscall.SIGKILL)
	<-exited
}

// running reports whether the process is up (it has not died on its own).
func (n *node) running() bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.cmd == nil {
		return false
	}
	select {
	case <-n.exited:
		return false
	default:
		return true
	}
}
