package transparency

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/reliquary/reliquary/internal/journal"
	"github.com/reliquary/reliquary/internal/library"
	"github.com/reliquary/reliquary/internal/signing"
	"github.com/reliquary/reliquary/storage"
)

// ErrNoStatement reports a release that has no statement: it never reached
// approved.
var ErrNoStatement = library.ErrNoStatement

// Tree is the index's view of the signed log (internal/index, log.go).
type Tree interface {
	LogHead() (uint64, []byte, error)
	LogRoot(size uint64) ([]byte, error)
	InclusionProof(index, size uint64) ([][]byte, error)
	ConsistencyProof(from, to uint64) ([][]byte, error)
	Event(seq uint64) (*journal.Event, error)
	StatementSeq(product, version string) (uint64, error)
	CachedStatement(product, version string) (uint64, []byte, error)
	PutStatement(product, version string, seq uint64, env []byte) error
}

// Log signs checkpoints of the index's tree and makes release statements.
// It is safe for concurrent use.
type Log struct {
	Tree   Tree
	Signer *signing.Signer
	// Origin names the log (default DefaultOrigin).
	Origin string
	// Store, when set, receives the mirrored checkpoints.
	Store storage.BlobStore
	// MaxAge is how long a checkpoint is served after the log grew past it
	// (default 1s): checkpoint signing is amortised over the events of that
	// time.
	MaxAge time.Duration

	mu       sync.Mutex
	last     Checkpoint
	lastAt   time.Time
	mirrored atomic.Uint64 // the size of the last checkpoint written to Store
}

func (l *Log) origin() string {
	if l.Origin == "" {
		return DefaultOrigin
	}
	return l.Origin
}

// Checkpoint returns a signed checkpoint of at least minSize leaves: the
// last one signed when it is big enough and the log has not grown or it is
// younger than MaxAge, else a new one of the whole log.
func (l *Log) Checkpoint(ctx context.Context, minSize uint64) (Checkpoint, error) {
	maxAge := l.MaxAge
	if maxAge == 0 {
		maxAge = time.Second
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	size, root, err := l.Tree.LogHead()
	if err != nil {
		return Checkpoint{}, err
	}
	if minSize > size {
		return Checkpoint{}, fmt.Errorf("checkpoint of %d leaves: the log holds %d", minSize, size)
	}
	if l.last.Note != nil && l.last.Size >= minSize && (l.last.Size == size || time.Since(l.lastAt) < maxAge) {
		return l.last, nil
	}
	cp, err := SignCheckpoint(ctx, l.Signer, l.origin(), size, root)
	if err != nil {
		return Checkpoint{}, err
	}
	l.last, l.lastAt = cp, time.Now()
	return cp, nil
}

// CheckpointAt signs a checkpoint of exactly size leaves.
func (l *Log) CheckpointAt(ctx context.Context, size uint64) (Checkpoint, error) {
	root, err := l.Tree.LogRoot(size)
	if err != nil {
		return Checkpoint{}, err
	}
	return SignCheckpoint(ctx, l.Signer, l.origin(), size, root)
}

// MirrorCheckpoint writes the checkpoint of size leaves to
// journal/checkpoints/ in the store, create-only: one already there (a
// retry after a crash) is kept.
func (l *Log) MirrorCheckpoint(ctx context.Context, size uint64) error {
	if l.Store == nil || size == 0 || l.mirrored.Load() == size {
		return nil
	}
	cp, err := l.CheckpointAt(ctx, size)
	if err != nil {
		return err
	}
	_, err = l.Store.Put(ctx, storage.JournalCheckpointKey(size), bytes.NewReader(cp.Note), int64(len(cp.Note)),
		storage.PutOptions{ContentType: "text/plain; charset=utf-8"})
	if err != nil && !errors.Is(err, storage.ErrExists) {
		return err
	}
	l.mirrored.Store(size)
	return nil
}

// Statement returns the DSSE envelope of the release's latest statement,
// made (and cached in the index) on first request.
func (l *Log) Statement(ctx context.Context, product, version string) ([]byte, error) {
	seq, err := l.Tree.StatementSeq(product, version)
	if err != nil {
		return nil, err
	}
	if seq == 0 {
		return nil, ErrNoStatement
	}
	if have, env, err := l.Tree.CachedStatement(product, version); err == nil && have == seq && env != nil {
		return env, nil
	}
	ev, err := l.Tree.Event(seq)
	if err != nil {
		return nil, err
	}
	cp, err := l.Checkpoint(ctx, seq)
	if err != nil {
		return nil, err
	}
	incl, err := l.Tree.InclusionProof(seq-1, cp.Size)
	if err != nil {
		return nil, err
	}
	st, err := StatementFor(ev, cp, incl)
	if err != nil {
		return nil, err
	}
	env, err := l.Signer.SignDSSE(ctx, signing.InTotoPayloadType, st)
	if err != nil {
		return nil, err
	}
	if err := l.Tree.PutStatement(product, version, seq, env); err != nil {
		return nil, err
	}
	return env, nil
}
