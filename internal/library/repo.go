package library

import (
	"time"

	"github.com/reliquary/reliquary/internal/journal"
)

// Repo is the index the library persists into. Every mutation happens in
// one Update, and every Update that changes something records its journal
// event in the same transaction (WriteTx.Record), so the index and the
// journal never disagree. Implemented by internal/index on bbolt.
type Repo interface {
	// View runs fn in a read-only transaction. fn must not block on I/O
	// outside the index (never stream an artifact inside it).
	View(fn func(ReadTx) error) error
	// Update runs fn in a read-write transaction, committed when fn
	// returns nil and rolled back otherwise.
	Update(fn func(WriteTx) error) error
}

// ReleaseQuery selects releases of one product, newest first by SemVer.
type ReleaseQuery struct {
	// Before, when set, starts below this version (exclusive): a cursor,
	// or the upper bound of a constraint.
	Before string
	// AtLeast, when set, stops the walk below this version.
	AtLeast string
	// Match filters; returning false skips the release.
	Match func(*Release) bool
	// Limit stops after this many matches (0: no limit).
	Limit int
	// Scanned, when set, is incremented per release looked at.
	Scanned *int
	// MaxBytes, when set, stops before the stored records of the matches
	// would exceed it (at least one match is returned); Truncated, when
	// set, is set true when it stopped so.
	MaxBytes  int
	Truncated *bool
}

// ReadTx reads the index.
type ReadTx interface {
	Product(name string) (*Product, error)
	Products(fn func(*Product) bool) error
	// Release returns one release without its artifacts.
	Release(product, version string) (*Release, error)
	// Releases walks a product's releases newest first.
	Releases(product string, q ReleaseQuery) ([]*Release, error)
	Artifacts(product, version string) ([]Artifact, error)
	Artifact(product, version, name string) (*Artifact, error)
	Token(id string) (*Token, error)
	TokenByHash(hash []byte) (*Token, error)
	Tokens(fn func(*Token) bool) error
	// Events returns up to limit events with seq > after, in order.
	Events(after uint64, limit int) ([]*journal.Event, error)
	// Head is the last event's sequence number and hash.
	Head() (uint64, string, error)

	// Baseline returns one baseline (ErrBaselineNotFound).
	Baseline(name string) (*Baseline, error)
	// Baselines walks every baseline by name.
	Baselines(fn func(*Baseline) bool) error
	// ReleasesByLink walks a CMDB link index (change_id, ci_id, label).
	ReleasesByLink(q LinkQuery) ([]*Release, error)
	// Deployment returns one deployment record (ErrIntegrity if absent:
	// slots only name stored records).
	Deployment(id uint64) (*Deployment, error)
	// Deployments walks deployment records newest first.
	Deployments(q DeploymentQuery) ([]*Deployment, error)
	// EnvironmentSlot returns one slot, or nil when there is none.
	EnvironmentSlot(env, product, target string) (*EnvironmentSlot, error)
	// EnvironmentSlots lists an environment's slots by product and target.
	EnvironmentSlots(env string) ([]*EnvironmentSlot, error)

	// RolloutPilot reports whether target is a pilot of the release's
	// rollout (rollout.go); RolloutPilots lists them, sorted.
	RolloutPilot(product, version, target string) (bool, error)
	RolloutPilots(product, version string) ([]string, error)
	// RolloutCounts is a release's running count of deployment records,
	// or nil when none is kept (rollout.go).
	RolloutCounts(product, version string) (*RolloutCounts, error)

	// Attestations lists a release's attestations by digest.
	Attestations(product, version string) ([]Attestation, error)
	// Attestation returns one (ErrAttestationNotFound).
	Attestation(product, version, digest string) (*Attestation, error)
	// HasAttestationType reports whether the release has an attestation
	// of the predicate type (the predicate type index).
	HasAttestationType(product, version, predicateType string) (bool, error)
}

// WriteTx changes the index; Record appends the journal event.
type WriteTx interface {
	ReadTx
	PutProduct(*Product) error
	PutRelease(*Release) error
	PutArtifact(product, version string, a *Artifact) error
	DeleteArtifact(product, version, name string) error
	PutToken(*Token) error
	PutBaseline(*Baseline) error
	// PutDeployment stores a record and its secondary index entries.
	PutDeployment(*Deployment) error
	PutEnvironmentSlot(*EnvironmentSlot) error
	// SetRolloutPilots replaces the pilots of a release's rollout.
	SetRolloutPilots(product, version string, pilots []string) error
	PutRolloutCounts(product, version string, c *RolloutCounts) error
	// DeleteRelease removes a release record, its CMDB link entries and
	// its artifact records (never its blobs).
	DeleteRelease(product, version string) error
	// PutAttestation stores an attestation record and its predicate type
	// index entry.
	PutAttestation(product, version string, a *Attestation) error
	// Record appends an event, returning it with seq and hashes filled.
	Record(e Event) (*journal.Event, error)
}

// Event is what a mutation records; the index fills seq and the hashes.
type Event struct {
	Time    time.Time
	Actor   string
	Type    string
	Subject string
	Data    any
}

// Event types.
const (
	EvProductCreated   = "product.created"
	EvPolicyUpdated    = "product.policy_updated"
	EvReleaseCreated   = "release.created"
	EvArtifactUploaded = "release.artifact_uploaded"
	EvArtifactDeleted  = "release.artifact_deleted"
	EvReleaseSealed    = "release.sealed"
	EvReleaseApproved  = "release.approved"
	EvReleaseReleased  = "release.released"
	EvReleaseSupersede = "release.superseded"
	EvReleaseWithdrawn = "release.withdrawn"
	EvReleaseCurrent   = "release.current"
	EvTokenCreated     = "token.created"
	EvTokenRevoked     = "token.revoked"
	EvWebhookCreated   = "webhook.created"
	EvWebhookDeleted   = "webhook.deleted"
)

// Event types of baselines and deployment records.
const (
	EvBaselineCreated    = "baseline.created"
	EvDeploymentRecorded = "deployment.recorded"
)

// EvReleaseDeleted: a never-released release was removed (by a person or
// by the retention runner).
const EvReleaseDeleted = "release.deleted"

// EvAttestationAdded: an attestation was verified and attached to a release.
const EvAttestationAdded = "release.attestation_added"
