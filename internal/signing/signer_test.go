package signing

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/sigstore/sigstore/pkg/cryptoutils"
)

// quietConfig returns a Config whose logger discards output.
func quietConfig(ref, dataDir string, password []byte) Config {
	return Config{Ref: ref, DataDir: dataDir, Password: password, Logger: slog.New(slog.DiscardHandler)}
}

func newP256(t *testing.T) *ecdsa.PrivateKey {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func writeTemp(t *testing.T, name string, data []byte) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func mustKeyID(t *testing.T, pub *ecdsa.PublicKey) string {
	t.Helper()
	id, err := keyIDOf(pub)
	if err != nil {
		t.Fatal(err)
	}
	return id
}

// pemOf encodes DER bytes as a PEM block of the given type.
func pemOf(typ string, der []byte) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der})
}

func TestLoadGeneratesKeyOnFirstStart(t *testing.T) {
	ctx := context.Background()
	dir := filepath.Join(t.TempDir(), "reliquary-data") // does not exist yet

	first, err := Load(ctx, quietConfig("", dir, nil))
	if err != nil {
		t.Fatalf("first Load: %v", err)
	}
	path := filepath.Join(dir, DefaultKeyFile)
	info, err := os.Stat(path)
	if err != nil {
		t.Fatalf("generated key file: %v", err)
	}
	if got := info.Mode().Perm(); got != 0o600 {
		t.Errorf("key file mode = %v, want 0600", got)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	block, _ := pem.Decode(data)
	if block == nil || block.Type != "PRIVATE KEY" {
		t.Fatalf("generated key is not a PKCS#8 PEM block: %q", data)
	}
	if first.Source() != path {
		t.Errorf("Source() = %q, want %q", first.Source(), path)
	}

	second, err := Load(ctx, quietConfig("", dir, nil))
	if err != nil {
		t.Fatalf("second Load: %v", err)
	}
	if first.KeyID() != second.KeyID() {
		t.Errorf("second Load generated a new key: %s != %s", second.KeyID(), first.KeyID())
	}
	if !bytes.Equal(first.PublicKeyPEM(), second.PublicKeyPEM()) {
		t.Error("public keys differ between loads")
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 1 {
		var names []string
		for _, e := range entries {
			names = append(names, e.Name())
		}
		t.Errorf("data dir holds %v, want only %s (temporary file left behind?)", names, DefaultKeyFile)
	}
}

func TestLoadConcurrentFirstStartAgreesOnOneKey(t *testing.T) {
	dir := t.TempDir()
	const n = 8
	ids := make([]string, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			s, err := Load(context.Background(), quietConfig("", dir, nil))
			if err != nil {
				t.Errorf("Load %d: %v", i, err)
				return
			}
			ids[i] = s.KeyID()
		})
	}
	wg.Wait()
	for i := 1; i < n; i++ {
		if ids[i] != ids[0] {
			t.Fatalf("concurrent first starts produced different keys: %v", ids)
		}
	}
}

func TestWriteFileNoReplace(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "k")
	if err := writeFileNoReplace(p, []byte("one"), 0o600); err != nil {
		t.Fatal(err)
	}
	err := writeFileNoReplace(p, []byte("two"), 0o600)
	if !errors.Is(err, fs.ErrExist) {
		t.Fatalf("second write: err = %v, want fs.ErrExist", err)
	}
	if got, _ := os.ReadFile(p); string(got) != "one" {
		t.Errorf("existing file replaced: %q", got)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Errorf("temporary files left behind: %d entries", len(entries))
	}
}

