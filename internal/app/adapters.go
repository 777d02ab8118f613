package app

import (
	"context"
	"errors"

	"github.com/reliquary/reliquary/internal/library"
	"github.com/reliquary/reliquary/internal/oidc"
	"github.com/reliquary/reliquary/internal/signing"
	"github.com/reliquary/reliquary/internal/transparency"
)

// The library's interfaces over the concrete signing, transparency and
// OIDC packages: the domain names what it needs, the wiring adapts.

// keyring is the signing keyring as library.Keyring.
type keyring struct{ kr *signing.Keyring }

func (k keyring) Keys() []library.VerificationKey {
	var out []library.VerificationKey
	for _, p := range k.kr.Keys() {
		out = append(out, library.VerificationKey{KeyID: p.KeyID, PEM: p.PEM, Current: p.Current})
	}
	return out
}

func (k keyring) Bundle(digest, sig []byte) ([]byte, error) { return k.kr.Bundle(digest, sig) }

// signedLog is the transparency log as library.SignedLog.
type signedLog struct{ l *transparency.Log }

func (s signedLog) Checkpoint(ctx context.Context) ([]byte, error) {
	cp, err := s.l.Checkpoint(ctx, 0)
	return cp.Note, err
}

func (s signedLog) Size() (uint64, error) {
	size, _, err := s.l.Tree.LogHead()
	return size, err
}

func (s signedLog) InclusionProof(index, size uint64) ([][]byte, error) {
	return s.l.Tree.InclusionProof(index, size)
}

func (s signedLog) ConsistencyProof(from, to uint64) ([][]byte, error) {
	return s.l.Tree.ConsistencyProof(from, to)
}

func (s signedLog) Statement(ctx context.Context, product, version string) ([]byte, error) {
	return s.l.Statement(ctx, product, version)
}

// oidcVerifier is the OIDC verifier as library.OIDCVerifier: its errors
// keep their text and also match the library's sentinels.
type oidcVerifier struct{ v *oidc.Verifier }

func (o oidcVerifier) Issuers() []string { return o.v.Issuers() }

func (o oidcVerifier) Verify(ctx context.Context, raw string) (library.OIDCIdentity, error) {
	id, err := o.v.Verify(ctx, raw)
	if err != nil {
		return library.OIDCIdentity{}, oidcError(err)
	}
	return library.OIDCIdentity{Issuer: id.Issuer, Subject: id.Subject, Audience: id.Audience,
		JTI: id.JTI, Expiry: id.Expiry, Claims: id.Claims}, nil
}

// oidcError maps internal/oidc's errors onto the library's.
func oidcError(err error) error {
	for _, m := range []struct{ from, to error }{
		{oidc.ErrIssuerUnavailable, library.ErrOIDCIssuerUnavailable},
		{oidc.ErrUntrustedIssuer, library.ErrOIDCIssuerUntrusted},
		{oidc.ErrInvalidToken, library.ErrOIDCTokenInvalid},
	} {
		if errors.Is(err, m.from) {
			return &mappedError{err: err, kind: m.to}
		}
	}
	return err
}

// mappedError reads as err and also matches kind.
type mappedError struct{ err, kind error }

func (e *mappedError) Error() string   { return e.err.Error() }
func (e *mappedError) Unwrap() []error { return []error{e.err, e.kind} }
