package signing

import (
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/sigstore/sigstore/pkg/signature/kms/fake"
)

// withFakeKMS makes sigstore's in-process fake provider (fakekms://) a known
// scheme for the duration of the test, so the whole KMS path runs without a
// cloud account.
func withFakeKMS(t *testing.T) {
	t.Helper()
	kmsProviders[fake.ReferenceScheme] = "fake KMS"
	t.Cleanup(func() { delete(kmsProviders, fake.ReferenceScheme) })
}

func TestKMSSchemeParsing(t *testing.T) {
	tests := []struct {
		ref        string
		wantScheme string
		wantErr    error
		wantMsg    string
	}{
		{ref: "awskms:///arn:aws:kms:eu-west-1:123456789012:key/abcd", wantScheme: "awskms://"},
		{ref: "awskms://localhost:4566/alias/reliquary", wantScheme: "awskms://"},
		{ref: "gcpkms://projects/p/locations/global/keyRings/r/cryptoKeys/k", wantScheme: "gcpkms://"},
		{ref: "azurekms://vault.vault.azure.net/reliquary", wantScheme: "azurekms://"},
		{ref: "hashivault://reliquary", wantScheme: "hashivault://"},
		{ref: "file:///etc/reliquary/key.pem", wantErr: ErrUnsupportedKeyRef, wantMsg: `"file://"`},
		{ref: "pkcs11://token=x", wantErr: ErrUnsupportedKeyRef, wantMsg: "hashivault://"},
		{ref: "k8s://ns/secret", wantErr: ErrUnsupportedKeyRef},
		{ref: "://nothing", wantErr: ErrUnsupportedKeyRef},
	}
	for _, tc := range tests {
		t.Run(tc.ref, func(t *testing.T) {
			if !isKMSRef(tc.ref) {
				t.Fatalf("isKMSRef(%q) = false", tc.ref)
			}
			scheme, _, err := kmsScheme(tc.ref)
			if tc.wantErr != nil {
				if !errors.Is(err, tc.wantErr) {
					t.Fatalf("err = %v, want %v", err, tc.wantErr)
				}
				if tc.wantMsg != "" && !strings.Contains(err.Error(), tc.wantMsg) {
					t.Errorf("err = %q, want it to mention %q", err, tc.wantMsg)
				}
				return
			}
			compiledIn := slices.Contains(KMSSchemes(), tc.wantScheme)
			switch {
			case err == nil && !compiledIn:
				t.Fatalf("kmsScheme accepted %s, whose provider is not compiled in", tc.ref)
			case err != nil && (compiledIn || !errors.Is(err, ErrKMSProviderNotBuilt)):
				t.Fatalf("kmsScheme: %v", err)
			}
			if scheme != tc.wantScheme {
				t.Errorf("scheme = %q, want %q", scheme, tc.wantScheme)
			}
		})
	}
	for _, p := range []string{"/etc/reliquary/signing.key", "signing.key", `C:\keys\signing.key`, ""} {
		if isKMSRef(p) {
			t.Errorf("isKMSRef(%q) = true, want a file path", p)
		}
	}
}

func TestLoadUnknownSchemeFailsClearly(t *testing.T) {
	_, err := Load(context.Background(), quietConfig("vaultx://key", "", nil))
	if !errors.Is(err, ErrUnsupportedKeyRef) {
		t.Fatalf("err = %v, want ErrUnsupportedKeyRef", err)
	}
	if !strings.Contains(err.Error(), "PEM file path") {
		t.Errorf("err = %q does not say what is accepted", err)
	}
}

func TestLoadKMSProviderNotBuilt(t *testing.T) {
	// A scheme Reliquary knows but whose provider is not registered, which
	// is what a -tags reliquary_nokms build sees for every KMS scheme.
	kmsProviders["testkms://"] = "Test KMS"
	t.Cleanup(func() { delete(kmsProviders, "testkms://") })
	_, err := Load(context.Background(), quietConfig("testkms://key", "", nil))
	if !errors.Is(err, ErrKMSProviderNotBuilt) {
		t.Fatalf("err = %v, want ErrKMSProviderNotBuilt", err)
	}
	if !strings.Contains(err.Error(), "KMS provider Test KMS (testkms://) is not built into this binary") {
		t.Errorf("unclear error: %q", err)
	}
}

func TestLoadFakeKMS(t *testing.T) {
	withFakeKMS(t)
	key := newP256(t)
	ctx := context.WithValue(context.Background(), fake.KmsCtxKey{}, key)
	s, err := Load(ctx, quietConfig("fakekms://reliquary", "", nil))
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	if want := mustKeyID(t, &key.PublicKey); s.KeyID() != want {
		t.Errorf("KeyID = %s, want %s", s.KeyID(), want)
	}
	if s.Source() != "fakekms://reliquary" {
		t.Errorf("Source = %q", s.Source())
	}
	digest := make([]byte, 32)
	if _, err := rand.Read(digest); err != nil {
		t.Fatal(err)
	}
	sig, err := s.SignDigest(ctx, digest)
	if err != nil {
		t.Fatalf("SignDigest through KMS: %v", err)
	}
	if !ecdsa.VerifyASN1(&key.PublicKey, digest, sig) {
		t.Fatal("KMS signature does not verify with the key")
	}
}

func TestLoadFakeKMSRefusesEd25519(t *testing.T) {
	withFakeKMS(t)
	_, ed, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.WithValue(context.Background(), fake.KmsCtxKey{}, ed)
	_, err = Load(ctx, quietConfig("fakekms://ed", "", nil))
	if !errors.Is(err, ErrUnsupportedKey) {
		t.Fatalf("err = %v, want ErrUnsupportedKey", err)
	}
}
