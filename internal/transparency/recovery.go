package transparency

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"slices"

	"github.com/transparency-dev/merkle/compact"
	"github.com/transparency-dev/merkle/rfc6962"

	"github.com/reliquary/reliquary/internal/journal"
	"github.com/reliquary/reliquary/storage"
)

// BucketCheckpoints reads every checkpoint in journal/checkpoints/ and
// verifies its signature. A checkpoint that does not parse, is not signed
// by a trusted key, or does not sit under its own size's key is an error:
// someone wrote to the bucket who should not have.
func BucketCheckpoints(ctx context.Context, store storage.BlobStore, v *Verifier) (map[uint64]Checkpoint, error) {
	var keys []string
	err := store.List(ctx, storage.JournalCheckpointPrefix, func(i storage.Info) error {
		keys = append(keys, i.Key)
		return nil
	})
	if err != nil {
		return nil, err
	}
	out := map[uint64]Checkpoint{}
	for _, k := range keys {
		rc, _, err := store.Get(ctx, k, 0, -1)
		if err != nil {
			return nil, err
		}
		note, err := io.ReadAll(io.LimitReader(rc, MaxCheckpointSize+1))
		rc.Close()
		if err != nil {
			return nil, err
		}
		cp, err := v.Verify(note)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", k, err)
		}
		if storage.JournalCheckpointKey(cp.Size) != k {
			return nil, fmt.Errorf("%s: %w: it signs size %d", k, ErrCheckpoint, cp.Size)
		}
		out[cp.Size] = cp
	}
	return out, nil
}

// VerifyingReader wraps a journal reader (journal.ReadMirror) so that every
// event is checked against the signed checkpoints: the hash chain event by
// event, the tree's root at every checkpoint's size, and at the end that
// the journal stops exactly at the largest checkpoint. Findings are
// *journal.BrokenError values naming the first bad seq:
//   - an edited or forged event whose chain was re-hashed: the first seq
//     after the last checkpoint that still matched;
//   - a dropped tail: the first missing seq;
//   - events after the last checkpoint (forged appends): the first of them.
func VerifyingReader(next func() (*journal.Event, error), cps map[uint64]Checkpoint) func() (*journal.Event, error) {
	sizes := make([]uint64, 0, len(cps))
	for s := range cps {
		sizes = append(sizes, s)
	}
	slices.Sort(sizes)
	var last uint64 // the largest checkpoint size
	if len(sizes) > 0 {
		last = sizes[len(sizes)-1]
	}
	chain := journal.NewVerifier()
	rng := (&compact.RangeFactory{Hash: rfc6962.DefaultHasher.HashChildren}).NewEmptyRange(0)
	var good uint64 // events up to good match a checkpoint
	var failed error
	return func() (*journal.Event, error) {
		if failed != nil {
			return nil, failed
		}
		fail := func(seq uint64, format string, a ...any) (*journal.Event, error) {
			failed = &journal.BrokenError{Seq: seq, Reason: fmt.Sprintf(format, a...)}
			return nil, failed
		}
		e, err := next()
		if errors.Is(err, io.EOF) {
			n, _ := chain.Head()
			switch {
			case n < last:
				return fail(n+1, "the journal ends at seq %d but a checkpoint signed for %d events exists: events %d to %d are missing (truncated)", n, last, n+1, last)
			case n > last:
				return fail(last+1, "events %d to %d are not covered by any signed checkpoint (forged, or appended after the last checkpoint)", last+1, n)
			}
			return nil, io.EOF
		}
		if err != nil {
			return nil, err
		}
		if err := chain.Add(e); err != nil {
			failed = err
			return nil, err
		}
		lh, err := e.LeafHash()
		if err != nil {
			return fail(e.Seq, "%v", err)
		}
		if err := rng.Append(lh, nil); err != nil {
			return nil, err
		}
		if cp, ok := cps[e.Seq]; ok {
			root, err := rng.GetRootHash(nil)
			if err != nil {
				return nil, err
			}
			if !bytes.Equal(root, cp.Hash) {
				return fail(good+1, "events %d to %d do not match the checkpoint signed for %d events (an event was edited, forged or reordered)", good+1, e.Seq, e.Seq)
			}
			good = e.Seq
		}
		return e, nil
	}
}
