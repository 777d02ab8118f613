package library

import (
	"context"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
)

// Verification keys and Sigstore bundles of artifact signatures (the
// keyring of internal/signing).

// Keyring lists the verification keys and wraps artifact signatures in
// Sigstore bundles.
type Keyring interface {
	// Keys lists every verification key, the current one first.
	Keys() []VerificationKey
	// Bundle wraps a signature over a SHA-256 digest in a Sigstore
	// bundle (BundleMediaType).
	Bundle(digest, sig []byte) ([]byte, error)
}

// VerificationKey is one public key that verifies the library's
// signatures: the current one, or one retired.
type VerificationKey struct {
	KeyID   string
	PEM     []byte
	Current bool
}

// BundleMediaType is the media type of an artifact's Sigstore bundle.
const BundleMediaType = "application/vnd.dev.sigstore.bundle.v0.3+json"

// VerificationKeys lists the keys that verify the library's signatures
// (none when no keyring is wired).
func (s *Service) VerificationKeys() []VerificationKey {
	if s.keys == nil {
		return nil
	}
	return s.keys.Keys()
}

// ArtifactBundle is the artifact's signature as a Sigstore bundle.
func (s *Service) ArtifactBundle(ctx context.Context, product, version, name string) ([]byte, error) {
	ref, err := s.Artifact(ctx, product, version, name)
	if err != nil {
		return nil, err
	}
	if s.keys == nil {
		return nil, ErrNotImplemented
	}
	digest, err1 := hex.DecodeString(ref.Artifact.SHA256)
	sig, err2 := base64.StdEncoding.DecodeString(ref.Artifact.Signature)
	if err := errors.Join(err1, err2); err != nil {
		return nil, fmt.Errorf("artifact %s: stored digest or signature unreadable: %w", ref.Artifact.Name, err)
	}
	return s.keys.Bundle(digest, sig)
}
