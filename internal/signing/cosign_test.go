package signing

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// cosignInstall is how to get the cosign these tests run against.
const cosignInstall = "GOBIN=$(go env GOCACHE)/reliquary-tools/cosign-v2.6.5 " +
	"go install github.com/sigstore/cosign/v2/cmd/cosign@v2.6.5 " +
	"and set RELIQUARY_COSIGN to the binary (or put it on PATH)"

// cosignBinary finds cosign through RELIQUARY_COSIGN, then PATH. Without it
// the test is skipped, except in CI (CI=true) where that is a failure.
func cosignBinary(t *testing.T) string {
	t.Helper()
	if p := os.Getenv("RELIQUARY_COSIGN"); p != "" {
		if _, err := os.Stat(p); err != nil {
			t.Fatalf("RELIQUARY_COSIGN=%s: %v", p, err)
		}
		return p
	}
	if p, err := exec.LookPath("cosign"); err == nil {
		return p
	}
	if os.Getenv("CI") == "true" {
		t.Fatalf("cosign not found; in CI it is required: %s", cosignInstall)
	}
	t.Skipf("cosign not found; to run this test: %s", cosignInstall)
	return ""
}

// runCosign runs cosign offline (no TUF, no Rekor) with a private HOME.
func runCosign(t *testing.T, bin, dir string, env []string, args ...string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "HOME="+dir, "TUF_ROOT="+filepath.Join(dir, ".sigstore"), "COSIGN_YES=true")
	cmd.Env = append(cmd.Env, env...)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// writeBlob writes size random bytes to path, hashing them on the way as the
// upload path does, and returns the SHA-256.
func writeBlob(t *testing.T, path string, size int64) []byte {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.CopyN(io.MultiWriter(f, h), rand.Reader, size); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	return h.Sum(nil)
}

func flipByte(t *testing.T, path string, off int64) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	b := make([]byte, 1)
	if _, err := f.ReadAt(b, off); err != nil {
		t.Fatal(err)
	}
	b[0] ^= 0x01
	if _, err := f.WriteAt(b, off); err != nil {
		t.Fatal(err)
	}
}

// TestCosignVerifyBlob proves the DESIGN §5 promise: `cosign verify-blob
// --key key.pub --signature sig --insecure-ignore-tlog file` accepts
// base64(SignDigest(sha256(file))) and rejects the file with one byte flipped.
func TestCosignVerifyBlob(t *testing.T) {
	bin := cosignBinary(t)
	dir := t.TempDir()
	s, err := Load(context.Background(), quietConfig("", dir, nil))
	if err != nil {
		t.Fatal(err)
	}
	blob := filepath.Join(dir, "artifact.bin")
	digest := writeBlob(t, blob, 3<<20+17)
	sig, err := s.SignDigest(context.Background(), digest)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "artifact.bin.sig"), EncodeSignature(sig), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "key.pub"), s.PublicKeyPEM(), 0o644); err != nil {
		t.Fatal(err)
	}
	args := []string{"verify-blob", "--key", "key.pub", "--signature", "artifact.bin.sig", "--insecure-ignore-tlog", "artifact.bin"}

	out, err := runCosign(t, bin, dir, nil, args...)
	if err != nil {
		t.Fatalf("cosign %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	if !strings.Contains(out, "Verified OK") {
		t.Errorf("cosign output lacks \"Verified OK\":\n%s", out)
	}
	t.Logf("cosign %s:\n%s", strings.Join(args, " "), out)

	flipByte(t, blob, 1<<20)
	out, err = runCosign(t, bin, dir, nil, args...)
	if err == nil {
		t.Fatalf("cosign accepted a tampered blob:\n%s", out)
	}
	if !strings.Contains(out, "invalid signature") {
		t.Errorf("cosign failed on the tampered blob for another reason:\n%s", out)
	}
	t.Logf("tampered blob rejected as expected: %v\n%s", err, out)
}

// TestCosignGeneratedKeyLoads loads a key made by `cosign generate-key-pair`
// (encrypted with a password) and checks cosign verifies what it signs.
func TestCosignGeneratedKeyLoads(t *testing.T) {
	bin := cosignBinary(t)
	dir := t.TempDir()
	const password = "s3cret pass"
	env := []string{"COSIGN_PASSWORD=" + password}
	if out, err := runCosign(t, bin, dir, env, "generate-key-pair", "--output-key-prefix", "release"); err != nil {
		t.Fatalf("cosign generate-key-pair: %v\n%s", err, out)
	}
	keyPath := filepath.Join(dir, "release.key")
	pubPEM, err := os.ReadFile(filepath.Join(dir, "release.pub"))
	if err != nil {
		t.Fatal(err)
	}

	if _, err := Load(context.Background(), quietConfig(keyPath, "", []byte("wrong"))); err == nil {
		t.Fatal("cosign key loaded with the wrong password")
	}
	s, err := Load(context.Background(), quietConfig(keyPath, "", []byte(password)))
	if err != nil {
		t.Fatalf("Load cosign.key: %v", err)
	}
	wantID, err := KeyIDFromPEM(pubPEM)
	if err != nil {
		t.Fatal(err)
	}
	if s.KeyID() != wantID {
		t.Fatalf("KeyID = %s, cosign's release.pub has %s", s.KeyID(), wantID)
	}

	blob := filepath.Join(dir, "blob")
	digest := writeBlob(t, blob, 4096)
	sig, err := s.SignDigest(context.Background(), digest)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "blob.sig"), EncodeSignature(sig), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := runCosign(t, bin, dir, nil, "verify-blob", "--key", "release.pub", "--signature", "blob.sig", "--insecure-ignore-tlog", "blob")
	if err != nil {
		t.Fatalf("cosign verify-blob with cosign's own public key: %v\n%s", err, out)
	}

	// And the other direction: a cosign signature verifies with our helpers.
	out, err = runCosign(t, bin, dir, env, "sign-blob", "--key", "release.key", "--tlog-upload=false", "--output-signature", "cosign.sig", "blob")
	if err != nil {
		t.Fatalf("cosign sign-blob: %v\n%s", err, out)
	}
	text, err := os.ReadFile(filepath.Join(dir, "cosign.sig"))
	if err != nil {
		t.Fatal(err)
	}
	cosignSig, err := DecodeSignature(text)
	if err != nil {
		t.Fatal(err)
	}
	if err := VerifyDigestWithPEM(s.PublicKeyPEM(), digest, cosignSig); err != nil {
		t.Fatalf("cosign's signature does not verify here: %v", err)
	}
	if err := VerifyDigestWithPEM(s.PublicKeyPEM(), bytes.Repeat([]byte{1}, 32), cosignSig); err == nil {
		t.Fatal("cosign's signature verifies for the wrong digest")
	}
}
