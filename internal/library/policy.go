package library

import (
	"fmt"
	"slices"
)

// Policy is a product's release policy (DESIGN.md §1).
type Policy struct {
	RequiredApprovals int           `json:"required_approvals"`
	FourEyes          bool          `json:"four_eyes"`
	RequireChangeID   bool          `json:"require_change_id"`
	SupportedMajors   int           `json:"supported_majors"`
	SupportedMinors   int           `json:"supported_minors"`
	AllowedTypes      []ReleaseType `json:"allowed_types"`
	MaxArtifactBytes  int64         `json:"max_artifact_bytes"`
	// RolloutHaltFailureRatio halts a release in rollout when at least
	// RolloutHaltMinRecords of its deployment records exist and this share
	// of them failed (0: never). Products stored before the field existed
	// read 0.
	RolloutHaltFailureRatio float64 `json:"rollout_halt_failure_ratio"`
	// Retention, when set, lets the retention runner delete what was
	// never released (retention.go).
	Retention *RetentionPolicy `json:"retention,omitempty"`
	// AttestationKeys are the PEM public keys attestations must be signed
	// with; RequiredAttestations the predicate types a release needs
	// before it can be approved (attestations.go).
	AttestationKeys      []string `json:"attestation_keys,omitempty"`
	RequiredAttestations []string `json:"required_attestations,omitempty"`
}

// DefaultMaxArtifactBytes is the default largest artifact: 10 GiB.
const DefaultMaxArtifactBytes = 10 << 30

// DefaultRolloutHaltFailureRatio is the default share of failed deployment
// records that halts a rollout.
const DefaultRolloutHaltFailureRatio = 0.2

// DefaultPolicy is the policy of a product created without one.
func DefaultPolicy() Policy {
	return Policy{
		RequiredApprovals: 1,
		FourEyes:          true,
		RequireChangeID:   true,
		SupportedMajors:   1,
		SupportedMinors:   1,
		AllowedTypes:      []ReleaseType{TypeMajor, TypeMinor, TypeEmergency},
		MaxArtifactBytes:  DefaultMaxArtifactBytes,

		RolloutHaltFailureRatio: DefaultRolloutHaltFailureRatio,
	}
}

// PolicyInput is a policy as sent by a client: absent fields take the
// defaults.
type PolicyInput struct {
	RequiredApprovals *int             `json:"required_approvals"`
	FourEyes          *bool            `json:"four_eyes"`
	RequireChangeID   *bool            `json:"require_change_id"`
	SupportedMajors   *int             `json:"supported_majors"`
	SupportedMinors   *int             `json:"supported_minors"`
	AllowedTypes      []ReleaseType    `json:"allowed_types"`
	MaxArtifactBytes  *int64           `json:"max_artifact_bytes"`
	Retention         *RetentionPolicy `json:"retention"`

	RolloutHaltFailureRatio *float64 `json:"rollout_halt_failure_ratio"`

	AttestationKeys      []string `json:"attestation_keys"`
	RequiredAttestations []string `json:"required_attestations"`
}

// Policy applies the input over the defaults and validates the result.
func (in PolicyInput) Policy() (Policy, error) {
	p := DefaultPolicy()
	if in.RequiredApprovals != nil {
		p.RequiredApprovals = *in.RequiredApprovals
	}
	if in.FourEyes != nil {
		p.FourEyes = *in.FourEyes
	}
	if in.RequireChangeID != nil {
		p.RequireChangeID = *in.RequireChangeID
	}
	if in.SupportedMajors != nil {
		p.SupportedMajors = *in.SupportedMajors
	}
	if in.SupportedMinors != nil {
		p.SupportedMinors = *in.SupportedMinors
	}
	if in.AllowedTypes != nil {
		p.AllowedTypes = in.AllowedTypes
	}
	if in.MaxArtifactBytes != nil {
		p.MaxArtifactBytes = *in.MaxArtifactBytes
	}
	if in.RolloutHaltFailureRatio != nil {
		p.RolloutHaltFailureRatio = *in.RolloutHaltFailureRatio
	}
	if in.Retention != nil {
		r := *in.Retention
		p.Retention = &r
	}
	p.AttestationKeys, p.RequiredAttestations = in.AttestationKeys, in.RequiredAttestations
	return p, p.Validate()
}

// Validate checks every field's range.
func (p Policy) Validate() error {
	bad := func(field, msg string) error {
		return withDetails(ErrInvalidInput, fmt.Sprintf("policy.%s %s", field, msg), map[string]any{"field": field})
	}
	switch {
	case p.RequiredApprovals < 1 || p.RequiredApprovals > 10:
		return bad("required_approvals", "must be between 1 and 10")
	case p.SupportedMajors < 1 || p.SupportedMajors > 100:
		return bad("supported_majors", "must be between 1 and 100")
	case p.SupportedMinors < 1 || p.SupportedMinors > 100:
		return bad("supported_minors", "must be between 1 and 100")
	case len(p.AllowedTypes) == 0:
		return bad("allowed_types", "must name at least one of major, minor, emergency")
	case p.MaxArtifactBytes < 1 || p.MaxArtifactBytes > 5<<40:
		return bad("max_artifact_bytes", "must be between 1 and 5 TiB")
	case !(p.RolloutHaltFailureRatio >= 0 && p.RolloutHaltFailureRatio <= 1):
		return bad("rollout_halt_failure_ratio", "must be between 0 (never halt) and 1")
	}
	seen := map[ReleaseType]bool{}
	for _, t := range p.AllowedTypes {
		if !t.Valid() {
			return bad("allowed_types", fmt.Sprintf("has %q; the types are major, minor, emergency", t))
		}
		if seen[t] {
			return bad("allowed_types", fmt.Sprintf("names %q twice", t))
		}
		seen[t] = true
	}
	if err := p.Retention.validate(); err != nil {
		return err
	}
	return p.validateEvidence()
}

// Allows reports whether releases of type t may be created.
func (p Policy) Allows(t ReleaseType) bool { return slices.Contains(p.AllowedTypes, t) }