func TestLoadKeyFiles(t *testing.T) {
	ec := newP256(t)
	pkcs8, err := cryptoutils.MarshalPrivateKeyToPEM(ec)
	if err != nil {
		t.Fatal(err)
	}
	sec1DER, err := x509.MarshalECPrivateKey(ec)
	if err != nil {
		t.Fatal(err)
	}
	sec1 := pemOf("EC PRIVATE KEY", sec1DER)
	// openssl ecparam -genkey writes an EC PARAMETERS block first.
	withParams := append(pemOf("EC PARAMETERS", []byte{0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07}), sec1...)

	password := []byte("correct horse battery staple")
	encDER, err := cryptoutils.MarshalPrivateKeyToEncryptedDER(ec, cryptoutils.StaticPasswordFunc(password))
	if err != nil {
		t.Fatal(err)
	}
	encSigstore := cryptoutils.PEMEncode(cryptoutils.EncryptedSigstorePrivateKeyPEMType, encDER)
	encCosign := pemOf("ENCRYPTED COSIGN PRIVATE KEY", encDER)
	emptyDER, err := cryptoutils.MarshalPrivateKeyToEncryptedDER(ec, cryptoutils.StaticPasswordFunc([]byte{}))
	if err != nil {
		t.Fatal(err)
	}
	encEmpty := cryptoutils.PEMEncode(cryptoutils.EncryptedSigstorePrivateKeyPEMType, emptyDER)

	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	rsaPKCS8, err := cryptoutils.MarshalPrivateKeyToPEM(rsaKey)
	if err != nil {
		t.Fatal(err)
	}
	rsaPKCS1 := pemOf("RSA PRIVATE KEY", x509.MarshalPKCS1PrivateKey(rsaKey))
	_, edKey, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	edPEM, err := cryptoutils.MarshalPrivateKeyToPEM(edKey)
	if err != nil {
		t.Fatal(err)
	}
	edEncDER, err := cryptoutils.MarshalPrivateKeyToEncryptedDER(edKey, cryptoutils.StaticPasswordFunc(password))
	if err != nil {
		t.Fatal(err)
	}
	edEnc := cryptoutils.PEMEncode(cryptoutils.EncryptedSigstorePrivateKeyPEMType, edEncDER)
	p384, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	p384PEM, err := cryptoutils.MarshalPrivateKeyToPEM(p384)
	if err != nil {
		t.Fatal(err)
	}
	wantID := mustKeyID(t, &ec.PublicKey)

	tests := []struct {
		name     string
		data     []byte
		password []byte
		wantErr  error  // nil: must load ec
		wantMsg  string // substring of the error, when set
	}{
		{name: "pkcs8", data: pkcs8},
		{name: "sec1", data: sec1},
		{name: "sec1 after EC PARAMETERS", data: withParams},
		{name: "encrypted sigstore", data: encSigstore, password: password},
		{name: "encrypted cosign label", data: encCosign, password: password},
		{name: "encrypted with empty password, none given", data: encEmpty},
		{name: "encrypted wrong password", data: encSigstore, password: []byte("nope"), wantErr: ErrWrongPassword},
		{name: "encrypted no password", data: encSigstore, wantErr: ErrPasswordRequired, wantMsg: "RELIQUARY_SIGNING_KEY_PASSWORD"},
		{name: "rsa pkcs8", data: rsaPKCS8, wantErr: ErrUnsupportedKey, wantMsg: "RSA"},
		{name: "rsa pkcs1", data: rsaPKCS1, wantErr: ErrUnsupportedKey, wantMsg: "RSA"},
		{name: "ed25519", data: edPEM, wantErr: ErrUnsupportedKey, wantMsg: "Ed25519"},
		{name: "ed25519 encrypted", data: edEnc, password: password, wantErr: ErrUnsupportedKey, wantMsg: "cosign cannot verify"},
		{name: "p384", data: p384PEM, wantErr: ErrUnsupportedKey, wantMsg: "P-384"},
		{name: "public key given", data: mustPubPEM(t, &ec.PublicKey), wantErr: ErrUnsupportedKey, wantMsg: "PUBLIC KEY"},
		{name: "not pem", data: []byte("hello"), wantErr: ErrInvalidKey},
		{name: "corrupt pkcs8", data: pemOf("PRIVATE KEY", []byte{1, 2, 3}), wantErr: ErrInvalidKey},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			path := writeTemp(t, "key.pem", tc.data)
			s, err := Load(context.Background(), quietConfig(path, "", tc.password))
			if tc.wantErr == nil {
				if err != nil {
					t.Fatalf("Load: %v", err)
				}
				if s.KeyID() != wantID {
					t.Errorf("KeyID = %s, want %s", s.KeyID(), wantID)
				}
				return
			}
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("err = %v, want %v", err, tc.wantErr)
			}
			if tc.wantMsg != "" && !strings.Contains(err.Error(), tc.wantMsg) {
				t.Errorf("err = %q, want it to mention %q", err, tc.wantMsg)
			}
			if !strings.Contains(err.Error(), path) {
				t.Errorf("err = %q does not name the file", err)
			}
		})
	}
}

func mustPubPEM(t *testing.T, pub *ecdsa.PublicKey) []byte {
	t.Helper()
	b, err := cryptoutils.MarshalPublicKeyToPEM(pub)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestLoadErrors(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "absent.key")
	tests := []struct {
		name    string
		cfg     Config
		wantErr error
	}{
		{name: "nothing configured", cfg: quietConfig("", "", nil), wantErr: ErrNoKeyRef},
		{name: "missing file", cfg: quietConfig(missing, "", nil), wantErr: fs.ErrNotExist},
		{name: "directory", cfg: quietConfig(t.TempDir(), "", nil), wantErr: ErrInvalidKey},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Load(context.Background(), tc.cfg)
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("err = %v, want %v", err, tc.wantErr)
			}
		})
	}
	// A missing operator-supplied file is never silently generated.
	if _, err := os.Stat(missing); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Load created %s", missing)
	}
}

