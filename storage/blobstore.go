// Package storage defines the BlobStore contract that every Reliquary backend
// implements, the sentinel errors callers test with errors.Is, and the one
// place where object keys are built (see paths.go).
//
// A BlobStore is create-only: Put never replaces an existing key. That rule is
// enforced where the bytes are written (If-None-Match on S3, a no-replace link
// on disk), never by a check followed by a write.
package storage

import (
	"context"
	"errors"
	"io"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// Sentinel errors. Backends wrap them with context; test with errors.Is.
var (
	// ErrNotFound: the key does not exist.
	ErrNotFound = errors.New("object not found")
	// ErrExists: Put found the key already present and left it untouched.
	ErrExists = errors.New("object already exists")
	// ErrInvalidKey: the key is not a safe, canonical object key.
	ErrInvalidKey = errors.New("invalid object key")
	// ErrInvalidRange: the requested offset lies beyond the end of the object.
	ErrInvalidRange = errors.New("invalid range")
	// ErrSizeMismatch: the reader delivered a different number of bytes than
	// the size passed to Put. Nothing is stored.
	ErrSizeMismatch = errors.New("object size mismatch")
	// ErrUnsupported: the backend cannot perform the operation (PresignGet on disk).
	ErrUnsupported = errors.New("operation not supported by this store")
	// ErrUnavailable: the backend cannot be reached or refused service; retry later.
	ErrUnavailable = errors.New("storage unavailable")
	// ErrNoSpace: the backend has no room for the object.
	ErrNoSpace = errors.New("storage full")
)

// MaxKeyLen is the longest key accepted, in bytes (S3's own limit).
const MaxKeyLen = 1024

// Info describes a stored object.
type Info struct {
	Key     string
	Size    int64
	ModTime time.Time
}

// PutOptions are optional attributes of a Put.
type PutOptions struct {
	// ContentType is recorded where the backend keeps one (S3).
	ContentType string
	// Metadata is recorded where the backend keeps user metadata (S3:
	// x-amz-meta-*); the journal's commit objects name their writer node.
	Metadata map[string]string
}

// BlobStore is a create-only object store. All methods are safe for
// concurrent use, take the context first and stream: no method holds a whole
// object in memory.
type BlobStore interface {
	// Put stores the bytes of r under key. It must fail with ErrExists, and
	// leave the existing object untouched, when key is already present, even
	// when several Puts of one key race: exactly one of them succeeds. size is
	// the exact number of bytes r delivers, or -1 when unknown; when it is
	// known and r delivers another number of bytes, Put must fail with
	// ErrSizeMismatch. When Put returns an error (a failed read, a cancelled
	// context, a full disk) nothing may be visible under key afterwards.
	Put(ctx context.Context, key string, r io.Reader, size int64, opts PutOptions) (Info, error)

	// Get opens the object at key for reading from offset. length -1 reads to
	// the end; a length past the end is cut to the end. An offset beyond the
	// size must fail with ErrInvalidRange, a missing key with ErrNotFound.
	// The caller must close the reader.
	Get(ctx context.Context, key string, offset, length int64) (io.ReadCloser, Info, error)

	// Stat describes the object at key, or fails with ErrNotFound.
	Stat(ctx context.Context, key string) (Info, error)

	// Delete removes key. Deleting a missing key is not an error, so cleanup
	// paths may call it unconditionally.
	Delete(ctx context.Context, key string) error

	// List calls fn for each object whose key starts with prefix, in
	// ascending key order within each directory level. An error from fn
	// stops the walk and is returned.
	List(ctx context.Context, prefix string, fn func(Info) error) error

	// PresignGet returns a URL that serves the object without credentials
	// until expiry, with filename as its download name. Backends that cannot
	// do that return ErrUnsupported.
	PresignGet(ctx context.Context, key string, expiry time.Duration, filename string) (*url.URL, error)

	// Ping reports whether the backend is reachable and usable.
	Ping(ctx context.Context) error
}

// ValidateKey reports whether key is a canonical, relative, slash-separated
// object key that maps safely onto any backend: non-empty, at most
// MaxKeyLen bytes of valid UTF-8, no control characters or backslashes, no
// leading or trailing slash, no empty segment, and no segment that starts
// with a dot (which rules out "." and ".." and keeps names like ".tmp" free
// for the backends' own use).
func ValidateKey(key string) error {
	switch {
	case key == "":
		return invalidKey(key, "empty")
	case len(key) > MaxKeyLen:
		return invalidKey(key, "longer than 1024 bytes")
	case !utf8.ValidString(key):
		return invalidKey(key, "not valid UTF-8")
	case strings.ContainsAny(key, "\\"):
		return invalidKey(key, "contains a backslash")
	}
	for _, r := range key {
		if r < 0x20 || r == 0x7f {
			return invalidKey(key, "contains a control character")
		}
	}
	for seg := range strings.SplitSeq(key, "/") {
		if seg == "" {
			return invalidKey(key, "has an empty segment or a leading or trailing slash")
		}
		if seg[0] == '.' {
			return invalidKey(key, "has a segment starting with a dot")
		}
	}
	return nil
}

// ValidatePrefix accepts "" (everything) or a prefix that is a valid key, a
// valid key followed by "/", or the start of a valid key.
func ValidatePrefix(prefix string) error {
	if prefix == "" {
		return nil
	}
	return ValidateKey(strings.TrimSuffix(prefix, "/"))
}

func invalidKey(key, why string) error {
	if len(key) > 80 {
		key = key[:80] + "…"
	}
	return &KeyError{Key: key, Reason: why}
}

// KeyError explains why a key was refused. It matches ErrInvalidKey.
type KeyError struct {
	Key    string
	Reason string
}

func (e *KeyError) Error() string {
	return "invalid object key " + strconv.Quote(e.Key) + ": " + e.Reason
}

// Is makes errors.Is(err, ErrInvalidKey) true.
func (e *KeyError) Is(target error) bool { return target == ErrInvalidKey }
