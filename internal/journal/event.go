// Package journal defines the hash-chained event that records every change
// to the library, and how the chain is computed and verified.
//
// An event's hash is sha256(prev_hash || canonical(event without hash)),
// where prev_hash is the raw 32 bytes of the previous event's hash (32 zero
// bytes before the first event) and canonical is the JSON canonical form
// (sorted keys, no insignificant space) of the event's other fields. Anyone
// can re-verify the chain from the JSON events alone.
package journal

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/reliquary/reliquary/internal/canonjson"
)

// Event is one entry of the journal.
type Event struct {
	Seq      uint64          `json:"seq"`
	Time     time.Time       `json:"time"`
	Actor    string          `json:"actor"`
	Type     string          `json:"type"`
	Subject  string          `json:"subject"`
	Data     json.RawMessage `json:"data"`
	PrevHash string          `json:"prev_hash"`
	Hash     string          `json:"hash"`
}

// ZeroHash is the prev_hash of the first event.
var ZeroHash = hex.EncodeToString(make([]byte, sha256.Size))

// ErrBroken reports a chain that does not verify.
var ErrBroken = errors.New("journal hash chain broken")

// body is the event without its hash, the part the hash covers.
type body struct {
	Seq      uint64          `json:"seq"`
	Time     string          `json:"time"`
	Actor    string          `json:"actor"`
	Type     string          `json:"type"`
	Subject  string          `json:"subject"`
	Data     json.RawMessage `json:"data"`
	PrevHash string          `json:"prev_hash"`
}

// TimeFormat is how event times are written: UTC, nanoseconds.
const TimeFormat = time.RFC3339Nano

// ComputeHash returns the hash the event must carry, given its other fields.
func (e *Event) ComputeHash() (string, error) {
	prev, err := hex.DecodeString(e.PrevHash)
	if err != nil || len(prev) != sha256.Size {
		return "", fmt.Errorf("event %d: prev_hash %q is not a sha256: %w", e.Seq, e.PrevHash, ErrBroken)
	}
	data := e.Data
	if len(data) == 0 {
		data = json.RawMessage("{}")
	}
	canon, err := canonjson.Canonical(body{
		Seq: e.Seq, Time: e.Time.UTC().Format(TimeFormat), Actor: e.Actor, Type: e.Type,
		Subject: e.Subject, Data: data, PrevHash: e.PrevHash,
	})
	if err != nil {
		return "", fmt.Errorf("event %d: canonical form: %w", e.Seq, err)
	}
	h := sha256.New()
	h.Write(prev)
	h.Write(canon)
	return hex.EncodeToString(h.Sum(nil)), nil
}

// Seal fills Seq, PrevHash, Hash for an event that follows the event with
// sequence prevSeq and hash prevHash.
func (e *Event) Seal(prevSeq uint64, prevHash string) error {
	e.Seq = prevSeq + 1
	e.PrevHash = prevHash
	e.Time = e.Time.UTC()
	if len(e.Data) == 0 {
		e.Data = json.RawMessage("{}")
	} else {
		canon, err := canonjson.CanonicalizeJSON(e.Data)
		if err != nil {
			return fmt.Errorf("event data: %w", err)
		}
		e.Data = canon
	}
	h, err := e.ComputeHash()
	if err != nil {
		return err
	}
	e.Hash = h
	return nil
}

// Verifier checks a chain event by event, in order.
type Verifier struct {
	seq  uint64
	hash string
	n    uint64
}

// NewVerifier starts a chain check at the beginning of the journal.
func NewVerifier() *Verifier { return &Verifier{hash: ZeroHash} }

// Add checks the next event. The error names the first broken sequence
// number.
func (v *Verifier) Add(e *Event) error {
	if e.Seq != v.seq+1 {
		return &BrokenError{Seq: v.seq + 1, Reason: fmt.Sprintf("expected seq %d, found %d", v.seq+1, e.Seq)}
	}
	if e.PrevHash != v.hash {
		return &BrokenError{Seq: e.Seq, Reason: "prev_hash does not match the previous event's hash"}
	}
	h, err := e.ComputeHash()
	if err != nil {
		return &BrokenError{Seq: e.Seq, Reason: err.Error()}
	}
	if h != e.Hash {
		return &BrokenError{Seq: e.Seq, Reason: "hash does not match the event's contents"}
	}
	v.seq, v.hash = e.Seq, e.Hash
	v.n++
	return nil
}

// Head is the last verified sequence number and hash.
func (v *Verifier) Head() (uint64, string) { return v.seq, v.hash }

// BrokenError says where and why the chain breaks. It matches ErrBroken.
type BrokenError struct {
	Seq    uint64
	Reason string
}

func (e *BrokenError) Error() string {
	return fmt.Sprintf("journal broken at seq %d: %s", e.Seq, e.Reason)
}

// Is makes errors.Is(err, ErrBroken) true.
func (e *BrokenError) Is(target error) bool { return target == ErrBroken }

// Decode parses one stored event strictly.
func Decode(b []byte) (*Event, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	var e Event
	if err := dec.Decode(&e); err != nil {
		return nil, fmt.Errorf("decode event: %w", err)
	}
	return &e, nil
}
