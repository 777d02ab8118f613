package transparency

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"

	intoto "github.com/in-toto/attestation/go/v1"
	"github.com/transparency-dev/merkle/proof"
	"github.com/transparency-dev/merkle/rfc6962"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/types/known/structpb"

	"github.com/reliquary/reliquary/internal/journal"
	"github.com/reliquary/reliquary/internal/library"
	"github.com/reliquary/reliquary/internal/signing"
)

// PredicateType is the predicate type of release statements.
const PredicateType = "https://reliquary.dev/release/v1"

// ErrStatement reports a statement that does not verify.
var ErrStatement = errors.New("invalid release statement")

// InclusionProof proves the statement's event is leaf LogIndex (seq-1) of
// the tree of TreeSize leaves that Checkpoint signs.
type InclusionProof struct {
	LogIndex uint64   `json:"log_index"`
	TreeSize uint64   `json:"tree_size"`
	Hashes   []string `json:"hashes"`
}

// ReleasePredicate is the predicate of https://reliquary.dev/release/v1.
type ReleasePredicate struct {
	Product   string   `json:"product"`
	Version   string   `json:"version"`
	State     string   `json:"state"`
	ChangeID  string   `json:"change_id"`
	Approvers []string `json:"approvers"`
	Time      string   `json:"time"`
	Seq       uint64   `json:"seq"`
	// Leaf is base64 of the event's log leaf (its canonical JSON): the
	// verifier hashes it for the inclusion proof and re-derives every
	// field above from it.
	Leaf           string         `json:"leaf"`
	Checkpoint     string         `json:"checkpoint"`
	InclusionProof InclusionProof `json:"inclusion_proof"`
	// Attestations are the digests ("sha256:<hex>") of the release's
	// evidence (DESIGN §12 "Evidence"), from the release record's
	// attestation_digests, so the evidence is covered by the library's
	// signature too.
	Attestations json.RawMessage `json:"attestations,omitempty"`
}

// releaseFacts are what a statement event says about its release.
type releaseFacts struct {
	product, version, state, changeID, manifestDigest string
	approvers                                         []string
	attestations                                      json.RawMessage
}

// factsOf derives the statement's facts from its event alone: the event
// type gives the state, the release record the event wrote (data.changes)
// the manifest digest and approvers.
func factsOf(e *journal.Event) (releaseFacts, error) {
	var f releaseFacts
	var d struct {
		Product  string `json:"product"`
		Version  string `json:"version"`
		State    string `json:"state"`
		ChangeID string `json:"change_id"`
		Changes  []struct {
			Bucket string          `json:"bucket"`
			Value  json.RawMessage `json:"value"`
		} `json:"changes"`
	}
	if err := json.Unmarshal(e.Data, &d); err != nil {
		return f, fmt.Errorf("event %d data: %w", e.Seq, err)
	}
	f.product, f.version = d.Product, d.Version
	switch e.Type {
	case library.EvReleaseApproved:
		if d.State != string(library.StateApproved) {
			return f, fmt.Errorf("event %d: an approval that did not make the release approved", e.Seq)
		}
		f.state = string(library.StateApproved)
	case library.EvReleaseReleased:
		f.state = string(library.StateReleased)
	case library.EvReleaseWithdrawn:
		f.state = string(library.StateWithdrawn)
	default:
		return f, fmt.Errorf("event %d (%s) makes no release statement", e.Seq, e.Type)
	}
	if e.Subject != f.product+"@"+f.version {
		return f, fmt.Errorf("event %d: subject %q is not %s@%s", e.Seq, e.Subject, f.product, f.version)
	}
	var rel *library.Release
	var raw json.RawMessage
	for _, c := range d.Changes {
		if c.Bucket != "releases" {
			continue
		}
		var r library.Release
		if json.Unmarshal(c.Value, &r) == nil && r.Product == f.product && r.Version == f.version {
			rel, raw = &r, c.Value
		}
	}
	if rel == nil {
		return f, fmt.Errorf("event %d does not record the release %s@%s", e.Seq, f.product, f.version)
	}
	if string(rel.State) != f.state {
		return f, fmt.Errorf("event %d: the release record says %s, the event %s", e.Seq, rel.State, f.state)
	}
	f.manifestDigest = strings.TrimPrefix(rel.ManifestDigest, "sha256:")
	if !isHex64(f.manifestDigest) {
		return f, fmt.Errorf("event %d: %s@%s has no manifest digest", e.Seq, f.product, f.version)
	}
	f.changeID = rel.ChangeID
	if d.ChangeID != "" {
		f.changeID = d.ChangeID
	}
	f.approvers = []string{}
	for _, a := range rel.Approvals {
		f.approvers = append(f.approvers, a.By)
	}
	var extra struct {
		Attestations json.RawMessage `json:"attestation_digests"` // the evidence's digests (library.Release)
	}
	if json.Unmarshal(raw, &extra) == nil && len(extra.Attestations) > 0 && string(extra.Attestations) != "null" {
		f.attestations = extra.Attestations
	}
	return f, nil
}

