package library

import (
	"context"
	"errors"
)

// Verification of a CI job's OIDC ID token for trusted publishing (DESIGN
// §11); internal/oidc verifies, behind OIDCVerifier.

// OIDCVerifier verifies ID tokens of the trusted issuers.
type OIDCVerifier interface {
	// Issuers lists the trusted issuers.
	Issuers() []string
	// Verify checks an ID token's signature, issuer and lifetime. Its
	// errors match ErrOIDCTokenInvalid, ErrOIDCIssuerUntrusted or
	// ErrOIDCIssuerUnavailable.
	Verify(ctx context.Context, raw string) (OIDCIdentity, error)
}

// OIDC verification errors.
var (
	// ErrOIDCTokenInvalid: the ID token is malformed, badly signed,
	// expired, not yet valid or lacks a required claim.
	ErrOIDCTokenInvalid = errors.New("invalid ID token")
	// ErrOIDCIssuerUntrusted: the token's issuer is not trusted.
	ErrOIDCIssuerUntrusted = errors.New("ID token issuer is not trusted")
	// ErrOIDCIssuerUnavailable: the issuer's discovery document or keys
	// could not be fetched; the caller may retry.
	ErrOIDCIssuerUnavailable = errors.New("ID token issuer unavailable")
)

// MaxOIDCTokenBytes is the largest ID token looked at.
const MaxOIDCTokenBytes = 16 << 10

// VerifyOIDC verifies a CI job's ID token and trades it for a short-lived
// token on the product whose trusted publisher accepts it (product, when
// set, chooses among several).
func (s *Service) VerifyOIDC(ctx context.Context, raw, product string) (*OIDCExchange, error) {
	if s.oidc == nil || len(s.oidc.Issuers()) == 0 {
		return nil, withDetails(ErrOIDCIssuerUntrusted, "this server trusts no OIDC issuer (see --oidc-issuer)", nil)
	}
	id, err := s.oidc.Verify(ctx, raw)
	if err != nil {
		return nil, err
	}
	return s.ExchangeOIDC(ctx, id, product)
}
