// Package secrets seals the secrets the journal must carry to every node of
// a cluster (a webhook's URL and signing secret) under the key the operator
// gives every node (--secrets-key, DESIGN §8 "No secrets in feeds").
//
// The key file holds 32 random bytes written as 64 hexadecimal characters
// (surrounding whitespace ignored), e.g. made with
//
//	openssl rand -hex 32 > secrets.key
//
// A sealed value is "v1:<key id>:<base64url(nonce ‖ AES-256-GCM ciphertext)>",
// with a fresh random 96-bit nonce per seal and the caller's associated data
// (the record's id) bound in. The key id (16 hex characters of a SHA-256 of
// the key) names the key without revealing it, so a node with another key
// says so instead of failing obscurely.
package secrets

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// DefaultKeyFile is the key a single node generates in its data dir when
// no --secrets-key is given.
const DefaultKeyFile = "secrets.key"

// KeySize is the key's length in bytes (AES-256).
const KeySize = 32

const version = "v1"

var (
	// ErrWrongKey: the value was sealed under another key.
	ErrWrongKey = errors.New("sealed under another secrets key")
	// ErrMalformed: the value is not a sealed value of this format.
	ErrMalformed = errors.New("not a sealed value")
)

// Key seals and opens values.
type Key struct {
	aead cipher.AEAD
	id   string
}

// New makes a Key of 32 bytes.
func New(raw []byte) (*Key, error) {
	if len(raw) != KeySize {
		return nil, fmt.Errorf("secrets key: %d bytes, want %d", len(raw), KeySize)
	}
	block, err := aes.NewCipher(raw)
	if err != nil {
		return nil, err
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, err
	}
	sum := sha256.Sum256(append([]byte("reliquary secrets key id\x00"), raw...))
	return &Key{aead: aead, id: hex.EncodeToString(sum[:8])}, nil
}

// Parse reads the key file format: 64 hex characters.
func Parse(data []byte) (*Key, error) {
	s := strings.TrimSpace(string(data))
	raw, err := hex.DecodeString(s)
	if err != nil || len(raw) != KeySize {
		return nil, fmt.Errorf("a secrets key file holds %d bytes as %d hexadecimal characters (openssl rand -hex 32)", KeySize, 2*KeySize)
	}
	return New(raw)
}

// Load reads the key file at path (--secrets-key).
func Load(path string) (*Key, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("--secrets-key: %w", err)
	}
	k, err := Parse(data)
	if err != nil {
		return nil, fmt.Errorf("--secrets-key %s: %w", path, err)
	}
	return k, nil
}

// LoadOrCreate reads <dataDir>/secrets.key, generating it (mode 0600) on
// first start; created reports a new key.
func LoadOrCreate(dataDir string) (k *Key, created bool, err error) {
	p := filepath.Join(dataDir, DefaultKeyFile)
	if _, err := os.Stat(p); err == nil {
		k, err := Load(p)
		return k, false, err
	}
	var raw [KeySize]byte
	if _, err := rand.Read(raw[:]); err != nil {
		return nil, false, err
	}
	f, err := os.OpenFile(p, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, fs.ErrExist) { // another process made it first
		k, err := Load(p)
		return k, false, err
	}
	if err != nil {
		return nil, false, fmt.Errorf("create secrets key: %w", err)
	}
	_, err = f.WriteString(hex.EncodeToString(raw[:]) + "\n")
	err = errors.Join(err, f.Sync(), f.Close())
	if err != nil {
		os.Remove(p)
		return nil, false, fmt.Errorf("write secrets key: %w", err)
	}
	k, err = New(raw[:])
	return k, true, err
}

// ID names the key (16 hex characters; reveals nothing of it).
func (k *Key) ID() string { return k.id }

// Seal encrypts plaintext bound to ad (associated data: the record's id).
func (k *Key) Seal(plaintext, ad []byte) string {
	nonce := make([]byte, k.aead.NonceSize(), k.aead.NonceSize()+len(plaintext)+k.aead.Overhead())
	if _, err := rand.Read(nonce); err != nil {
		panic(err) // crypto/rand never fails on supported platforms
	}
	ct := k.aead.Seal(nonce, nonce, plaintext, ad)
	return version + ":" + k.id + ":" + base64.RawURLEncoding.EncodeToString(ct)
}

// KeyID is the id of the key a sealed value names ("" when malformed).
func KeyID(sealed string) string {
	v, rest, ok := strings.Cut(sealed, ":")
	if !ok || v != version {
		return ""
	}
	id, _, ok := strings.Cut(rest, ":")
	if !ok {
		return ""
	}
	return id
}

// Open decrypts a sealed value: ErrWrongKey when it names another key or
// does not authenticate under this one, ErrMalformed when it is not one.
func (k *Key) Open(sealed string, ad []byte) ([]byte, error) {
	parts := strings.SplitN(sealed, ":", 3)
	if len(parts) != 3 || parts[0] != version {
		return nil, ErrMalformed
	}
	if parts[1] != k.id {
		return nil, fmt.Errorf("%w (key id %.16s, this node's is %s)", ErrWrongKey, parts[1], k.id)
	}
	ct, err := base64.RawURLEncoding.DecodeString(parts[2])
	if err != nil || len(ct) < k.aead.NonceSize()+k.aead.Overhead() {
		return nil, ErrMalformed
	}
	pt, err := k.aead.Open(nil, ct[:k.aead.NonceSize()], ct[k.aead.NonceSize():], ad)
	if err != nil {
		return nil, fmt.Errorf("%w (does not authenticate)", ErrWrongKey)
	}
	return pt, nil
}
