package signing

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"testing"
)

func TestKeyringVerifiesOldSignaturesAfterRotation(t *testing.T) {
	ctx := context.Background()
	old, err := NewSigner(newP256(t))
	if err != nil {
		t.Fatal(err)
	}
	older, err := NewSigner(newP256(t))
	if err != nil {
		t.Fatal(err)
	}
	msg := []byte("release manifest signed before rotation")
	oldSig, err := old.Sign(ctx, msg)
	if err != nil {
		t.Fatal(err)
	}

	current, err := NewSigner(newP256(t))
	if err != nil {
		t.Fatal(err)
	}
	// Two retired keys in one PEM file, plus a duplicate of the current key.
	retired := append(older.PublicKeyPEM(), old.PublicKeyPEM()...)
	kr, err := NewKeyring(current, retired, current.PublicKeyPEM())
	if err != nil {
		t.Fatalf("NewKeyring: %v", err)
	}

	keys := kr.Keys()
	if len(keys) != 3 {
		t.Fatalf("Keys() has %d keys, want 3 (duplicate not dropped?)", len(keys))
	}
	if !keys[0].Current || keys[0].KeyID != current.KeyID() {
		t.Errorf("first key = %+v, want the current key %s", keys[0], current.KeyID())
	}
	for _, k := range keys[1:] {
		if k.Current {
			t.Errorf("retired key %s marked current", k.KeyID)
		}
		if id, err := KeyIDFromPEM(k.PEM); err != nil || id != k.KeyID {
			t.Errorf("KeyIDFromPEM(%s) = %q, %v", k.KeyID, id, err)
		}
	}

	id, err := kr.Verify(msg, oldSig)
	if err != nil {
		t.Fatalf("old signature after rotation: %v", err)
	}
	if id != old.KeyID() {
		t.Errorf("verified by %s, want %s", id, old.KeyID())
	}

	newSig, err := current.Sign(ctx, msg)
	if err != nil {
		t.Fatal(err)
	}
	if id, err := kr.Verify(msg, newSig); err != nil || id != current.KeyID() {
		t.Errorf("new signature: id %q, err %v", id, err)
	}

	// Without the retired key the old signature is no longer trusted.
	onlyCurrent, err := NewKeyring(current)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := onlyCurrent.Verify(msg, oldSig); !errors.Is(err, ErrVerification) {
		t.Errorf("old signature with only the current key: err = %v, want ErrVerification", err)
	}

	tampered := bytes.Clone(msg)
	tampered[0] ^= 0x20
	if _, err := kr.Verify(tampered, oldSig); !errors.Is(err, ErrVerification) {
		t.Errorf("tampered message: err = %v, want ErrVerification", err)
	}
}

func TestKeyringClientSideWithoutSigner(t *testing.T) {
	s, err := NewSigner(newP256(t))
	if err != nil {
		t.Fatal(err)
	}
	kr, err := NewKeyring(nil, s.PublicKeyPEM())
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256([]byte("artifact"))
	sig, err := s.SignDigest(context.Background(), sum[:])
	if err != nil {
		t.Fatal(err)
	}
	if id, err := kr.VerifyDigest(sum[:], sig); err != nil || id != s.KeyID() {
		t.Errorf("VerifyDigest = %q, %v", id, err)
	}
	if got := kr.Keys(); len(got) != 1 || got[0].Current {
		t.Errorf("Keys() = %+v, want one non-current key", got)
	}
	if _, err := kr.VerifyDigest(sum[:5], sig); !errors.Is(err, ErrInvalidDigest) {
		t.Errorf("short digest: err = %v", err)
	}
}

func TestNewKeyringRejectsBadPEM(t *testing.T) {
	s, err := NewSigner(newP256(t))
	if err != nil {
		t.Fatal(err)
	}
	ed := []byte("-----BEGIN PUBLIC KEY-----\nMCowBQYDK2VwAyEAGb9ECWmEzf6FQbrBZ9w7lshQhqowtrbLDFw4rXAxZuE=\n-----END PUBLIC KEY-----\n")
	tests := []struct {
		name    string
		pem     []byte
		wantErr error
	}{
		{"empty", nil, ErrInvalidKey},
		{"garbage", []byte("not a key"), ErrInvalidKey},
		{"private key block", pemOf("PRIVATE KEY", []byte{1}), ErrInvalidKey},
		{"ed25519 public key", ed, ErrUnsupportedKey},
		{"trailing garbage", append(s.PublicKeyPEM(), "junk"...), ErrInvalidKey},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := NewKeyring(s, tc.pem); !errors.Is(err, tc.wantErr) {
				t.Errorf("NewKeyring: err = %v, want %v", err, tc.wantErr)
			}
			if err := VerifyWithPEM(tc.pem, []byte("m"), []byte{0x30}); !errors.Is(err, tc.wantErr) {
				t.Errorf("VerifyWithPEM: err = %v, want %v", err, tc.wantErr)
			}
		})
	}
}

func TestSignatureEncoding(t *testing.T) {
	sig := []byte{0x30, 0x45, 0x02, 0x20, 0xff}
	enc := EncodeSignature(sig)
	for _, in := range [][]byte{enc, append(bytes.Clone(enc), '\n'), append([]byte("  "), enc...)} {
		got, err := DecodeSignature(in)
		if err != nil || !bytes.Equal(got, sig) {
			t.Errorf("DecodeSignature(%q) = %x, %v", in, got, err)
		}
	}
	for _, bad := range []string{"", "\n", "!!!!", "MEUC*"} {
		if _, err := DecodeSignature([]byte(bad)); !errors.Is(err, ErrInvalidSignature) {
			t.Errorf("DecodeSignature(%q): err = %v, want ErrInvalidSignature", bad, err)
		}
	}
}
