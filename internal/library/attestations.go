package library

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode"

	"github.com/reliquary/reliquary/storage"
)

// Evidence refusals (DESIGN.md §12 "Evidence"), each with its own code in
// the API.
var (
	ErrInvalidAttestation    = errors.New("invalid attestation")
	ErrAttestationUnverified = errors.New("attestation signature does not verify")
	ErrNoAttestationKeys     = errors.New("the product's policy has no attestation_keys")
	ErrSubjectMismatch       = errors.New("attestation subject is not an artifact of the release")
	ErrEvidenceMissing       = errors.New("required attestations are missing")
	ErrAttestationNotFound   = errors.New("attestation not found")
)

// Attestation is a verified in-toto attestation attached to a release. The
// file itself is kept, byte for byte, at storage.AttestationKey.
type Attestation struct {
	// Digest is "sha256:<hex>" of the stored file.
	Digest        string `json:"digest"`
	PredicateType string `json:"predicate_type"`
	// Signer is the ID of the policy key whose signature verified.
	Signer     string               `json:"signer"`
	Subjects   []AttestationSubject `json:"subjects"`
	Format     string               `json:"format"`
	Size       int64                `json:"size"`
	UploadedBy string               `json:"uploaded_by"`
	UploadedAt time.Time            `json:"uploaded_at"`
}

// AttestationSubject is one subject of an attestation's statement.
type AttestationSubject struct {
	Name   string `json:"name"`
	SHA256 string `json:"sha256"`
}

// VerifiedAttestation is what an Evidence verifier found in a file whose
// signature verified.
type VerifiedAttestation struct {
	Format        string
	PredicateType string
	// Signer is the ID of the policy key whose signature verified.
	Signer   string
	Subjects []AttestationSubject
}

// Evidence parses and verifies attestation files (internal/evidence
// implements it; internal/app wires it), so the domain links no sigstore
// or protobuf code.
type Evidence interface {
	// CheckKeys tells whether PEM public keys can verify attestations.
	CheckKeys(pems []string) error
	// Verify parses an attestation file and checks its signature against
	// one of pems. Its refusals wrap ErrInvalidAttestation or
	// ErrAttestationUnverified (a *DetailedError with details.reason).
	Verify(raw []byte, pems []string) (*VerifiedAttestation, error)
}

// MaxPredicateTypeLen bounds a predicate type (it is an index key).
const MaxPredicateTypeLen = 256

// ValidatePredicateType checks a predicate type as the index keys it: a
// non-empty name without spaces or control characters.
func ValidatePredicateType(t string) error {
	if t == "" {
		return errors.New("predicate type is empty")
	}
	if len(t) > MaxPredicateTypeLen {
		return fmt.Errorf("predicate type is longer than %d bytes", MaxPredicateTypeLen)
	}
	if strings.ContainsFunc(t, func(r rune) bool { return r <= ' ' || r == 0x7f || unicode.IsSpace(r) || !unicode.IsPrint(r) }) {
		return fmt.Errorf("predicate type %q contains spaces or control characters", clip(t))
	}
	return nil
}

// checkAttestationKeys is the part of a policy's validation that needs the
// evidence verifier.
func (s *Service) checkAttestationKeys(p Policy) error {
	if len(p.AttestationKeys) == 0 {
		return nil
	}
	if s.evidence == nil {
		return withDetails(ErrNotImplemented, "this server verifies no attestations: policy.attestation_keys cannot be set", map[string]any{"field": "attestation_keys"})
	}
	if err := s.evidence.CheckKeys(p.AttestationKeys); err != nil {
		return withDetails(ErrInvalidInput, "policy.attestation_keys must hold PEM public keys (cosign.pub): "+err.Error(), map[string]any{"field": "attestation_keys"})
	}
	return nil
}

// Hex is the bare hex SHA-256 of the file.
func (a *Attestation) Hex() string { return strings.TrimPrefix(a.Digest, "sha256:") }

func (p Policy) validateEvidence() error {
	bad := func(field, msg string) error {
		return withDetails(ErrInvalidInput, fmt.Sprintf("policy.%s %s", field, msg), map[string]any{"field": field})
	}
	if len(p.AttestationKeys) > 16 {
		return bad("attestation_keys", "has more than 16 keys")
	}
	if len(p.RequiredAttestations) > 32 {
		return bad("required_attestations", "has more than 32 predicate types")
	}
	seen := map[string]bool{}
	for _, t := range p.RequiredAttestations {
		if err := ValidatePredicateType(t); err != nil {
			return bad("required_attestations", err.Error())
		}
		if seen[t] {
			return bad("required_attestations", fmt.Sprintf("names %q twice", clip(t)))
		}
		seen[t] = true
	}
	return nil
}

