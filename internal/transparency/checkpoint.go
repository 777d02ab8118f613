// Package transparency is the signed log of DESIGN §12: checkpoints in the
// C2SP tlog-checkpoint / signed-note text format, signed by the library's
// ECDSA key; the release statements (in-toto Statement v1 in DSSE) that
// carry a checkpoint and the inclusion proof of their event; and the
// verifiers installers and auditors run offline.
//
// The note signature is written here, by hand, over the note body as the
// signed-note spec defines it: golang.org/x/mod/sumdb/note verifies only
// Ed25519, and the library's key is ECDSA P-256 (cosign cannot verify its
// pre-hashed Ed25519 signatures, DESIGN §5), possibly in a KMS. The key
// hint is the first 4 bytes of SHA-256 of the key's DER SubjectPublicKeyInfo
// (the ECDSA key ID of C2SP signed-note, as Rekor's checkpoints use), which
// is also the first 8 hex characters of the library's 16-hex key ID.
package transparency

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/reliquary/reliquary/internal/signing"
)

// DefaultOrigin names the library's log in its checkpoints (and is the
// signature's key name).
const DefaultOrigin = "reliquary.dev/log"

// MaxCheckpointSize bounds a checkpoint note read from outside.
const MaxCheckpointSize = 16 << 10

// ErrCheckpoint reports a checkpoint that does not parse or verify.
var ErrCheckpoint = errors.New("invalid checkpoint")

// Checkpoint is a signed tree head: the log's origin, its size and the
// RFC 6962 root hash at that size.
type Checkpoint struct {
	Origin string
	Size   uint64
	Hash   []byte
	// KeyID is the 16-hex ID of the key that signed it (when verified).
	KeyID string
	// Note is the whole signed note.
	Note []byte
}

// Body is the signed part of the note: three lines, each ending in \n.
func (c Checkpoint) Body() []byte {
	return fmt.Appendf(nil, "%s\n%d\n%s\n", c.Origin, c.Size, base64.StdEncoding.EncodeToString(c.Hash))
}

// Signer is what signs checkpoints: the library's key.
type Signer interface {
	Sign(ctx context.Context, msg []byte) ([]byte, error)
	KeyID() string
}

// keyHint is the 4-byte key hint of a 16-hex key ID.
func keyHint(keyID string) ([]byte, error) {
	if len(keyID) < 8 {
		return nil, fmt.Errorf("key id %q too short", keyID)
	}
	return hex.DecodeString(keyID[:8])
}

// SignCheckpoint returns the signed note of a checkpoint.
func SignCheckpoint(ctx context.Context, s Signer, origin string, size uint64, root []byte) (Checkpoint, error) {
	c := Checkpoint{Origin: origin, Size: size, Hash: root, KeyID: s.KeyID()}
	if err := checkOrigin(origin); err != nil {
		return c, err
	}
	body := c.Body()
	sig, err := s.Sign(ctx, body)
	if err != nil {
		return c, fmt.Errorf("sign checkpoint: %w", err)
	}
	hint, err := keyHint(s.KeyID())
	if err != nil {
		return c, err
	}
	var b bytes.Buffer
	b.Write(body)
	b.WriteString("\n— ")
	b.WriteString(origin)
	b.WriteByte(' ')
	b.WriteString(base64.StdEncoding.EncodeToString(append(hint, sig...)))
	b.WriteByte('\n')
	c.Note = b.Bytes()
	return c, nil
}

func checkOrigin(o string) error {
	if o == "" || len(o) > 256 || !utf8.ValidString(o) || strings.ContainsAny(o, " \t\n+") {
		return fmt.Errorf("%w: origin %q", ErrCheckpoint, o)
	}
	for _, r := range o {
		if r < 0x20 || r == 0x7f {
			return fmt.Errorf("%w: origin has a control character", ErrCheckpoint)
		}
	}
	return nil
}

