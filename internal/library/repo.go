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
	// Before, when set, resumes after this version (exclusive): a cursor.
	Before string
	// Match filters; returning false skips the release.
	Match func(*Release) bool
	// Limit stops after this many matches (0: no limit).
	Limit int
	// Scanned, when set, is incremented per release looked at.
	Scanned *int
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
}

// WriteTx changes the index; Record appends the journal event.
type WriteTx interface {
	ReadTx
	PutProduct(*Product) error
	PutRelease(*Release) error
	PutArtifact(product, version string, a *Artifact) error
	DeleteArtifact(product, version, name string) error
	PutToken(*Token) error
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
)