func isHex64(s string) bool {
	if len(s) != 64 {
		return false
	}
	for _, c := range s {
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

// StatementFor builds the in-toto Statement v1 (JSON) for a statement
// event, given a checkpoint that covers it and the event's inclusion proof
// in that checkpoint's tree.
func StatementFor(e *journal.Event, cp Checkpoint, inclusion [][]byte) ([]byte, error) {
	f, err := factsOf(e)
	if err != nil {
		return nil, err
	}
	leaf, err := e.Leaf()
	if err != nil {
		return nil, err
	}
	pred := ReleasePredicate{
		Product: f.product, Version: f.version, State: f.state, ChangeID: f.changeID, Approvers: f.approvers,
		Time: e.Time.UTC().Format(journal.TimeFormat), Seq: e.Seq,
		Leaf: base64.StdEncoding.EncodeToString(leaf), Checkpoint: string(cp.Note),
		InclusionProof: InclusionProof{LogIndex: e.Seq - 1, TreeSize: cp.Size, Hashes: encodeHashes(inclusion)},
		Attestations:   f.attestations,
	}
	raw, err := json.Marshal(pred)
	if err != nil {
		return nil, err
	}
	var ps structpb.Struct
	if err := protojson.Unmarshal(raw, &ps); err != nil {
		return nil, fmt.Errorf("statement predicate: %w", err)
	}
	st := &intoto.Statement{
		Type: intoto.StatementTypeUri,
		Subject: []*intoto.ResourceDescriptor{{
			Name:   f.product + "@" + f.version + "/manifest.json",
			Digest: map[string]string{"sha256": f.manifestDigest},
		}},
		PredicateType: PredicateType,
		Predicate:     &ps,
	}
	if err := st.Validate(); err != nil {
		return nil, fmt.Errorf("statement: %w", err)
	}
	return protojson.Marshal(st)
}

func encodeHashes(h [][]byte) []string {
	out := make([]string, len(h))
	for i, x := range h {
		out[i] = base64.StdEncoding.EncodeToString(x)
	}
	return out
}

// DecodeHashes parses a proof's base64 hashes.
func DecodeHashes(h []string) ([][]byte, error) {
	if len(h) > 64 {
		return nil, fmt.Errorf("a proof of %d hashes: more than a 64-level tree", len(h))
	}
	out := make([][]byte, len(h))
	for i, s := range h {
		b, err := base64.StdEncoding.Strict().DecodeString(s)
		if err != nil || len(b) != 32 {
			return nil, fmt.Errorf("proof hash %d is not base64 of 32 bytes", i)
		}
		out[i] = b
	}
	return out, nil
}

// Verified is a statement that verified.
type Verified struct {
	Predicate ReleasePredicate
	// ManifestDigest is the subject's sha256 (hex), the release manifest's.
	ManifestDigest string
	Checkpoint     Checkpoint
	// KeyID signed the envelope.
	KeyID string
	Event *journal.Event
}

// VerifyStatement checks a DSSE envelope holding a release statement: its
// signature (keyring: current and retired keys), the statement's shape,
// the checkpoint's signature, the event's inclusion in the checkpoint's
// tree, and that every claim of the predicate is what the logged event
// says.
func VerifyStatement(ctx context.Context, envelope []byte, kr *signing.Keyring, cps *Verifier) (*Verified, error) {
	pt, payload, keyID, err := kr.VerifyDSSE(ctx, envelope)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrStatement, err)
	}
	if pt != signing.InTotoPayloadType {
		return nil, fmt.Errorf("%w: payload type %q", ErrStatement, pt)
	}
	var st intoto.Statement
	if err := protojson.Unmarshal(payload, &st); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrStatement, err)
	}
	if err := st.Validate(); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrStatement, err)
	}
	if st.GetType() != intoto.StatementTypeUri || st.GetPredicateType() != PredicateType || len(st.GetSubject()) != 1 {
		return nil, fmt.Errorf("%w: not a %s statement about one subject", ErrStatement, PredicateType)
	}
	digest := st.GetSubject()[0].GetDigest()["sha256"]
	predJSON, err := protojson.Marshal(st.GetPredicate())
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrStatement, err)
	}
	var pred ReleasePredicate
	if err := json.Unmarshal(predJSON, &pred); err != nil {
		return nil, fmt.Errorf("%w: predicate: %w", ErrStatement, err)
	}
	cp, err := cps.Verify([]byte(pred.Checkpoint))
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrStatement, err)
	}
	leaf, err := base64.StdEncoding.Strict().DecodeString(pred.Leaf)
	if err != nil {
		return nil, fmt.Errorf("%w: leaf is not base64", ErrStatement)
	}
	ev, err := journal.Decode(leaf)
	if err != nil {
		return nil, fmt.Errorf("%w: leaf: %w", ErrStatement, err)
	}
	canon, err := ev.Leaf()
	if err != nil || !bytes.Equal(canon, leaf) {
		return nil, fmt.Errorf("%w: leaf is not an event's canonical JSON", ErrStatement)
	}
	if h, err := ev.ComputeHash(); err != nil || h != ev.Hash {
		return nil, fmt.Errorf("%w: the event's hash does not match its contents", ErrStatement)
	}
	hashes, err := DecodeHashes(pred.InclusionProof.Hashes)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrStatement, err)
	}
	if ev.Seq == 0 || pred.Seq != ev.Seq || pred.InclusionProof.LogIndex != ev.Seq-1 || pred.InclusionProof.TreeSize != cp.Size {
		return nil, fmt.Errorf("%w: seq %d, log index %d, tree size %d do not match the event %d and checkpoint size %d",
			ErrStatement, pred.Seq, pred.InclusionProof.LogIndex, pred.InclusionProof.TreeSize, ev.Seq, cp.Size)
	}
	if err := proof.VerifyInclusion(rfc6962.DefaultHasher, ev.Seq-1, cp.Size, rfc6962.DefaultHasher.HashLeaf(leaf), hashes, cp.Hash); err != nil {
		return nil, fmt.Errorf("%w: inclusion proof of event %d: %w", ErrStatement, ev.Seq, err)
	}
	f, err := factsOf(ev)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrStatement, err)
	}
	if f.product != pred.Product || f.version != pred.Version || f.state != pred.State || f.changeID != pred.ChangeID ||
		!slices.Equal(f.approvers, pred.Approvers) || f.manifestDigest != digest ||
		ev.Time.UTC().Format(journal.TimeFormat) != pred.Time {
		return nil, fmt.Errorf("%w: the predicate does not say what logged event %d says", ErrStatement, ev.Seq)
	}
	return &Verified{Predicate: pred, ManifestDigest: digest, Checkpoint: cp, KeyID: keyID, Event: ev}, nil
}
