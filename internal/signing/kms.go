package signing

import (
	"context"
	"crypto"
	"fmt"
	"log/slog"
	"slices"
	"strings"

	"github.com/sigstore/sigstore/pkg/signature/kms"
	"github.com/sigstore/sigstore/pkg/signature/options"
)

// kmsProviders maps the KMS URI schemes Reliquary knows to a readable name.
// Whether a provider is usable also depends on it being compiled in (see
// kms_providers.go and the reliquary_nokms build tag).
var kmsProviders = map[string]string{
	"awskms://":     "AWS KMS",
	"gcpkms://":     "GCP KMS",
	"azurekms://":   "Azure Key Vault",
	"hashivault://": "HashiCorp Vault",
}

// KMSSchemes lists the KMS URI schemes whose providers are compiled into this
// binary, sorted, e.g. ["awskms://", "azurekms://", "gcpkms://", "hashivault://"].
func KMSSchemes() []string {
	var out []string
	for _, p := range kms.SupportedProviders() {
		if _, ok := kmsProviders[p]; ok {
			out = append(out, p)
		}
	}
	slices.Sort(out)
	return out
}

// isKMSRef reports whether ref is a URI rather than a file path.
func isKMSRef(ref string) bool { return strings.Contains(ref, "://") }

// kmsScheme returns the "scheme://" prefix of ref and the provider's name,
// or an error for schemes Reliquary does not support or did not compile in.
func kmsScheme(ref string) (scheme, name string, err error) {
	i := strings.Index(ref, "://")
	scheme = ref[:i+len("://")]
	name, known := kmsProviders[scheme]
	if !known {
		known := make([]string, 0, len(kmsProviders))
		for s := range kmsProviders {
			known = append(known, s)
		}
		slices.Sort(known)
		return scheme, "", fmt.Errorf("%w: scheme %q; use a PEM file path or one of %s",
			ErrUnsupportedKeyRef, scheme, strings.Join(known, ", "))
	}
	if !slices.Contains(kms.SupportedProviders(), scheme) {
		return scheme, name, fmt.Errorf("%w: KMS provider %s (%s) is not built into this binary", ErrKMSProviderNotBuilt, name, scheme)
	}
	return scheme, name, nil
}

// loadKMS opens a KMS key through the sigstore provider for its scheme and
// checks that it is an ECDSA P-256 key. Only the built-in providers are used:
// sigstore's fallback to external plugin programs is never reached, because
// unknown schemes are refused first.
func loadKMS(ctx context.Context, ref string, log *slog.Logger) (*Signer, error) {
	_, name, err := kmsScheme(ref)
	if err != nil {
		return nil, err
	}
	sv, err := kms.Get(ctx, ref, crypto.SHA256)
	if err != nil {
		return nil, fmt.Errorf("%w: open %s key %s: %w", ErrKMS, name, ref, err)
	}
	pub, err := sv.PublicKey(options.WithContext(ctx))
	if err != nil {
		return nil, fmt.Errorf("%w: fetch public key of %s key %s: %w", ErrKMS, name, ref, err)
	}
	ecPub, err := checkPublicKey(pub)
	if err != nil {
		return nil, fmt.Errorf("%s key %s: %w", name, ref, err)
	}
	s, err := newSigner(sv, ecPub, ref)
	if err != nil {
		return nil, err
	}
	log.Info("signing key loaded", "source", ref, "provider", name, "key_id", s.keyID)
	return s, nil
}
