package wire

import (
	"time"
)

// Attestation is a verified in-toto attestation attached to a release.
type Attestation struct {
	Digest        string               `json:"digest"`
	PredicateType string               `json:"predicate_type"`
	Signer        string               `json:"signer"`
	Subjects      []AttestationSubject `json:"subjects"`
	Format        string               `json:"format"`
	Size          int64                `json:"size"`
	UploadedBy    string               `json:"uploaded_by"`
	UploadedAt    time.Time            `json:"uploaded_at"`
}

// AttestationSubject is one subject of an attestation's statement.
type AttestationSubject struct {
	Name   string `json:"name"`
	SHA256 string `json:"sha256"`
}

// AttestationList is the answer of GET …/attestations.
type AttestationList struct {
	Attestations []Attestation `json:"attestations"`
}
