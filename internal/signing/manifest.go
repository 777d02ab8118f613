package signing

import (
	"bytes"
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"time"
)

// ManifestSchemaVersion is the schema_version written into, and required
// from, release and baseline manifests.
const ManifestSchemaVersion = 1

// ManifestMediaType is the media type of manifest.json documents.
const ManifestMediaType = "application/vnd.reliquary.manifest.v1+json"

// ReleaseManifest is the signed description of a sealed release, stored as
// products/<p>/releases/<v>/manifest.json next to manifest.json.sig. Its
// bytes are canonical JSON (see Canonical) so they have exactly one digest.
type ReleaseManifest struct {
	SchemaVersion int                `json:"schema_version"`
	Product       string             `json:"product"`
	Version       string             `json:"version"`
	Type          string             `json:"type"`
	ChangeID      string             `json:"change_id,omitempty"`
	CIIDs         []string           `json:"ci_ids"`
	Artifacts     []ManifestArtifact `json:"artifacts"`
	SealedBy      string             `json:"sealed_by"`
	SealedAt      time.Time          `json:"sealed_at"`
}

// ManifestArtifact is one artifact of a release manifest.
type ManifestArtifact struct {
	Name      string `json:"name"`
	SHA256    string `json:"sha256"` // lower-case hex
	Size      int64  `json:"size"`
	MediaType string `json:"media_type"`
	OS        string `json:"os,omitempty"`
	Arch      string `json:"arch,omitempty"`
}

// BaselineManifest is the signed content of a baseline, stored as
// baselines/<name>/manifest.json next to manifest.json.sig.
type BaselineManifest struct {
	SchemaVersion int              `json:"schema_version"`
	Name          string           `json:"name"`
	Description   string           `json:"description"`
	ChangeID      string           `json:"change_id,omitempty"`
	Releases      []BaselineMember `json:"releases"`
	CreatedBy     string           `json:"created_by"`
	CreatedAt     time.Time        `json:"created_at"`
}

// BaselineMember is one (product, version) pair of a baseline.
type BaselineMember struct {
	Product string `json:"product"`
	Version string `json:"version"`
	Type    string `json:"type"`
}

// Marshal returns the canonical bytes of the manifest, the exact bytes that
// are signed and stored. The receiver is not modified; the encoded form has
// schema_version 1 (a zero SchemaVersion is filled in), artifacts sorted by
// name, ci_ids as [] rather than null, and sealed_at in UTC.
func (m ReleaseManifest) Marshal() ([]byte, error) {
	n, err := m.normalize()
	if err != nil {
		return nil, err
	}
	return Canonical(n)
}

func (m ReleaseManifest) normalize() (ReleaseManifest, error) {
	if m.SchemaVersion == 0 {
		m.SchemaVersion = ManifestSchemaVersion
	}
	if err := m.validate(); err != nil {
		return m, err
	}
	m.CIIDs = slices.Clone(m.CIIDs)
	if m.CIIDs == nil {
		m.CIIDs = []string{}
	}
	m.Artifacts = slices.Clone(m.Artifacts)
	if m.Artifacts == nil {
		m.Artifacts = []ManifestArtifact{}
	}
	slices.SortFunc(m.Artifacts, func(a, b ManifestArtifact) int { return cmp.Compare(a.Name, b.Name) })
	m.SealedAt = m.SealedAt.UTC()
	return m, nil
}

func (m ReleaseManifest) validate() error {
	if m.SchemaVersion != ManifestSchemaVersion {
		return fmt.Errorf("%w: schema_version %d, want %d", ErrInvalidManifest, m.SchemaVersion, ManifestSchemaVersion)
	}
	switch {
	case m.Product == "":
		return fmt.Errorf("%w: product is empty", ErrInvalidManifest)
	case m.Version == "":
		return fmt.Errorf("%w: version is empty", ErrInvalidManifest)
	case m.Type == "":
		return fmt.Errorf("%w: type is empty", ErrInvalidManifest)
	case m.SealedAt.IsZero():
		return fmt.Errorf("%w: sealed_at is zero", ErrInvalidManifest)
	}
	names := make(map[string]bool, len(m.Artifacts))
	for _, a := range m.Artifacts {
		switch {
		case a.Name == "":
			return fmt.Errorf("%w: artifact with empty name", ErrInvalidManifest)
		case !ValidArtifactName(a.Name):
			return fmt.Errorf("%w: artifact name %q breaks the artifact-name rule", ErrInvalidManifest, clipName(a.Name))
		case names[a.Name]:
			return fmt.Errorf("%w: duplicate artifact %q", ErrInvalidManifest, a.Name)
		case !isLowerHexSHA256(a.SHA256):
			return fmt.Errorf("%w: artifact %q: sha256 %q is not 64 lower-case hex digits", ErrInvalidManifest, a.Name, a.SHA256)
		case a.Size < 0:
			return fmt.Errorf("%w: artifact %q: negative size", ErrInvalidManifest, a.Name)
		}
		names[a.Name] = true
	}
	return nil
}

