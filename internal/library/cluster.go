package library

import (
	"context"
	"errors"
	"sync/atomic"
)

// Cluster is how the library reaches the journal's followers (DESIGN §9):
// internal/app wires it; the API sees it only through the Service.
type Cluster interface {
	// WaitForSeq returns once the node has applied event n, or
	// ErrNotCaughtUp when ctx ends first.
	WaitForSeq(ctx context.Context, n uint64) error
	// SyncToBucketHead applies every event the bucket's journal holds
	// beyond the node's head (a linearizable read starts with it).
	SyncToBucketHead(ctx context.Context) error
}

// ErrNotCaughtUp: the node has not applied the event a request asked for
// (X-Reliquary-Min-Seq) in time.
var ErrNotCaughtUp = errors.New("this node has not caught up with the journal yet")

// ContextUpdater is a Repo whose Update runs under a request's context
// (internal/index): the commit's store calls use it, and a seq recorder it
// carries learns what was committed.
type ContextUpdater interface {
	UpdateContext(ctx context.Context, fn func(WriteTx) error) error
}

// update runs fn in a write transaction under ctx.
func (s *Service) update(ctx context.Context, fn func(WriteTx) error) error {
	if cu, ok := s.repo.(ContextUpdater); ok && ctx != nil {
		return cu.UpdateContext(ctx, fn)
	}
	return s.update(ctx, fn)
}

// WaitForSeq returns once this node has applied journal event n
// (ErrNotCaughtUp when ctx ends first). Without a cluster the index is the
// journal: it has applied every event it has.
func (s *Service) WaitForSeq(ctx context.Context, n uint64) error {
	if s.cluster == nil {
		return nil
	}
	return s.cluster.WaitForSeq(ctx, n)
}

// SyncToBucketHead brings the node level with the bucket's journal.
func (s *Service) SyncToBucketHead(ctx context.Context) error {
	if s.cluster == nil {
		return nil
	}
	return s.cluster.SyncToBucketHead(ctx)
}

type seqRecorderKey struct{}

// SeqRecorder learns the seq of the last journal event committed under a
// context (X-Reliquary-Seq).
type SeqRecorder struct{ seq atomic.Uint64 }

// Seq is the highest seq recorded (0: none).
func (r *SeqRecorder) Seq() uint64 { return r.seq.Load() }

// WithSeqRecorder returns a context whose commits are recorded in r.
func WithSeqRecorder(ctx context.Context) (context.Context, *SeqRecorder) {
	r := &SeqRecorder{}
	return context.WithValue(ctx, seqRecorderKey{}, r), r
}

// RecordSeq tells ctx's recorder, if any, that seq was committed.
func RecordSeq(ctx context.Context, seq uint64) {
	r, _ := ctx.Value(seqRecorderKey{}).(*SeqRecorder)
	if r == nil {
		return
	}
	for {
		old := r.seq.Load()
		if seq <= old || r.seq.CompareAndSwap(old, seq) {
			return
		}
	}
}

// AppliedSeq is the seq of the last journal event this node has applied.
func (s *Service) AppliedSeq() (uint64, error) {
	var seq uint64
	err := s.repo.View(func(tx ReadTx) error {
		var err error
		seq, _, err = tx.Head()
		return err
	})
	return seq, err
}

// ErrCommittedNotApplied: the change is committed (its journal object is
// in the bucket) but this node could not apply it to its index (a full
// index volume). It is not undone: the node applies it once it can, other
// nodes already may have. Objects the change names must stay.
var ErrCommittedNotApplied = errors.New("committed to the bucket's journal, not yet applied on this node")

// committed reports whether a failed write was committed all the same:
// its objects must not be removed.
func committed(err error) bool { return errors.Is(err, ErrCommittedNotApplied) }
