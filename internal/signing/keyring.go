package signing

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"fmt"
	"strings"

	"github.com/sigstore/sigstore/pkg/cryptoutils"

	"github.com/reliquary/reliquary/internal/manifest"
)

// PublicKey is one verification key of a Keyring.
type PublicKey struct {
	// KeyID is the key's ID as returned by Signer.KeyID.
	KeyID string `json:"key_id"`
	// PEM is the PKIX "PUBLIC KEY" PEM encoding.
	PEM []byte `json:"pem"`
	// Current is true for the key that signs new documents.
	Current bool `json:"current"`
}

type keyringEntry struct {
	PublicKey
	pub *ecdsa.PublicKey
}

// Keyring holds every public key whose signatures are still trusted: the
// current signing key and the keys it replaced. After a rotation, artifacts
// and manifests signed with an old key keep verifying as long as that key's
// PEM is passed to NewKeyring. A Keyring is immutable and safe for
// concurrent use.
type Keyring struct {
	entries []keyringEntry // current key first, then extras in given order
}

// NewKeyring builds a keyring from the current signer (may be nil on the
// client side) and the PEM public keys of retired keys. Each extra PEM may
// hold several "PUBLIC KEY" blocks. Duplicates are dropped; a key that is not
// ECDSA P-256 is an error.
func NewKeyring(current *Signer, extraPEMs ...[]byte) (*Keyring, error) {
	kr := &Keyring{}
	seen := map[string]bool{}
	if current != nil {
		kr.entries = append(kr.entries, keyringEntry{
			PublicKey: PublicKey{KeyID: current.keyID, PEM: current.PublicKeyPEM(), Current: true},
			pub:       current.pub,
		})
		seen[current.keyID] = true
	}
	for i, data := range extraPEMs {
		pubs, err := parsePublicKeysPEM(data)
		if err != nil {
			return nil, fmt.Errorf("keyring: extra key %d: %w", i, err)
		}
		for _, e := range pubs {
			if seen[e.KeyID] {
				continue
			}
			seen[e.KeyID] = true
			kr.entries = append(kr.entries, e)
		}
	}
	return kr, nil
}

// Keys lists the keyring's keys, current key first.
func (kr *Keyring) Keys() []PublicKey {
	out := make([]PublicKey, len(kr.entries))
	for i, e := range kr.entries {
		out[i] = PublicKey{KeyID: e.KeyID, PEM: bytes.Clone(e.PEM), Current: e.Current}
	}
	return out
}

// VerifyDigest checks an ASN.1 DER signature over a SHA-256 digest against
// every key and returns the ID of the key that made it. It fails with
// ErrVerification when no key matches.
func (kr *Keyring) VerifyDigest(digest, sig []byte) (string, error) {
	if len(digest) != sha256.Size {
		return "", fmt.Errorf("%w: got %d bytes", ErrInvalidDigest, len(digest))
	}
	for _, e := range kr.entries {
		if ecdsa.VerifyASN1(e.pub, digest, sig) {
			return e.KeyID, nil
		}
	}
	return "", fmt.Errorf("%w: no match among %d trusted keys", ErrVerification, len(kr.entries))
}

// Verify checks a signature made by Signer.Sign over msg.
func (kr *Keyring) Verify(msg, sig []byte) (string, error) {
	sum := sha256.Sum256(msg)
	return kr.VerifyDigest(sum[:], sig)
}

// VerifyDigestWithPEM checks an ASN.1 DER ECDSA P-256 signature over a
// SHA-256 digest with one PEM public key. It is the client-side check of a
// downloaded artifact: hash while downloading, then call this.
func VerifyDigestWithPEM(pubPEM, digest, sig []byte) error {
	if len(digest) != sha256.Size {
		return fmt.Errorf("%w: got %d bytes", ErrInvalidDigest, len(digest))
	}
	pubs, err := parsePublicKeysPEM(pubPEM)
	if err != nil {
		return err
	}
	if len(pubs) != 1 {
		return fmt.Errorf("%w: expected one public key, PEM holds %d", ErrInvalidKey, len(pubs))
	}
	if !ecdsa.VerifyASN1(pubs[0].pub, digest, sig) {
		return fmt.Errorf("%w: key %s", ErrVerification, pubs[0].KeyID)
	}
	return nil
}

// VerifyWithPEM checks a signature made by Signer.Sign over msg with one PEM
// public key.
func VerifyWithPEM(pubPEM, msg, sig []byte) error {
	sum := sha256.Sum256(msg)
	return VerifyDigestWithPEM(pubPEM, sum[:], sig)
}

// KeyIDFromPEM returns the key ID (see Signer.KeyID) of a PEM public key.
func KeyIDFromPEM(pubPEM []byte) (string, error) {
	pubs, err := parsePublicKeysPEM(pubPEM)
	if err != nil {
		return "", err
	}
	if len(pubs) != 1 {
		return "", fmt.Errorf("%w: expected one public key, PEM holds %d", ErrInvalidKey, len(pubs))
	}
	return pubs[0].KeyID, nil
}

// EncodeSignature returns the base64 (standard, padded) text of a DER
// signature: the body of the .sig files and signature endpoints, and the
// format cosign's --signature flag reads (manifest.EncodeSignature).
func EncodeSignature(sig []byte) []byte { return manifest.EncodeSignature(sig) }

// DecodeSignature reverses EncodeSignature, ignoring surrounding whitespace
// (a trailing newline is common in files).
func DecodeSignature(text []byte) ([]byte, error) {
	s := strings.TrimSpace(string(text))
	if s == "" {
		return nil, fmt.Errorf("%w: empty", ErrInvalidSignature)
	}
	sig, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalidSignature, err)
	}
	return sig, nil
}

// parsePublicKeysPEM decodes every "PUBLIC KEY" block of data and keeps only
// ECDSA P-256 keys; anything else is an error.
func parsePublicKeysPEM(data []byte) ([]keyringEntry, error) {
	if len(bytes.TrimSpace(data)) == 0 {
		return nil, fmt.Errorf("%w: empty PEM", ErrInvalidKey)
	}
	var keys []crypto.PublicKey
	for rest := data; ; {
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil {
			if len(bytes.TrimSpace(rest)) != 0 {
				return nil, fmt.Errorf("%w: trailing data after PEM blocks", ErrInvalidKey)
			}
			break
		}
		if block.Type != string(cryptoutils.PublicKeyPEMType) {
			return nil, fmt.Errorf("%w: PEM block %q, want %q", ErrInvalidKey, block.Type, cryptoutils.PublicKeyPEMType)
		}
		k, err := x509.ParsePKIXPublicKey(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("%w: parse public key: %w", ErrInvalidKey, err)
		}
		keys = append(keys, k)
	}
	if len(keys) == 0 {
		return nil, fmt.Errorf("%w: no public key in PEM", ErrInvalidKey)
	}
	out := make([]keyringEntry, 0, len(keys))
	for _, k := range keys {
		pub, err := checkPublicKey(k)
		if err != nil {
			return nil, err
		}
		id, err := keyIDOf(pub)
		if err != nil {
			return nil, err
		}
		pemBytes, err := cryptoutils.MarshalPublicKeyToPEM(pub)
		if err != nil {
			return nil, fmt.Errorf("%w: encode public key: %w", ErrInvalidKey, err)
		}
		out = append(out, keyringEntry{PublicKey: PublicKey{KeyID: id, PEM: pemBytes}, pub: pub})
	}
	return out, nil
}
