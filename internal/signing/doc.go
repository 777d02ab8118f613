// Package signing signs and verifies what Reliquary vouches for: artifact
// bytes and the canonical JSON manifests of sealed releases and baselines.
//
// Signatures are ECDSA P-256 over SHA-256, ASN.1 DER encoded, the format
// that `cosign verify-blob --key key.pub --signature sig` (cosign v2.6.5)
// accepts once the signature is base64 encoded. Signing always starts from a
// SHA-256 digest that the caller computed while streaming the bytes, so an
// artifact is never read twice. Ed25519 and RSA are deliberately not offered:
// cosign cannot verify the pre-hashed Ed25519 signatures this design needs,
// and one algorithm keeps every verifier simple.
//
// The signing key is one of:
//
//   - a PEM file generated on first start under the data directory
//     (<data-dir>/signing.key, mode 0600);
//   - a PEM file supplied by the operator: unencrypted PKCS#8 or SEC 1, or
//     cosign's encrypted cosign.key format (scrypt + secretbox);
//   - a KMS URI (awskms://, gcpkms://, azurekms://, hashivault://) served by
//     the sigstore KMS providers compiled into the binary.
//
// Old public keys stay trusted through a [Keyring], so signatures made before
// a key rotation keep verifying. Manifests are serialised with [Canonical],
// and parsing them insists on canonical input, so a manifest has exactly one
// byte representation and exactly one digest.
package signing
