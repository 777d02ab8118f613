package library

import (
	"time"
)

// Product is a release unit: an application, a service, an installer.
type Product struct {
	Name        string    `json:"name"`
	Description string    `json:"description"`
	Owner       string    `json:"owner"`
	CIID        string    `json:"ci_id"`
	Policy      Policy    `json:"policy"`
	CreatedBy   string    `json:"created_by"`
	CreatedAt   time.Time `json:"created_at"`
}

// State is where a release stands in its life.
type State string

// The release states (DESIGN.md §1).
const (
	StateDraft     State = "draft"
	StateCandidate State = "candidate"
	StateApproved  State = "approved"
	StateReleased  State = "released"
	StateWithdrawn State = "withdrawn"
)

// Sealed reports whether the artifact set is frozen.
func (s State) Sealed() bool { return s != StateDraft }

// Valid reports whether s names a state.
func (s State) Valid() bool {
	switch s {
	case StateDraft, StateCandidate, StateApproved, StateReleased, StateWithdrawn:
		return true
	}
	return false
}

// ReleaseType is the ITIL release identification, derived from the version.
type ReleaseType string

// The release types.
const (
	TypeMajor     ReleaseType = "major"
	TypeMinor     ReleaseType = "minor"
	TypeEmergency ReleaseType = "emergency"
)

// Valid reports whether t names a type.
func (t ReleaseType) Valid() bool {
	return t == TypeMajor || t == TypeMinor || t == TypeEmergency
}

// Release is one version of a product: a release package of artifacts.
type Release struct {
	Product        string            `json:"product"`
	Version        string            `json:"version"`
	Type           ReleaseType       `json:"type"`
	Prerelease     bool              `json:"prerelease"`
	State          State             `json:"state"`
	SupersededBy   string            `json:"superseded_by"`
	ChangeID       string            `json:"change_id"`
	CIIDs          []string          `json:"ci_ids"`
	Labels         map[string]string `json:"labels"`
	Notes          string            `json:"notes"`
	CreatedBy      string            `json:"created_by"`
	CreatedAt      time.Time         `json:"created_at"`
	SealedBy       string            `json:"sealed_by,omitempty"`
	SealedAt       *time.Time        `json:"sealed_at,omitempty"`
	ManifestDigest string            `json:"manifest_digest,omitempty"`
	Approvals      []Approval        `json:"approvals"`
	ReleasedBy     string            `json:"released_by,omitempty"`
	ReleasedAt     *time.Time        `json:"released_at,omitempty"`
	Withdrawn      *Withdrawal       `json:"withdrawn,omitempty"`
	History        []Transition      `json:"history"`
	Artifacts      []Artifact        `json:"artifacts"`
	// Rollout is the phased plan of a released release (rollout.go); nil
	// means fully rolled out.
	Rollout *Rollout `json:"rollout,omitempty"`
	// AttestationDigests names the release's attestations ("sha256:<hex>"
	// of the stored bytes), in upload order (attestations.go).
	AttestationDigests []string `json:"attestation_digests,omitempty"`
}

// Approval is one release manager's approval.
type Approval struct {
	By      string    `json:"by"`
	At      time.Time `json:"at"`
	Comment string    `json:"comment"`
}

// Withdrawal records a backout.
type Withdrawal struct {
	By       string    `json:"by"`
	At       time.Time `json:"at"`
	Reason   string    `json:"reason"`
	ChangeID string    `json:"change_id"`
}

// Transition is one step of a release's history.
type Transition struct {
	From     State     `json:"from"`
	To       State     `json:"to"`
	Actor    string    `json:"actor"`
	Time     time.Time `json:"time"`
	ChangeID string    `json:"change_id"`
	Comment  string    `json:"comment"`
}

// Artifact is one file of a release.
type Artifact struct {
	Name       string    `json:"name"`
	Size       int64     `json:"size"`
	SHA256     string    `json:"sha256"`
	MediaType  string    `json:"media_type"`
	OS         string    `json:"os,omitempty"`
	Arch       string    `json:"arch,omitempty"`
	UploadedBy string    `json:"uploaded_by"`
	UploadedAt time.Time `json:"uploaded_at"`
	// Signature is the base64 ECDSA signature of the bytes, KeyID the key
	// that made it.
	Signature string `json:"signature,omitempty"`
	KeyID     string `json:"key_id,omitempty"`
}
