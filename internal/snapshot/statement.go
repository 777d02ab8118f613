// Package snapshot keeps index snapshots in the bucket (DESIGN §9): a node
// writes snapshots/<20-digit seq>.db, a compacted copy of its index's
// journaled state at journal head seq, every so many events, with
// snapshots/<seq>.db.sig next to it; a node on an empty data dir installs
// the newest snapshot that verifies and replays only the journal after it.
//
// Verification. The .sig object is a statement — format, seq, the
// journal head hash at seq, the file's size and SHA-256 — signed with the
// library's key (every node of a cluster holds it; a node whose key
// differs refuses to start). A snapshot is installed only when:
//   - the statement verifies with the node's keyring (its key or a retired
//     one) and names the seq of the object's key;
//   - the downloaded file has exactly that size and SHA-256 (checked before
//     bbolt opens it: bbolt trusts the pages it reads, so a forged file must
//     never reach it);
//   - the file's own journal head is that seq and hash, at a schema this
//     build knows;
//   - the bucket's journal event at seq has that hash: the snapshot is of
//     this bucket's chain, and replaying the tail continues it.
//
// Why a signed digest rather than comparing the snapshot's log root with a
// signed checkpoint of that size: the root and the head hash cover the
// events only, not the releases, tokens and policies projected from them,
// which a forger could change while keeping the journal intact; the digest
// covers every byte. A snapshot that fails any check is skipped (the next
// older one, or a replay from seq 1), never served.
package snapshot

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
)

// Format names the statement's layout.
const Format = "reliquary-snapshot/v1"

// maxStatement bounds the .sig object read from the bucket.
const maxStatement = 16 << 10

// Statement is the content of snapshots/<seq>.db.sig.
type Statement struct {
	Format   string `json:"format"`
	Seq      uint64 `json:"seq"`
	HeadHash string `json:"head_hash"`
	Size     int64  `json:"size"`
	SHA256   string `json:"sha256"`
	// KeyID is the signing key's ID (a hint; the signature decides).
	KeyID string `json:"key_id"`
	// Signature is base64 of the ASN.1 DER ECDSA signature over
	// SHA-256(Message()).
	Signature string `json:"signature"`
}

// Message is what the signature covers: every field but the key ID and
// the signature, one a line.
func (s *Statement) Message() []byte {
	return fmt.Appendf(nil, "%s\nseq %d\nhead %s\nsize %d\nsha256 %s\n", Format, s.Seq, s.HeadHash, s.Size, s.SHA256)
}

// Verifier checks a signature over a message (signing.Keyring).
type Verifier interface {
	Verify(msg, sig []byte) (string, error)
}

// parseStatement decodes and verifies a statement for the snapshot at seq.
func parseStatement(raw []byte, seq uint64, v Verifier) (*Statement, error) {
	var s Statement
	if err := json.Unmarshal(raw, &s); err != nil {
		return nil, fmt.Errorf("statement: %w", err)
	}
	switch {
	case s.Format != Format:
		return nil, fmt.Errorf("statement: format %q, not %q", s.Format, Format)
	case s.Seq != seq:
		return nil, fmt.Errorf("statement is for seq %d, not %d", s.Seq, seq)
	case s.Size <= 0 || len(s.SHA256) != 64 || s.HeadHash == "":
		return nil, errors.New("statement: incomplete")
	}
	sig, err := base64.StdEncoding.DecodeString(s.Signature)
	if err != nil {
		return nil, fmt.Errorf("statement: signature: %w", err)
	}
	if _, err := v.Verify(s.Message(), sig); err != nil {
		return nil, fmt.Errorf("statement: %w", err)
	}
	return &s, nil
}