// ParseDigest accepts an attestation digest as "sha256:<hex>" or "<hex>"
// and returns the lower-case hex.
func ParseDigest(d string) (string, error) {
	h := strings.ToLower(strings.TrimPrefix(d, "sha256:"))
	if len(h) != 2*sha256.Size {
		return "", withDetails(ErrInvalidInput, "an attestation digest is sha256:<64 hex digits>", map[string]any{"field": "digest"})
	}
	if _, err := hex.DecodeString(h); err != nil {
		return "", withDetails(ErrInvalidInput, "an attestation digest is sha256:<64 hex digits>", map[string]any{"field": "digest"})
	}
	return h, nil
}

// AddAttestation verifies an attestation file and attaches it to a release
// that is not yet released. The file must be signed by one of the
// product's policy.attestation_keys, and every subject digest must be the
// sha256 of one of the release's artifacts. It is stored create-only, byte
// for byte; sending the same file again is a retry (created false).
func (s *Service) AddAttestation(ctx context.Context, pr Principal, product, version string, raw []byte) (att *Attestation, created bool, err error) {
	if err := ValidateProductName(product); err != nil {
		return nil, false, err
	}
	if _, err := ParseVersion(version); err != nil {
		return nil, false, err
	}
	subject := product + "@" + version
	var p *Product
	var r *Release
	var arts []Artifact
	err = s.repo.View(func(tx ReadTx) error {
		var err error
		if p, err = tx.Product(product); err != nil {
			return err
		}
		if r, err = tx.Release(product, version); err != nil {
			return err
		}
		arts, err = tx.Artifacts(product, version)
		return err
	})
	if err != nil {
		return nil, false, err
	}
	if err := attestable(r); err != nil {
		return nil, false, err
	}
	if len(p.Policy.AttestationKeys) == 0 {
		return nil, false, withDetails(ErrNoAttestationKeys, fmt.Sprintf("%s has no policy.attestation_keys: an admin must set the keys CI signs attestations with", product), nil)
	}
	if s.evidence == nil {
		return nil, false, withDetails(ErrNotImplemented, "this server verifies no attestations", nil)
	}
	parsed, err := s.evidence.Verify(raw, p.Policy.AttestationKeys)
	if err != nil {
		return nil, false, err
	}
	byDigest := map[string]string{}
	for _, a := range arts {
		byDigest[a.SHA256] = a.Name
	}
	var unknown []AttestationSubject
	for _, sub := range parsed.Subjects {
		if _, ok := byDigest[sub.SHA256]; !ok {
			unknown = append(unknown, sub)
		}
	}
	if len(unknown) > 0 {
		return nil, false, withDetails(ErrSubjectMismatch, fmt.Sprintf("%d of %d subjects are not artifacts of %s", len(unknown), len(parsed.Subjects), subject),
			map[string]any{"subjects": unknown})
	}

	sum := sha256.Sum256(raw)
	hexSum := hex.EncodeToString(sum[:])
	att = &Attestation{Digest: "sha256:" + hexSum, PredicateType: parsed.PredicateType, Signer: parsed.Signer, Subjects: parsed.Subjects,
		Format: parsed.Format, Size: int64(len(raw)), UploadedBy: pr.Name, UploadedAt: s.clock()}

	unlock, err := s.locks.lock(ctx, subject+"#attestation#"+hexSum)
	if err != nil {
		return nil, false, err
	}
	defer unlock()
	var existing *Attestation
	if err := s.repo.View(func(tx ReadTx) error {
		a, err := tx.Attestation(product, version, att.Digest)
		if errors.Is(err, ErrAttestationNotFound) {
			return nil
		}
		existing = a
		return err
	}); err != nil {
		return nil, false, err
	}
	if existing != nil {
		return existing, false, nil
	}

	key := storage.AttestationKey(product, version, hexSum)
	_, err = s.store.Put(ctx, key, bytes.NewReader(raw), int64(len(raw)), storage.PutOptions{ContentType: "application/json"})
	wrote := err == nil
	if errors.Is(err, storage.ErrExists) {
		// An earlier attempt stored the file but did not commit: the key is
		// named by the content, so the bytes are these (checked).
		old, rerr := s.readSmall(ctx, key)
		if rerr != nil {
			return nil, false, rerr
		}
		if !bytes.Equal(old, raw) {
			return nil, false, fmt.Errorf("%s holds other bytes than its name says: %w", key, ErrIntegrity)
		}
		err = nil
	}
	if err != nil {
		return nil, false, fmt.Errorf("store attestation of %s: %w", subject, err)
	}
	err = s.update(ctx, func(tx WriteTx) error {
		cur, err := tx.Release(product, version)
		if err != nil {
			return err
		}
		if err := attestable(cur); err != nil {
			return err
		}
		if _, err := tx.Attestation(product, version, att.Digest); err == nil {
			return errRetry
		}
		if err := tx.PutAttestation(product, version, att); err != nil {
			return err
		}
		cur.AttestationDigests = append(cur.AttestationDigests, att.Digest)
		if err := tx.PutRelease(cur); err != nil {
			return err
		}
		_, err = tx.Record(Event{Time: att.UploadedAt, Actor: pr.Name, Type: EvAttestationAdded, Subject: subject,
			Data: map[string]any{"product": product, "version": version, "digest": att.Digest, "predicate_type": att.PredicateType,
				"signer": att.Signer, "subjects": att.Subjects, "format": att.Format, "size": att.Size}})
		return err
	})
	if errors.Is(err, errRetry) {
		err = s.repo.View(func(tx ReadTx) error {
			var err error
			existing, err = tx.Attestation(product, version, att.Digest)
			return err
		})
		return existing, false, err
	}
	if err != nil {
		if wrote && !committed(err) {
			s.removeObjects(ctx, key)
		}
		return nil, false, err
	}
	return att, true, nil
}