// ParseCheckpoint parses a signed note without checking its signatures.
func ParseCheckpoint(note []byte) (Checkpoint, []NoteSignature, error) {
	var c Checkpoint
	if len(note) > MaxCheckpointSize {
		return c, nil, fmt.Errorf("%w: larger than %d bytes", ErrCheckpoint, MaxCheckpointSize)
	}
	if !utf8.Valid(note) {
		return c, nil, fmt.Errorf("%w: not UTF-8", ErrCheckpoint)
	}
	i := bytes.LastIndex(note, []byte("\n\n"))
	if i < 0 {
		return c, nil, fmt.Errorf("%w: no blank line before the signatures", ErrCheckpoint)
	}
	body, sigs := note[:i+1], note[i+2:]
	lines := strings.Split(strings.TrimSuffix(string(body), "\n"), "\n")
	if len(lines) < 3 {
		return c, nil, fmt.Errorf("%w: the body needs origin, size and root hash lines", ErrCheckpoint)
	}
	for _, l := range lines[3:] {
		if l == "" {
			return c, nil, fmt.Errorf("%w: empty extension line", ErrCheckpoint)
		}
	}
	c.Origin = lines[0]
	if err := checkOrigin(c.Origin); err != nil {
		return c, nil, err
	}
	size, err := strconv.ParseUint(lines[1], 10, 64)
	if err != nil || strconv.FormatUint(size, 10) != lines[1] {
		return c, nil, fmt.Errorf("%w: size %q", ErrCheckpoint, clip(lines[1]))
	}
	c.Size = size
	c.Hash, err = base64.StdEncoding.Strict().DecodeString(lines[2])
	if err != nil || len(c.Hash) != sha256.Size {
		return c, nil, fmt.Errorf("%w: root hash %q is not base64 of 32 bytes", ErrCheckpoint, clip(lines[2]))
	}
	if len(sigs) == 0 || sigs[len(sigs)-1] != '\n' {
		return c, nil, fmt.Errorf("%w: no signature lines", ErrCheckpoint)
	}
	var out []NoteSignature
	for l := range strings.SplitSeq(strings.TrimSuffix(string(sigs), "\n"), "\n") {
		rest, ok := strings.CutPrefix(l, "— ")
		if !ok {
			return c, nil, fmt.Errorf("%w: signature line %q", ErrCheckpoint, clip(l))
		}
		name, b64, ok := strings.Cut(rest, " ")
		if !ok || name == "" {
			return c, nil, fmt.Errorf("%w: signature line %q", ErrCheckpoint, clip(l))
		}
		raw, err := base64.StdEncoding.Strict().DecodeString(b64)
		if err != nil || len(raw) < 5 {
			return c, nil, fmt.Errorf("%w: signature %q", ErrCheckpoint, clip(b64))
		}
		out = append(out, NoteSignature{Name: name, Hint: raw[:4], Sig: raw[4:]})
		if len(out) > 100 {
			return c, nil, fmt.Errorf("%w: more than 100 signatures", ErrCheckpoint)
		}
	}
	c.Note = bytes.Clone(note)
	return c, out, nil
}

// NoteSignature is one signature line.
type NoteSignature struct {
	Name string
	Hint []byte
	Sig  []byte
}

// Verifier checks checkpoints against trusted keys (current and retired).
type Verifier struct {
	// Origin, when set, is the only origin accepted.
	Origin string
	keys   map[string]*ecdsa.PublicKey
}

// NewVerifier trusts the keyring's keys.
func NewVerifier(kr *signing.Keyring, origin string) *Verifier {
	return &Verifier{Origin: origin, keys: kr.PublicKeys()}
}

// Keys is the number of trusted keys.
func (v *Verifier) Keys() int { return len(v.keys) }

// Verify parses a note and checks that a trusted key signed it. A signature
// line naming a trusted key that does not verify rejects the note.
func (v *Verifier) Verify(note []byte) (Checkpoint, error) {
	c, sigs, err := ParseCheckpoint(note)
	if err != nil {
		return c, err
	}
	if v.Origin != "" && c.Origin != v.Origin {
		return c, fmt.Errorf("%w: origin %q, expected %q", ErrCheckpoint, c.Origin, v.Origin)
	}
	digest := sha256.Sum256(c.Body())
	for _, s := range sigs {
		if s.Name != c.Origin {
			continue // a cosigner's line: not ours to judge
		}
		for id, pub := range v.keys {
			hint, err := keyHint(id)
			if err != nil || !bytes.Equal(hint, s.Hint) {
				continue
			}
			if !ecdsa.VerifyASN1(pub, digest[:], s.Sig) {
				return c, fmt.Errorf("%w: the signature by key %s does not verify", ErrCheckpoint, id)
			}
			c.KeyID = id
			return c, nil
		}
	}
	return c, fmt.Errorf("%w: not signed by any of the %d trusted keys", ErrCheckpoint, len(v.keys))
}

func clip(s string) string {
	if len(s) > 40 {
		return s[:40] + "…"
	}
	return s
}
