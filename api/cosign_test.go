package api_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/reliquary/reliquary/internal/testenv"
)

// The real cosign verifies what the server hands out — the downloaded
// artifact, its signature, the server's public key, and the bundle — and
// rejects a tampered byte.
func TestCosignVerifiesDownloads(t *testing.T) {
	cosign := testenv.Cosign(t)
	srv := testenv.StartServer(t, testenv.ServerOptions{})
	admin := newClient(t, srv, srv.AdminToken)
	admin.json("POST", "/products", map[string]any{"name": "tool"}).must(t, 201)
	admin.json("POST", "/products/tool/releases", map[string]any{"version": "2.0.0"}).must(t, 201)
	base := "/products/tool/releases/2.0.0/artifacts/tool.tar.gz"
	admin.put(base, upload{size: 2<<20 + 3, seed: 42, header: "checksum"}).must(t, 201)

	dir := t.TempDir()
	write := func(name string, b []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, b, 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	blob := write("tool.tar.gz", admin.do("GET", base, nil).must(t, 200).body)
	sig := write("tool.sig", admin.do("GET", base+"/signature", nil).must(t, 200).body)
	key := write("key.pub", admin.do("GET", "/signing/key", nil).must(t, 200).body)
	bundle := write("tool.sigstore.json", admin.do("GET", base+"/bundle", nil).must(t, 200).body)
	root := write("trusted_root.json", []byte(`{"mediaType":"application/vnd.dev.sigstore.trustedroot+json;version=0.1"}`))

	run := func(args ...string) (string, error) {
		cmd := exec.Command(cosign, args...)
		cmd.Env = append(os.Environ(), "HOME="+dir, "TUF_ROOT="+filepath.Join(dir, "tuf"), "SIGSTORE_NO_CACHE=true")
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	viaSig := []string{"verify-blob", "--key", key, "--signature", sig, "--insecure-ignore-tlog"}
	viaBundle := []string{"verify-blob", "--key", key, "--bundle", bundle, "--new-bundle-format", "--trusted-root", root, "--insecure-ignore-tlog"}
	for _, args := range [][]string{viaSig, viaBundle} {
		if out, err := run(append(args, blob)...); err != nil || !strings.Contains(out, "Verified OK") {
			t.Errorf("cosign %s: %v\n%s", strings.Join(args[:5], " "), err, out)
		}
	}
	data, _ := os.ReadFile(blob)
	data[len(data)/2] ^= 0x01
	tampered := write("tampered.tar.gz", data)
	for _, args := range [][]string{viaSig, viaBundle} {
		if out, err := run(append(args, tampered)...); err == nil {
			t.Errorf("cosign accepted a tampered artifact:\n%s", out)
		}
	}
}
