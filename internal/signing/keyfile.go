package signing

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"

	"github.com/secure-systems-lab/go-securesystemslib/encrypted"
	"github.com/sigstore/sigstore/pkg/cryptoutils"
)

// DefaultKeyFile is the name of the key generated on first start inside the
// data directory.
const DefaultKeyFile = "signing.key"

// PEM block types accepted by ParsePrivateKeyPEM.
const (
	pemPKCS8           = string(cryptoutils.PrivateKeyPEMType)                  // "PRIVATE KEY"
	pemSEC1            = string(cryptoutils.ECPrivateKeyPEMType)                // "EC PRIVATE KEY"
	pemPKCS1           = string(cryptoutils.PKCS1PrivateKeyPEMType)             // "RSA PRIVATE KEY"
	pemEncSigstore     = string(cryptoutils.EncryptedSigstorePrivateKeyPEMType) // cosign >= 2.0
	pemEncCosign       = "ENCRYPTED COSIGN PRIVATE KEY"                         // cosign < 2.0
	pemECParameters    = "EC PARAMETERS"                                        // openssl ecparam -genkey
	pemOpenSSH         = "OPENSSH PRIVATE KEY"
	pemEncryptedPKCS8  = "ENCRYPTED PRIVATE KEY"
	maxKeyFileBytes    = 1 << 16
	generatedKeyPerm   = 0o600
	generatedKeyDirPrm = 0o700
)

// ParsePrivateKeyPEM decodes an ECDSA P-256 private key from PEM. It accepts
// unencrypted PKCS#8 ("PRIVATE KEY") and SEC 1 ("EC PRIVATE KEY", optionally
// preceded by an "EC PARAMETERS" block as written by openssl), and cosign's
// encrypted format ("ENCRYPTED SIGSTORE PRIVATE KEY" or the older
// "ENCRYPTED COSIGN PRIVATE KEY": scrypt-derived key, NaCl secretbox,
// PKCS#8 inside). For the encrypted formats an empty password is tried when
// none is given, as cosign allows keys generated with an empty password.
//
// Any other key type or curve fails with ErrUnsupportedKey.
func ParsePrivateKeyPEM(data, password []byte) (*ecdsa.PrivateKey, error) {
	rest := data
	for {
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil {
			return nil, fmt.Errorf("%w: no PEM private key block found", ErrInvalidKey)
		}
		if block.Type == pemECParameters {
			continue
		}
		key, err := parsePrivateKeyBlock(block, password)
		if err != nil {
			return nil, err
		}
		return checkPrivateKey(key)
	}
}

func parsePrivateKeyBlock(block *pem.Block, password []byte) (crypto.PrivateKey, error) {
	switch block.Type {
	case pemPKCS8:
		key, err := x509.ParsePKCS8PrivateKey(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("%w: parse PKCS#8: %w", ErrInvalidKey, err)
		}
		return key, nil
	case pemSEC1:
		key, err := x509.ParseECPrivateKey(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("%w: parse SEC 1 EC key: %w", ErrInvalidKey, err)
		}
		return key, nil
	case pemEncSigstore, pemEncCosign:
		der, err := decryptCosignKey(block.Bytes, password)
		if err != nil {
			return nil, err
		}
		key, err := x509.ParsePKCS8PrivateKey(der)
		if err != nil {
			return nil, fmt.Errorf("%w: parse decrypted PKCS#8: %w", ErrInvalidKey, err)
		}
		return key, nil
	case pemPKCS1:
		return nil, fmt.Errorf("%w: RSA keys are not supported; use an ECDSA P-256 key", ErrUnsupportedKey)
	case pemOpenSSH:
		return nil, fmt.Errorf("%w: OpenSSH keys are not supported; use an ECDSA P-256 PEM key", ErrUnsupportedKey)
	case pemEncryptedPKCS8:
		return nil, fmt.Errorf("%w: PKCS#8 password-encrypted keys are not supported; use cosign's encrypted format or an unencrypted key", ErrUnsupportedKey)
	default:
		return nil, fmt.Errorf("%w: PEM block %q is not a private key", ErrUnsupportedKey, block.Type)
	}
}

// decryptCosignKey opens cosign's encrypted key envelope.
func decryptCosignKey(ciphertext, password []byte) ([]byte, error) {
	der, err := encrypted.Decrypt(ciphertext, password)
	if err == nil {
		return der, nil
	}
	if len(password) == 0 {
		return nil, fmt.Errorf("%w: %w", ErrPasswordRequired, err)
	}
	return nil, fmt.Errorf("%w: %w", ErrWrongPassword, err)
}

// checkPrivateKey keeps ECDSA P-256 keys and refuses everything else with a
// message that says what to use instead.
func checkPrivateKey(key crypto.PrivateKey) (*ecdsa.PrivateKey, error) {
	switch k := key.(type) {
	case *ecdsa.PrivateKey:
		if k.Curve != elliptic.P256() {
			return nil, fmt.Errorf("%w: ECDSA curve %s; only P-256 is supported", ErrUnsupportedKey, k.Curve.Params().Name)
		}
		return k, nil
	case ed25519.PrivateKey:
		return nil, fmt.Errorf("%w: Ed25519 keys are not supported (cosign cannot verify pre-hashed Ed25519 signatures); use an ECDSA P-256 key", ErrUnsupportedKey)
	case *rsa.PrivateKey:
		return nil, fmt.Errorf("%w: RSA keys are not supported; use an ECDSA P-256 key", ErrUnsupportedKey)
	default:
		return nil, fmt.Errorf("%w: key type %T; only ECDSA P-256 is supported", ErrUnsupportedKey, key)
	}
}

