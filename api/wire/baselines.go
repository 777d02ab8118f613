package wire

import (
	"time"
)

// Baseline is a named, immutable, signed set of releases. Read with
// Baseline, each member also carries its release's state now (a member
// withdrawn after the baseline was made is flagged, the baseline itself
// never changes); listed with Baselines, members carry only product,
// version and type.
type Baseline struct {
	Name           string           `json:"name"`
	Description    string           `json:"description"`
	ChangeID       string           `json:"change_id"`
	From           string           `json:"from,omitempty"`
	Releases       []BaselineMember `json:"releases"`
	CreatedBy      string           `json:"created_by"`
	CreatedAt      time.Time        `json:"created_at"`
	ManifestDigest string           `json:"manifest_digest"`
	KeyID          string           `json:"key_id"`
}

// BaselineMember is one release of a baseline.
type BaselineMember struct {
	Product      string      `json:"product"`
	Version      string      `json:"version"`
	Type         string      `json:"type"`
	State        string      `json:"state,omitempty"`
	SupersededBy string      `json:"superseded_by,omitempty"`
	Withdrawn    bool        `json:"withdrawn,omitempty"`
	Withdrawal   *Withdrawal `json:"withdrawal,omitempty"`
}

// ReleaseRef names one release.
type ReleaseRef struct {
	Product string `json:"product"`
	Version string `json:"version"`
}

// BaselineInput creates a baseline from an explicit list of released
// releases, or with From "current" from every product's current release.
type BaselineInput struct {
	Name        string       `json:"name"`
	Description string       `json:"description,omitempty"`
	ChangeID    string       `json:"change_id,omitempty"`
	Releases    []ReleaseRef `json:"releases,omitempty"`
	From        string       `json:"from,omitempty"`
}

// BaselineDiff compares two baselines product by product.
type BaselineDiff struct {
	From    string          `json:"from"`
	To      string          `json:"to"`
	Changes []ProductChange `json:"changes"`
}

// ProductChange is how one product changed: added, removed, upgraded,
// downgraded or unchanged.
type ProductChange struct {
	Product string `json:"product"`
	Change  string `json:"change"`
	From    string `json:"from,omitempty"`
	To      string `json:"to,omitempty"`
	Type    string `json:"type,omitempty"`
}

// BaselineView is a baseline as GET /baselines/{name} and its creation
// answer show it: each member with its release's state now.
type BaselineView struct {
	Name           string       `json:"name"`
	Description    string       `json:"description"`
	ChangeID       string       `json:"change_id"`
	From           string       `json:"from,omitempty"`
	Releases       []MemberView `json:"releases"`
	CreatedBy      string       `json:"created_by"`
	CreatedAt      time.Time    `json:"created_at"`
	ManifestDigest string       `json:"manifest_digest"`
	KeyID          string       `json:"key_id"`
}

// MemberView is one member of a BaselineView: the release as the baseline
// names it and its state now (flagged when superseded or withdrawn since).
type MemberView struct {
	Product      string      `json:"product"`
	Version      string      `json:"version"`
	Type         string      `json:"type"`
	State        string      `json:"state"`
	SupersededBy string      `json:"superseded_by"`
	Withdrawn    bool        `json:"withdrawn"`
	Withdrawal   *Withdrawal `json:"withdrawal,omitempty"`
}

// BaselineList is the answer of GET /baselines (members name only product,
// version and type).
type BaselineList struct {
	Baselines []Baseline `json:"baselines"`
}
