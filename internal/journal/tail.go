package journal

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"

	"github.com/reliquary/reliquary/storage"
)

// tail is what catch-up reads after an index head: the segments that run
// contiguously from seq 1, then the single-event objects after them, found
// without listing journal/ (which holds one object per event, plus the
// checkpoints: a listing of a long journal costs seconds). The single
// objects are found by probing journal/<next>.json, a window at a time,
// until one is missing; the probes' bodies are kept for the replay.
type tail struct {
	units []mirrorUnit
	got   map[uint64]*Event // single events already read by the probe
}

// tailProbeWindow is how many single-event objects are fetched at once.
const tailProbeWindow = 32

// readTail finds the units that hold the journal from head (inclusive, so
// the caller can compare its head event) onwards. When the bucket holds no
// event at head or just after the segments (it is behind the index, or has
// a hole in its single objects), it falls back to listing journal/.
func readTail(ctx context.Context, store storage.BlobStore, head uint64) (*tail, error) {
	var segs []mirrorUnit
	err := store.List(ctx, storage.JournalSegmentPrefix, func(i storage.Info) error {
		var first, last uint64
		if _, err := fmt.Sscanf(strings.TrimPrefix(i.Key, storage.JournalSegmentPrefix), "%d-%d.jsonl", &first, &last); err == nil &&
			storage.JournalSegmentKey(first, last) == i.Key && first <= last {
			segs = append(segs, mirrorUnit{i.Key, first, last})
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	slices.SortFunc(segs, func(a, b mirrorUnit) int { return cmp.Compare(a.first, b.first) })
	t := &tail{got: map[uint64]*Event{}}
	var covered uint64
	for _, sg := range segs {
		if sg.first != covered+1 {
			break
		}
		t.units = append(t.units, sg)
		covered = sg.last
	}
	next := max(covered+1, head)
	if head == 0 {
		next = covered + 1
	}
	for {
		evs, err := probeSingles(ctx, store, next, tailProbeWindow)
		if err != nil {
			return nil, err
		}
		if len(evs) == 0 && next > covered+1 && next == head {
			// Nothing at the index's head beyond the segments: the
			// bucket is behind it (or the object is gone). Look closer.
			units, err := mirrorUnits(ctx, store)
			if err != nil {
				return nil, err
			}
			return &tail{units: units, got: map[uint64]*Event{}}, nil
		}
		for _, e := range evs {
			t.units = append(t.units, mirrorUnit{key: storage.JournalKey(e.Seq), first: e.Seq, last: e.Seq})
			t.got[e.Seq] = e
		}
		if len(evs) < tailProbeWindow {
			return t, nil
		}
		next += tailProbeWindow
	}
}

// probeSingles reads journal/<from>.json … journal/<from+n-1>.json in
// parallel and returns the events up to the first missing one.
func probeSingles(ctx context.Context, store storage.BlobStore, from uint64, n int) ([]*Event, error) {
	evs := make([]*Event, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			seq := from + uint64(i)
			got, err := readUnit(ctx, store, mirrorUnit{key: storage.JournalKey(seq), first: seq, last: seq})
			if err == nil {
				evs[i] = got[0]
			}
			errs[i] = err
		})
	}
	wg.Wait()
	for i := range n {
		if errors.Is(errs[i], storage.ErrNotFound) {
			return evs[:i], nil
		}
		if errs[i] != nil {
			return nil, errs[i]
		}
	}
	return evs, nil
}

// read returns a unit's events (a probed single event without reading it
// again).
func (t *tail) read(ctx context.Context, store storage.BlobStore, u mirrorUnit) ([]*Event, error) {
	if u.first == u.last {
		if e, ok := t.got[u.first]; ok {
			return []*Event{e}, nil
		}
	}
	return readUnit(ctx, store, u)
}

// event reads the event seq from the tail's units (nil when none holds it).
func (t *tail) event(ctx context.Context, store storage.BlobStore, seq uint64) (*Event, error) {
	for _, u := range t.units {
		if u.first <= seq && seq <= u.last {
			evs, err := t.read(ctx, store, u)
			if err != nil {
				return nil, err
			}
			return evs[seq-u.first], nil
		}
	}
	return nil, nil
}

// BucketEvent reads event seq from the bucket: its own object, or else the
// segment that holds it. storage.ErrNotFound when the bucket has neither.
func BucketEvent(ctx context.Context, store storage.BlobStore, seq uint64) (*Event, error) {
	evs, err := readUnit(ctx, store, mirrorUnit{key: storage.JournalKey(seq), first: seq, last: seq})
	if err == nil {
		return evs[0], nil
	}
	if !errors.Is(err, storage.ErrNotFound) {
		return nil, err
	}
	var found *mirrorUnit
	err = store.List(ctx, storage.JournalSegmentPrefix, func(i storage.Info) error {
		var first, last uint64
		if _, err := fmt.Sscanf(strings.TrimPrefix(i.Key, storage.JournalSegmentPrefix), "%d-%d.jsonl", &first, &last); err == nil &&
			storage.JournalSegmentKey(first, last) == i.Key && first <= seq && seq <= last {
			found = &mirrorUnit{i.Key, first, last}
			return errStopList
		}
		return nil
	})
	if err != nil && !errors.Is(err, errStopList) {
		return nil, err
	}
	if found == nil {
		return nil, fmt.Errorf("journal event %d: %w", seq, storage.ErrNotFound)
	}
	evs, err = readUnit(ctx, store, *found)
	if err != nil {
		return nil, err
	}
	return evs[seq-found.first], nil
}

// unitRead is one unit's events, read ahead.
type unitRead struct {
	evs []*Event
	err error
}

// readAhead reads the units ending after seq in order, a couple ahead of
// the consumer, so the replay of one overlaps the download and decoding
// of the next. Cancel ctx to stop it early.
func (t *tail) readAhead(ctx context.Context, store storage.BlobStore, after uint64) <-chan unitRead {
	out := make(chan unitRead, 2)
	go func() {
		defer close(out)
		for _, u := range t.units {
			if u.last <= after {
				continue
			}
			evs, err := t.read(ctx, store, u)
			select {
			case out <- unitRead{evs, err}:
			case <-ctx.Done():
				return
			}
			if err != nil {
				return
			}
		}
	}()
	return out
}
