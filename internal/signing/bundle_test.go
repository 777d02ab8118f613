package signing

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	protobundle "github.com/sigstore/protobuf-specs/gen/pb-go/bundle/v1"
	protocommon "github.com/sigstore/protobuf-specs/gen/pb-go/common/v1"
	"google.golang.org/protobuf/encoding/protojson"
)

func TestBundle(t *testing.T) {
	s, err := NewSigner(newP256(t))
	if err != nil {
		t.Fatal(err)
	}
	digest := sha256.Sum256([]byte("artifact bytes"))
	sig, err := s.SignDigest(context.Background(), digest[:])
	if err != nil {
		t.Fatal(err)
	}
	out, err := s.Bundle(digest[:], sig)
	if err != nil {
		t.Fatalf("Bundle: %v", err)
	}
	again, err := s.Bundle(digest[:], sig)
	if err != nil || !bytes.Equal(out, again) {
		t.Fatalf("Bundle is not deterministic:\n%s\n%s", out, again)
	}

	var b protobundle.Bundle
	if err := protojson.Unmarshal(out, &b); err != nil {
		t.Fatalf("bundle is not a Sigstore bundle: %v\n%s", err, out)
	}
	if b.GetMediaType() != BundleMediaType {
		t.Errorf("mediaType = %q", b.GetMediaType())
	}
	if hint := b.GetVerificationMaterial().GetPublicKey().GetHint(); hint != s.KeyID() {
		t.Errorf("public key hint = %q, want %q", hint, s.KeyID())
	}
	ms := b.GetMessageSignature()
	if ms.GetMessageDigest().GetAlgorithm() != protocommon.HashAlgorithm_SHA2_256 ||
		!bytes.Equal(ms.GetMessageDigest().GetDigest(), digest[:]) ||
		!bytes.Equal(ms.GetSignature(), sig) {
		t.Errorf("message signature = %v", ms)
	}
	// The JSON field names the spec and cosign read.
	var generic map[string]any
	if err := json.Unmarshal(out, &generic); err != nil {
		t.Fatal(err)
	}
	for _, key := range []string{"mediaType", "verificationMaterial", "messageSignature"} {
		if _, ok := generic[key]; !ok {
			t.Errorf("bundle lacks %q: %s", key, out)
		}
	}

	other := sha256.Sum256([]byte("other bytes"))
	if _, err := s.Bundle(other[:], sig); !errors.Is(err, ErrVerification) {
		t.Errorf("bundle for a foreign digest: err = %v, want ErrVerification", err)
	}
	if _, err := s.Bundle(digest[:4], sig); !errors.Is(err, ErrInvalidDigest) {
		t.Errorf("short digest: err = %v, want ErrInvalidDigest", err)
	}
}

// TestCosignVerifyBundle checks cosign accepts the bundle offline:
// cosign verify-blob --key key.pub --bundle b.json --new-bundle-format --insecure-ignore-tlog blob.
func TestCosignVerifyBundle(t *testing.T) {
	bin := cosignBinary(t)
	dir := t.TempDir()
	s, err := NewSigner(newP256(t))
	if err != nil {
		t.Fatal(err)
	}
	blob := filepath.Join(dir, "artifact.bin")
	digest := writeBlob(t, blob, 1<<20)
	sig, err := s.SignDigest(context.Background(), digest)
	if err != nil {
		t.Fatal(err)
	}
	bundle, err := s.Bundle(digest, sig)
	if err != nil {
		t.Fatal(err)
	}
	// cosign v2 insists on a trusted root with the new bundle format even
	// when only a key is used; an empty one keeps the check offline.
	emptyRoot := []byte(`{"mediaType":"application/vnd.dev.sigstore.trustedroot+json;version=0.1"}`)
	files := map[string][]byte{"artifact.sigstore.json": bundle, "key.pub": s.PublicKeyPEM(), "trusted_root.json": emptyRoot}
	for name, data := range files {
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	args := []string{"verify-blob", "--key", "key.pub", "--bundle", "artifact.sigstore.json", "--new-bundle-format", "--trusted-root", "trusted_root.json", "--insecure-ignore-tlog", "artifact.bin"}
	out, err := runCosign(t, bin, dir, nil, args...)
	if err != nil {
		t.Fatalf("cosign %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	if !strings.Contains(out, "Verified OK") {
		t.Errorf("cosign output lacks \"Verified OK\":\n%s", out)
	}
	t.Logf("cosign %s:\n%s", strings.Join(args, " "), out)

	flipByte(t, blob, 12345)
	out, err = runCosign(t, bin, dir, nil, args...)
	if err == nil {
		t.Fatalf("cosign accepted the bundle for a tampered blob:\n%s", out)
	}
	t.Logf("tampered blob rejected as expected: %v\n%s", err, out)
}

// After a rotation the keyring bundles an old signature under the old key.
func TestKeyringBundleNamesTheSigningKey(t *testing.T) {
	oldKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	newKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	oldSigner, err := NewSigner(oldKey)
	if err != nil {
		t.Fatal(err)
	}
	newSigner, err := NewSigner(newKey)
	if err != nil {
		t.Fatal(err)
	}
	digest := sha256.Sum256([]byte("artifact"))
	sig, err := oldSigner.SignDigest(context.Background(), digest[:])
	if err != nil {
		t.Fatal(err)
	}
	kr, err := NewKeyring(newSigner, oldSigner.PublicKeyPEM())
	if err != nil {
		t.Fatal(err)
	}
	b, err := kr.Bundle(digest[:], sig)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(b, []byte(oldSigner.KeyID())) || bytes.Contains(b, []byte(newSigner.KeyID())) {
		t.Errorf("bundle does not name the old key %s: %s", oldSigner.KeyID(), b)
	}
	if _, err := newSigner.Bundle(digest[:], sig); err == nil {
		t.Error("the new signer bundled a signature it did not make")
	}
	other := sha256.Sum256([]byte("other"))
	if _, err := kr.Bundle(other[:], sig); err == nil {
		t.Error("the keyring bundled a signature over another digest")
	}
}
