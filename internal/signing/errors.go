package signing

import "errors"

// Sentinel errors. Callers match them with errors.Is; every error returned by
// this package that belongs to one of these classes wraps the sentinel.
var (
	// ErrNoKeyRef means the configuration names neither a key nor a data
	// directory in which to keep a generated key.
	ErrNoKeyRef = errors.New("signing: no key reference and no data directory")

	// ErrUnsupportedKey means the key is not ECDSA P-256 (RSA, Ed25519,
	// another curve, an unknown PEM block).
	ErrUnsupportedKey = errors.New("signing: unsupported key")

	// ErrInvalidKey means a key file or PEM block could not be decoded.
	ErrInvalidKey = errors.New("signing: invalid key")

	// ErrPasswordRequired means the key file is encrypted and no password (or
	// not the right empty one) was supplied.
	ErrPasswordRequired = errors.New("signing: encrypted key needs a password (set RELIQUARY_SIGNING_KEY_PASSWORD)")

	// ErrWrongPassword means the encrypted key could not be decrypted with the
	// supplied password.
	ErrWrongPassword = errors.New("signing: wrong password for encrypted key")

	// ErrUnsupportedKeyRef means the key reference has a URI scheme that is
	// neither a file nor a known KMS provider.
	ErrUnsupportedKeyRef = errors.New("signing: unsupported key reference")

	// ErrKMSProviderNotBuilt means the KMS scheme is known but its provider
	// was not compiled into this binary.
	ErrKMSProviderNotBuilt = errors.New("signing: KMS provider not built into this binary")

	// ErrKMS means the KMS provider failed (unreachable, denied, bad key).
	ErrKMS = errors.New("signing: KMS error")

	// ErrInvalidDigest means a digest is not a 32-byte SHA-256 value.
	ErrInvalidDigest = errors.New("signing: digest must be 32 bytes of SHA-256")

	// ErrVerification means a signature does not verify with any trusted key.
	ErrVerification = errors.New("signing: signature verification failed")

	// ErrInvalidSignature means a signature is not decodable (bad base64,
	// empty).
	ErrInvalidSignature = errors.New("signing: invalid signature encoding")
)
