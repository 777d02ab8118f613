package signing

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"fmt"
	"log/slog"

	"github.com/sigstore/sigstore/pkg/cryptoutils"
	"github.com/sigstore/sigstore/pkg/signature"
	"github.com/sigstore/sigstore/pkg/signature/options"
)

// Config says where the signing key comes from.
type Config struct {
	// Ref is the key reference: empty for the key generated on first start
	// under DataDir, a PEM file path, or a KMS URI (awskms://, gcpkms://,
	// azurekms://, hashivault://).
	Ref string
	// DataDir holds the generated key (<DataDir>/signing.key) when Ref is
	// empty. It is created with mode 0700 if missing.
	DataDir string
	// Password decrypts a cosign-format encrypted key file. The caller fills
	// it from RELIQUARY_SIGNING_KEY_PASSWORD; it is ignored for other keys.
	Password []byte
	// Logger receives key lifecycle messages; slog.Default() when nil.
	Logger *slog.Logger
}

// Signer signs SHA-256 digests with one ECDSA P-256 key, local or in a KMS.
// It is safe for concurrent use.
type Signer struct {
	sv     signature.SignerVerifier
	pub    *ecdsa.PublicKey
	pubPEM []byte
	keyID  string
	source string
}

// Load returns the Signer that cfg describes. With an empty Ref the key at
// <DataDir>/signing.key is used, and generated (ECDSA P-256, PKCS#8 PEM, mode
// 0600, written atomically) when it does not exist yet. A Ref containing
// "://" is a KMS URI; anything else is a PEM file path (see
// ParsePrivateKeyPEM for the accepted formats).
func Load(ctx context.Context, cfg Config) (*Signer, error) {
	log := cfg.Logger
	if log == nil {
		log = slog.Default()
	}
	if isKMSRef(cfg.Ref) {
		return loadKMS(ctx, cfg.Ref, log)
	}
	var (
		key    *ecdsa.PrivateKey
		source string
		err    error
	)
	if cfg.Ref == "" {
		if cfg.DataDir == "" {
			return nil, ErrNoKeyRef
		}
		key, source, err = loadOrGenerate(cfg.DataDir, cfg.Password, log)
	} else {
		source = cfg.Ref
		key, err = readKeyFile(cfg.Ref, cfg.Password, log)
	}
	if err != nil {
		return nil, err
	}
	s, err := NewSigner(key)
	if err != nil {
		return nil, err
	}
	s.source = source
	log.Info("signing key loaded", "source", source, "key_id", s.keyID)
	return s, nil
}

// NewSigner wraps an in-memory ECDSA P-256 private key. Load is the usual
// entry point; NewSigner serves tests and tools that already hold a key.
func NewSigner(key *ecdsa.PrivateKey) (*Signer, error) {
	if key == nil {
		return nil, fmt.Errorf("%w: nil private key", ErrInvalidKey)
	}
	if _, err := checkPrivateKey(key); err != nil {
		return nil, err
	}
	sv, err := signature.LoadECDSASignerVerifier(key, crypto.SHA256)
	if err != nil {
		return nil, fmt.Errorf("load ECDSA signer: %w", err)
	}
	return newSigner(sv, &key.PublicKey, "memory")
}

// newSigner computes the public key encodings shared by every key source.
func newSigner(sv signature.SignerVerifier, pub *ecdsa.PublicKey, source string) (*Signer, error) {
	pubPEM, err := cryptoutils.MarshalPublicKeyToPEM(pub)
	if err != nil {
		return nil, fmt.Errorf("encode public key: %w", err)
	}
	id, err := keyIDOf(pub)
	if err != nil {
		return nil, err
	}
	return &Signer{sv: sv, pub: pub, pubPEM: pubPEM, keyID: id, source: source}, nil
}

// KeyIDLength is the number of hex characters in a key ID.
const KeyIDLength = 16

// keyIDOf returns the first KeyIDLength hex characters (64 bits) of the
// SHA-256 of the key's DER SubjectPublicKeyInfo.
func keyIDOf(pub crypto.PublicKey) (string, error) {
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return "", fmt.Errorf("%w: marshal public key: %w", ErrInvalidKey, err)
	}
	sum := sha256.Sum256(der)
	return hex.EncodeToString(sum[:])[:KeyIDLength], nil
}

// KeyID identifies the key: the first 16 hex characters (64 bits) of the
// SHA-256 of its DER-encoded SubjectPublicKeyInfo. Anyone holding the PEM
// public key can recompute it (see KeyIDFromPEM).
func (s *Signer) KeyID() string { return s.keyID }

// PublicKeyPEM returns the PEM ("PUBLIC KEY", PKIX) encoding of the public
// key, as served at GET /signing/key and accepted by cosign --key. The
// returned slice is a copy.
func (s *Signer) PublicKeyPEM() []byte { return bytes.Clone(s.pubPEM) }

// PublicKey returns the ECDSA public key.
func (s *Signer) PublicKey() *ecdsa.PublicKey { return s.pub }

// Source describes where the key came from (file path, KMS URI, "memory"),
// for logs and diagnostics; it never contains key material.
func (s *Signer) Source() string { return s.source }

// SignDigest signs a SHA-256 digest computed by the caller (typically while
// streaming an artifact) and returns the ASN.1 DER ECDSA signature. The bytes
// are not read again. Base64 of the result is what cosign verify-blob takes
// as --signature for the original bytes.
//
// The signature is checked against the public key before it is returned, so
// a faulty KMS or key mix-up fails here rather than at the first download.
func (s *Signer) SignDigest(ctx context.Context, digest []byte) ([]byte, error) {
	if len(digest) != sha256.Size {
		return nil, fmt.Errorf("%w: got %d bytes", ErrInvalidDigest, len(digest))
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("sign digest: %w", err)
	}
	sig, err := s.sv.SignMessage(bytes.NewReader(nil),
		options.WithDigest(digest),
		options.WithCryptoSignerOpts(crypto.SHA256),
		options.WithContext(ctx),
	)
	if err != nil {
		return nil, fmt.Errorf("sign digest with key %s: %w", s.keyID, err)
	}
	if !ecdsa.VerifyASN1(s.pub, digest, sig) {
		return nil, fmt.Errorf("%w: fresh signature from key %s (%s) does not verify", ErrVerification, s.keyID, s.source)
	}
	return sig, nil
}

// Sign signs a small in-memory message such as a manifest: SHA-256 of msg,
// then SignDigest.
func (s *Signer) Sign(ctx context.Context, msg []byte) ([]byte, error) {
	sum := sha256.Sum256(msg)
	return s.SignDigest(ctx, sum[:])
}
