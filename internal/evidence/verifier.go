package evidence

import (
	"errors"
	"fmt"

	"github.com/reliquary/reliquary/internal/library"
)

// Verifier is the library's Evidence: it parses attestation files and
// checks their signatures, so the domain itself links no sigstore or
// protobuf code (as internal/index is its Repo).
type Verifier struct{}

var _ library.Evidence = Verifier{}

// CheckKeys implements library.Evidence.
func (Verifier) CheckKeys(pems []string) error {
	_, err := ParseKeys(pems)
	return err
}

// Verify implements library.Evidence: a refusal is a *library.DetailedError
// wrapping ErrInvalidAttestation or ErrAttestationUnverified, with
// details.reason (format, statement, unsigned, signature).
func (Verifier) Verify(raw []byte, pems []string) (*library.VerifiedAttestation, error) {
	keys, err := ParseKeys(pems)
	if err != nil {
		return nil, fmt.Errorf("policy attestation keys: %w", err)
	}
	parsed, err := Parse(raw)
	if errors.Is(err, ErrUnsigned) {
		return nil, refusal(library.ErrAttestationUnverified, err)
	}
	if err != nil {
		return nil, refusal(library.ErrInvalidAttestation, err)
	}
	signer, err := parsed.Verify(keys)
	if err != nil {
		return nil, refusal(library.ErrAttestationUnverified, err)
	}
	out := &library.VerifiedAttestation{Format: parsed.Format, PredicateType: parsed.PredicateType, Signer: signer}
	for _, sub := range parsed.Subjects {
		out.Subjects = append(out.Subjects, library.AttestationSubject{Name: sub.Name, SHA256: sub.SHA256})
	}
	return out, nil
}

func refusal(kind, err error) error {
	return &library.DetailedError{Err: kind, Msg: err.Error(), Details: map[string]any{"reason": reason(err)}}
}

// reason names the class of a refusal for details.reason.
func reason(err error) string {
	switch {
	case errors.Is(err, ErrUnsigned):
		return "unsigned"
	case errors.Is(err, ErrSignature):
		return "signature"
	case errors.Is(err, ErrStatement):
		return "statement"
	}
	return "format"
}