// ParseReleaseManifest decodes manifest bytes strictly: unknown fields,
// trailing data, a schema version other than 1 and any non-canonical
// encoding (reordered keys, extra whitespace, unsorted artifacts, null
// ci_ids, a non-UTC time...) are refused, so the parsed manifest re-marshals
// to exactly b.
func ParseReleaseManifest(b []byte) (ReleaseManifest, error) {
	var m ReleaseManifest
	if err := decodeStrict(b, &m); err != nil {
		return ReleaseManifest{}, fmt.Errorf("parse release manifest: %w", err)
	}
	if err := m.validate(); err != nil {
		return ReleaseManifest{}, fmt.Errorf("parse release manifest: %w", err)
	}
	again, err := m.Marshal()
	if err != nil {
		return ReleaseManifest{}, fmt.Errorf("parse release manifest: %w", err)
	}
	if !bytes.Equal(again, b) {
		return ReleaseManifest{}, fmt.Errorf("parse release manifest: %w", ErrNotCanonical)
	}
	return m, nil
}

// Marshal returns the canonical bytes of the baseline manifest: schema_version
// 1 (filled in when zero), releases sorted by product, releases as [] rather
// than null, created_at in UTC. The receiver is not modified.
func (m BaselineManifest) Marshal() ([]byte, error) {
	n, err := m.normalize()
	if err != nil {
		return nil, err
	}
	return Canonical(n)
}

func (m BaselineManifest) normalize() (BaselineManifest, error) {
	if m.SchemaVersion == 0 {
		m.SchemaVersion = ManifestSchemaVersion
	}
	if err := m.validate(); err != nil {
		return m, err
	}
	m.Releases = slices.Clone(m.Releases)
	if m.Releases == nil {
		m.Releases = []BaselineMember{}
	}
	slices.SortFunc(m.Releases, func(a, b BaselineMember) int { return cmp.Compare(a.Product, b.Product) })
	m.CreatedAt = m.CreatedAt.UTC()
	return m, nil
}

func (m BaselineManifest) validate() error {
	if m.SchemaVersion != ManifestSchemaVersion {
		return fmt.Errorf("%w: schema_version %d, want %d", ErrInvalidManifest, m.SchemaVersion, ManifestSchemaVersion)
	}
	switch {
	case m.Name == "":
		return fmt.Errorf("%w: baseline name is empty", ErrInvalidManifest)
	case m.CreatedAt.IsZero():
		return fmt.Errorf("%w: created_at is zero", ErrInvalidManifest)
	}
	products := make(map[string]bool, len(m.Releases))
	for _, r := range m.Releases {
		switch {
		case r.Product == "" || r.Version == "":
			return fmt.Errorf("%w: baseline member needs product and version", ErrInvalidManifest)
		case products[r.Product]:
			return fmt.Errorf("%w: product %q appears twice", ErrInvalidManifest, r.Product)
		}
		products[r.Product] = true
	}
	return nil
}

// ParseBaselineManifest is ParseReleaseManifest for baselines.
func ParseBaselineManifest(b []byte) (BaselineManifest, error) {
	var m BaselineManifest
	if err := decodeStrict(b, &m); err != nil {
		return BaselineManifest{}, fmt.Errorf("parse baseline manifest: %w", err)
	}
	if err := m.validate(); err != nil {
		return BaselineManifest{}, fmt.Errorf("parse baseline manifest: %w", err)
	}
	again, err := m.Marshal()
	if err != nil {
		return BaselineManifest{}, fmt.Errorf("parse baseline manifest: %w", err)
	}
	if !bytes.Equal(again, b) {
		return BaselineManifest{}, fmt.Errorf("parse baseline manifest: %w", ErrNotCanonical)
	}
	return m, nil
}

// decodeStrict decodes exactly one JSON value into v, refusing unknown
// fields and trailing data.
func decodeStrict(b []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("%w: %w", ErrInvalidManifest, err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return fmt.Errorf("%w: data after the manifest", ErrInvalidManifest)
	}
	return nil
}

func isLowerHexSHA256(s string) bool {
	if len(s) != 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

// clipName shortens a hostile name for an error message.
func clipName(s string) string {
	if len(s) > 80 {
		return s[:80] + "..."
	}
	return s
}
