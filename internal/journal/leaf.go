package journal

import (
	"bytes"
	"fmt"
	"strconv"

	"github.com/transparency-dev/merkle/rfc6962"

	"github.com/reliquary/reliquary/internal/signing"
)

// Leaf is the event's leaf in the signed log (DESIGN §12): the canonical
// JSON of the whole event, its hash included, exactly
// signing.Canonical(e). Anyone holding the event's JSON recomputes it with
// signing.CanonicalizeJSON. It is assembled field by field (members in
// canonical order) so that only the data object is re-parsed.
func (e *Event) Leaf() ([]byte, error) {
	data := []byte("null")
	if len(e.Data) > 0 {
		var err error
		if data, err = signing.CanonicalizeJSON(e.Data); err != nil {
			return nil, fmt.Errorf("event %d leaf: %w", e.Seq, err)
		}
	}
	t, err := e.Time.MarshalJSON()
	if err != nil {
		return nil, fmt.Errorf("event %d leaf: %w", e.Seq, err)
	}
	var b bytes.Buffer
	b.Grow(len(data) + 320)
	b.WriteString(`{"actor":`)
	signing.AppendCanonicalString(&b, e.Actor)
	b.WriteString(`,"data":`)
	b.Write(data)
	b.WriteString(`,"hash":`)
	signing.AppendCanonicalString(&b, e.Hash)
	b.WriteString(`,"prev_hash":`)
	signing.AppendCanonicalString(&b, e.PrevHash)
	b.WriteString(`,"seq":`)
	b.Write(strconv.AppendUint(nil, e.Seq, 10))
	b.WriteString(`,"subject":`)
	signing.AppendCanonicalString(&b, e.Subject)
	b.WriteString(`,"time":`)
	b.Write(t)
	b.WriteString(`,"type":`)
	signing.AppendCanonicalString(&b, e.Type)
	b.WriteByte('}')
	return b.Bytes(), nil
}

// LeafHash is the RFC 6962 hash of the event's leaf: SHA-256(0x00 ‖ leaf).
func (e *Event) LeafHash() ([]byte, error) {
	leaf, err := e.Leaf()
	if err != nil {
		return nil, err
	}
	return rfc6962.DefaultHasher.HashLeaf(leaf), nil
}