func TestLoadWarnsOnLooseMode(t *testing.T) {
	pemBytes, err := cryptoutils.MarshalPrivateKeyToPEM(newP256(t))
	if err != nil {
		t.Fatal(err)
	}
	path := writeTemp(t, "key.pem", pemBytes)
	if err := os.Chmod(path, 0o644); err != nil {
		t.Fatal(err)
	}
	var logs bytes.Buffer
	cfg := Config{Ref: path, Logger: slog.New(slog.NewTextHandler(&logs, nil))}
	if _, err := Load(context.Background(), cfg); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(logs.String(), "group or others") {
		t.Errorf("no warning about mode 0644; logs: %s", logs.String())
	}
}

// publicKeyFromPEM decodes a PEM public key with the standard library only.
func publicKeyFromPEM(t *testing.T, pemBytes []byte) *ecdsa.PublicKey {
	t.Helper()
	block, _ := pem.Decode(pemBytes)
	if block == nil || block.Type != "PUBLIC KEY" {
		t.Fatalf("not a PUBLIC KEY PEM: %q", pemBytes)
	}
	pub, err := x509.ParsePKIXPublicKey(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	ec, ok := pub.(*ecdsa.PublicKey)
	if !ok {
		t.Fatalf("public key is %T", pub)
	}
	return ec
}

func TestSignDigestVerifiesWithStdlib(t *testing.T) {
	ctx := context.Background()
	s, err := NewSigner(newP256(t))
	if err != nil {
		t.Fatal(err)
	}
	pub := publicKeyFromPEM(t, s.PublicKeyPEM())

	// Hash while "streaming", as uploads do, then sign the digest.
	h := sha256.New()
	if _, err := io.CopyN(h, rand.Reader, 1<<20); err != nil {
		t.Fatal(err)
	}
	digest := h.Sum(nil)
	sig, err := s.SignDigest(ctx, digest)
	if err != nil {
		t.Fatal(err)
	}
	if !ecdsa.VerifyASN1(pub, digest, sig) {
		t.Fatal("crypto/ecdsa.VerifyASN1 rejects SignDigest's signature")
	}
	tampered := bytes.Clone(digest)
	tampered[0] ^= 1
	if ecdsa.VerifyASN1(pub, tampered, sig) {
		t.Fatal("signature verifies for another digest")
	}

	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(der)
	if want := hex.EncodeToString(sum[:])[:16]; s.KeyID() != want {
		t.Errorf("KeyID = %s, want %s", s.KeyID(), want)
	}
}

func TestSignDigestRejectsBadInput(t *testing.T) {
	s, err := NewSigner(newP256(t))
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range []int{0, 20, 31, 33, 48, 64} {
		if _, err := s.SignDigest(context.Background(), make([]byte, n)); !errors.Is(err, ErrInvalidDigest) {
			t.Errorf("%d-byte digest: err = %v, want ErrInvalidDigest", n, err)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := s.SignDigest(ctx, make([]byte, 32)); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled context: err = %v, want context.Canceled", err)
	}
}

func TestSignMessageAndTamper(t *testing.T) {
	s, err := NewSigner(newP256(t))
	if err != nil {
		t.Fatal(err)
	}
	msg := []byte(`{"product":"hr","version":"1.2.3"}`)
	sig, err := s.Sign(context.Background(), msg)
	if err != nil {
		t.Fatal(err)
	}
	if err := VerifyWithPEM(s.PublicKeyPEM(), msg, sig); err != nil {
		t.Fatalf("VerifyWithPEM: %v", err)
	}
	for i := range msg {
		bad := bytes.Clone(msg)
		bad[i] ^= 0x01
		if err := VerifyWithPEM(s.PublicKeyPEM(), bad, sig); !errors.Is(err, ErrVerification) {
			t.Fatalf("byte %d flipped: err = %v, want ErrVerification", i, err)
		}
	}
	badSig := bytes.Clone(sig)
	badSig[len(badSig)-1] ^= 0x01
	if err := VerifyWithPEM(s.PublicKeyPEM(), msg, badSig); !errors.Is(err, ErrVerification) {
		t.Fatalf("tampered signature: err = %v, want ErrVerification", err)
	}
}

func TestSignConcurrently(t *testing.T) {
	s, err := NewSigner(newP256(t))
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for i := range 16 {
		wg.Go(func() {
			msg := []byte{byte(i)}
			sig, err := s.Sign(context.Background(), msg)
			if err != nil {
				t.Error(err)
				return
			}
			if err := VerifyWithPEM(s.PublicKeyPEM(), msg, sig); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
}

func TestPublicKeyPEMIsACopy(t *testing.T) {
	s, err := NewSigner(newP256(t))
	if err != nil {
		t.Fatal(err)
	}
	p := s.PublicKeyPEM()
	p[0] = 'X'
	if s.PublicKeyPEM()[0] == 'X' {
		t.Error("PublicKeyPEM exposes internal state")
	}
}