// checkPublicKey is checkPrivateKey for public keys.
func checkPublicKey(key crypto.PublicKey) (*ecdsa.PublicKey, error) {
	switch k := key.(type) {
	case *ecdsa.PublicKey:
		if k.Curve != elliptic.P256() {
			return nil, fmt.Errorf("%w: ECDSA curve %s; only P-256 is supported", ErrUnsupportedKey, k.Curve.Params().Name)
		}
		return k, nil
	case ed25519.PublicKey:
		return nil, fmt.Errorf("%w: Ed25519 keys are not supported (cosign cannot verify pre-hashed Ed25519 signatures)", ErrUnsupportedKey)
	case *rsa.PublicKey:
		return nil, fmt.Errorf("%w: RSA keys are not supported", ErrUnsupportedKey)
	default:
		return nil, fmt.Errorf("%w: public key type %T; only ECDSA P-256 is supported", ErrUnsupportedKey, key)
	}
}

// readKeyFile reads and parses an operator-supplied key file.
func readKeyFile(path string, password []byte, log *slog.Logger) (*ecdsa.PrivateKey, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("open signing key: %w", err)
	}
	defer f.Close()
	info, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("stat signing key %s: %w", path, err)
	}
	if !info.Mode().IsRegular() {
		return nil, fmt.Errorf("%w: %s is not a regular file", ErrInvalidKey, path)
	}
	if info.Mode().Perm()&0o077 != 0 {
		log.Warn("signing key file is accessible by group or others", "path", path, "mode", info.Mode().Perm().String())
	}
	data, err := io.ReadAll(io.LimitReader(f, maxKeyFileBytes+1))
	if err != nil {
		return nil, fmt.Errorf("read signing key %s: %w", path, err)
	}
	if len(data) > maxKeyFileBytes {
		return nil, fmt.Errorf("%w: %s is larger than %d bytes, not a key", ErrInvalidKey, path, maxKeyFileBytes)
	}
	key, err := ParsePrivateKeyPEM(data, password)
	if err != nil {
		return nil, fmt.Errorf("load signing key %s: %w", path, err)
	}
	return key, nil
}

// loadOrGenerate loads <dir>/signing.key, creating it first if it does not
// exist. Creation is atomic and never replaces a key: the PEM is written to a
// temporary file, fsynced, then hard-linked to its final name (link fails if
// the name exists), and the directory is fsynced. When another process wins
// the race, its key is loaded.
func loadOrGenerate(dir string, password []byte, log *slog.Logger) (*ecdsa.PrivateKey, string, error) {
	path := filepath.Join(dir, DefaultKeyFile)
	key, err := readKeyFile(path, password, log)
	if err == nil {
		return key, path, nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return nil, path, err
	}
	key, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, path, fmt.Errorf("generate signing key: %w", err)
	}
	pemBytes, err := cryptoutils.MarshalPrivateKeyToPEM(key)
	if err != nil {
		return nil, path, fmt.Errorf("encode signing key: %w", err)
	}
	if err := os.MkdirAll(dir, generatedKeyDirPrm); err != nil {
		return nil, path, fmt.Errorf("create data directory: %w", err)
	}
	switch err := writeFileNoReplace(path, pemBytes, generatedKeyPerm); {
	case errors.Is(err, fs.ErrExist):
		log.Info("signing key created concurrently, loading it", "path", path)
		key, err := readKeyFile(path, password, log)
		return key, path, err
	case err != nil:
		return nil, path, fmt.Errorf("write signing key: %w", err)
	}
	log.Info("generated signing key", "path", path, "algorithm", "ecdsa-p256-sha256")
	return key, path, nil
}

// writeFileNoReplace atomically creates path with data and perm. It fails
// with an error wrapping fs.ErrExist when path already exists, and leaves no
// temporary file behind in any case.
func writeFileNoReplace(path string, data []byte, perm os.FileMode) (err error) {
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return fmt.Errorf("create temporary file: %w", err)
	}
	tmpName := tmp.Name()
	defer func() {
		// The temporary name is always removed: after a successful link the
		// final name keeps the inode.
		if rmErr := os.Remove(tmpName); rmErr != nil && !errors.Is(rmErr, fs.ErrNotExist) && err == nil {
			err = fmt.Errorf("remove temporary file: %w", rmErr)
		}
	}()
	if err := tmp.Chmod(perm); err != nil {
		tmp.Close()
		return fmt.Errorf("chmod temporary file: %w", err)
	}
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return fmt.Errorf("write temporary file: %w", err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return fmt.Errorf("fsync temporary file: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("close temporary file: %w", err)
	}
	if err := os.Link(tmpName, path); err != nil {
		return fmt.Errorf("link %s: %w", path, err)
	}
	return syncDir(dir)
}

// syncDir fsyncs a directory so a new entry in it survives a crash.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("open directory for fsync: %w", err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("fsync directory %s: %w", dir, err)
	}
	return nil
}