// errRetry: the attestation was committed meanwhile (not returned to callers).
var errRetry = errors.New("attestation already attached")

// attestable refuses releases that are released or withdrawn: evidence is
// gathered before the release decision, never rewritten after it.
func attestable(r *Release) error {
	switch r.State {
	case StateDraft, StateCandidate, StateApproved:
		return nil
	}
	return badState(r, "attach an attestation to", StateDraft, StateCandidate, StateApproved)
}

// Attestations lists a release's attestations by digest.
func (s *Service) Attestations(_ context.Context, product, version string) ([]Attestation, error) {
	if err := ValidateProductName(product); err != nil {
		return nil, err
	}
	if _, err := ParseVersion(version); err != nil {
		return nil, err
	}
	var out []Attestation
	err := s.repo.View(func(tx ReadTx) error {
		if _, err := tx.Release(product, version); err != nil {
			return err
		}
		var err error
		out, err = tx.Attestations(product, version)
		return err
	})
	return out, err
}

// AttestationFile returns an attestation's record and its stored bytes,
// after checking they still have the recorded digest.
func (s *Service) AttestationFile(ctx context.Context, product, version, digest string) (*Attestation, []byte, error) {
	if err := ValidateProductName(product); err != nil {
		return nil, nil, err
	}
	if _, err := ParseVersion(version); err != nil {
		return nil, nil, err
	}
	h, err := ParseDigest(digest)
	if err != nil {
		return nil, nil, err
	}
	var a *Attestation
	err = s.repo.View(func(tx ReadTx) error {
		if _, err := tx.Release(product, version); err != nil {
			return err
		}
		a, err = tx.Attestation(product, version, "sha256:"+h)
		return err
	})
	if err != nil {
		return nil, nil, err
	}
	body, err := s.readSmall(ctx, storage.AttestationKey(product, version, h))
	if err != nil {
		return nil, nil, err
	}
	if sum := sha256.Sum256(body); hex.EncodeToString(sum[:]) != h {
		return nil, nil, fmt.Errorf("attestation %s of %s@%s in the store does not match its digest: %w", a.Digest, product, version, ErrIntegrity)
	}
	return a, body, nil
}

// missingEvidence lists the policy's required predicate types the release
// has no attestation of. An attestation attached to a draft counts only
// while every subject is still one of the release's artifacts (a draft's
// artifact may have been deleted since).
func missingEvidence(tx ReadTx, p *Product, r *Release) ([]string, error) {
	missing := []string{}
	var current map[string]bool // predicate types of attestations whose subjects are all artifacts
	for _, t := range p.Policy.RequiredAttestations {
		ok, err := tx.HasAttestationType(r.Product, r.Version, t)
		if err != nil {
			return nil, err
		}
		if ok && current == nil {
			if current, err = currentTypes(tx, r); err != nil {
				return nil, err
			}
		}
		if !ok || !current[t] {
			missing = append(missing, t)
		}
	}
	return missing, nil
}

func currentTypes(tx ReadTx, r *Release) (map[string]bool, error) {
	arts, err := tx.Artifacts(r.Product, r.Version)
	if err != nil {
		return nil, err
	}
	have := map[string]bool{}
	for _, a := range arts {
		have[a.SHA256] = true
	}
	atts, err := tx.Attestations(r.Product, r.Version)
	if err != nil {
		return nil, err
	}
	types := map[string]bool{}
	for _, a := range atts {
		if !slices.ContainsFunc(a.Subjects, func(s AttestationSubject) bool { return !have[s.SHA256] }) {
			types[a.PredicateType] = true
		}
	}
	return types, nil
}

// evidenceError refuses an approval or a release while a required
// attestation is missing (nil when none is).
func evidenceError(r *Release, policy Policy, missing []string) error {
	if len(missing) == 0 {
		return nil
	}
	missing = slices.Sorted(slices.Values(missing))
	return withDetails(ErrEvidenceMissing, fmt.Sprintf("%s@%s lacks required attestations: %s", r.Product, r.Version, strings.Join(missing, ", ")),
		map[string]any{"missing": missing, "required": policy.RequiredAttestations})
}
