package journal

import (
	"fmt"

	"github.com/transparency-dev/merkle/rfc6962"

	"github.com/reliquary/reliquary/internal/signing"
)

// Leaf is the event's leaf in the signed log (DESIGN §12): the canonical
// JSON of the whole event, its hash included. Anyone holding the event's
// JSON recomputes it with signing.CanonicalizeJSON.
func (e *Event) Leaf() ([]byte, error) {
	leaf, err := signing.Canonical(e)
	if err != nil {
		return nil, fmt.Errorf("event %d leaf: %w", e.Seq, err)
	}
	return leaf, nil
}

// LeafHash is the RFC 6962 hash of the event's leaf: SHA-256(0x00 ‖ leaf).
func (e *Event) LeafHash() ([]byte, error) {
	leaf, err := e.Leaf()
	if err != nil {
		return nil, err
	}
	return rfc6962.DefaultHasher.HashLeaf(leaf), nil
}
