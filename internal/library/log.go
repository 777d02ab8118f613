package library

import (
	"context"
	"errors"
)

// The signed log: checkpoints, proofs and release statements (DESIGN §12),
// kept by internal/transparency.

// SignedLog is the signed log of the journal.
type SignedLog interface {
	// Checkpoint is a signed checkpoint note (C2SP tlog-checkpoint).
	Checkpoint(ctx context.Context) ([]byte, error)
	// Size is the tree size the proofs may use.
	Size() (uint64, error)
	// InclusionProof proves leaf index is in the tree of size leaves.
	InclusionProof(index, size uint64) ([][]byte, error)
	// ConsistencyProof proves the tree of from leaves is a prefix of the
	// tree of to leaves.
	ConsistencyProof(from, to uint64) ([][]byte, error)
	// Statement is the release's latest statement, a DSSE envelope
	// (ErrNoStatement when it was never approved).
	Statement(ctx context.Context, product, version string) ([]byte, error)
}

// ErrNoStatement reports a release that has no statement: it never reached
// approved.
var ErrNoStatement = errors.New("release has no statement")

// SignedLogReady fails (ErrNotImplemented) when the service keeps no
// signed log.
func (s *Service) SignedLogReady() error {
	if s.signedLog == nil {
		return withDetails(ErrNotImplemented, "this server keeps no signed log", nil)
	}
	return nil
}

// LogCheckpoint is a signed checkpoint of the log.
func (s *Service) LogCheckpoint(ctx context.Context) ([]byte, error) {
	if err := s.SignedLogReady(); err != nil {
		return nil, err
	}
	return s.signedLog.Checkpoint(ctx)
}

// InclusionProof proves event seq is leaf seq-1 of the tree of size
// leaves: 1 ≤ seq ≤ size ≤ the log's size.
func (s *Service) InclusionProof(_ context.Context, seq, size uint64) ([][]byte, error) {
	if err := s.SignedLogReady(); err != nil {
		return nil, err
	}
	have, err := s.signedLog.Size()
	if err != nil {
		return nil, err
	}
	if seq == 0 || seq > size || size > have {
		return nil, withDetails(ErrInvalidInput, "an inclusion proof needs 1 ≤ seq ≤ size ≤ the log's size",
			map[string]any{"seq": seq, "size": size, "log_size": have})
	}
	return s.signedLog.InclusionProof(seq-1, size)
}

// ConsistencyProof proves the tree of from leaves is a prefix of the tree
// of to leaves: from ≤ to ≤ the log's size.
func (s *Service) ConsistencyProof(_ context.Context, from, to uint64) ([][]byte, error) {
	if err := s.SignedLogReady(); err != nil {
		return nil, err
	}
	have, err := s.signedLog.Size()
	if err != nil {
		return nil, err
	}
	if from > to || to > have {
		return nil, withDetails(ErrInvalidInput, "a consistency proof needs from ≤ to ≤ the log's size",
			map[string]any{"from": from, "to": to, "log_size": have})
	}
	return s.signedLog.ConsistencyProof(from, to)
}

// ReleaseStatement is the release's latest statement: a DSSE envelope of
// an in-toto Statement v1 (predicate https://reliquary.dev/release/v1).
func (s *Service) ReleaseStatement(ctx context.Context, product, version string) ([]byte, error) {
	if err := s.SignedLogReady(); err != nil {
		return nil, err
	}
	if _, err := s.Release(ctx, product, version); err != nil {
		return nil, err
	}
	env, err := s.signedLog.Statement(ctx, product, version)
	if errors.Is(err, ErrNoStatement) {
		return nil, withDetails(ErrNoStatement, product+"@"+version+" has no release statement: it was never approved", nil)
	}
	return env, err
}
