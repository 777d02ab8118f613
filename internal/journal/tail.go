package journal

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"sync"

	"github.com/reliquary/reliquary/storage"
)

// tail is what catch-up reads after an index head: the segments that run
// contiguously from seq 1, then the commit objects after them, found
// without listing journal/ (which holds an object per commit, plus the
// checkpoints: a listing of a long journal costs seconds). The commit
// objects are found by probing journal/<next>.json, a window at a time,
// until one is missing; the probes' bodies are kept for the replay. An
// object may hold several consecutive events (a group commit, DESIGN §9):
// the next object's key is then the seq after its last event.
type tail struct {
	units []mirrorUnit
	got   map[string][]*Event // commit objects already read by the probe, by key
}

// tailProbeWindow is how many journal/<seq>.json keys are fetched at once.
const tailProbeWindow = 32

// tailBackScan bounds the keys read backwards from a seq to find the
// commit object that holds it (a group commit starts before it).
const tailBackScan = 64

// maxObjectEvents bounds the events decoded from one commit object.
const maxObjectEvents = 10000

// readTail finds the units that hold the journal from head (inclusive, so
// the caller can compare its head event) onwards. When no object holds
// head beyond the segments (the bucket is behind the index, or lacks
// objects), it falls back to listing journal/.
func readTail(ctx context.Context, store storage.BlobStore, head uint64) (*tail, error) {
	segs, err := listSegments(ctx, store)
	if err != nil {
		return nil, err
	}
	t := &tail{got: map[string][]*Event{}}
	var covered uint64
	for _, sg := range segs {
		if sg.first != covered+1 {
			break
		}
		t.units = append(t.units, sg)
		covered = sg.last
	}
	next := covered + 1
	if head <= covered && covered > 0 {
		// Segments hold a fixed number of events, commit objects whole
		// transactions: a group commit may start in the last segment and
		// end after it. Its later events have no key of their own, so
		// the probe must start after the group, or the journal would
		// seem to end at the segment (and this node's next commit would
		// create a second event at the next seq: a fork).
		first, evs, err := objectHolding(ctx, store, covered, 0)
		if err != nil {
			return nil, err
		}
		if end := first + uint64(len(evs)); evs != nil && end > next {
			t.add(first, evs)
			next = end
		}
	}
	if head > covered {
		first, evs, err := objectHolding(ctx, store, head, covered)
		if err != nil {
			return nil, err
		}
		if evs == nil {
			units, err := mirrorUnits(ctx, store)
			if err != nil {
				return nil, err
			}
			return &tail{units: units, got: map[string][]*Event{}}, nil
		}
		t.add(first, evs)
		next = first + uint64(len(evs))
	}
	for {
		found := probeObjects(ctx, store, next, tailProbeWindow)
		advanced := false
		for next < found.from+uint64(len(found.objs)) {
			// Only the keys the walk lands on matter: a key inside a
			// group was never written.
			if err := found.errs[next-found.from]; err != nil {
				return nil, err
			}
			evs := found.objs[next-found.from]
			if evs == nil {
				return t, nil // the journal ends before next
			}
			t.add(next, evs)
			next += uint64(len(evs))
			advanced = true
		}
		if !advanced {
			return t, nil
		}
	}
}

func (t *tail) add(first uint64, evs []*Event) {
	u := mirrorUnit{key: storage.JournalKey(first), first: first, last: first + uint64(len(evs)) - 1}
	t.units = append(t.units, u)
	t.got[u.key] = evs
}

// listSegments lists journal/segments/, in seq order.
func listSegments(ctx context.Context, store storage.BlobStore) ([]mirrorUnit, error) {
	var segs []mirrorUnit
	err := store.List(ctx, storage.JournalSegmentPrefix, func(i storage.Info) error {
		var first, last uint64
		if _, err := fmt.Sscanf(strings.TrimPrefix(i.Key, storage.JournalSegmentPrefix), "%d-%d.jsonl", &first, &last); err == nil &&
			storage.JournalSegmentKey(first, last) == i.Key && first <= last {
			segs = append(segs, mirrorUnit{key: i.Key, first: first, last: last})
		}
		return nil
	})
	slices.SortFunc(segs, func(a, b mirrorUnit) int { return cmp.Compare(a.first, b.first) })
	return segs, err
}

// readObject reads the commit object journal/<seq>.json: one or more
// consecutive events, the first of them seq. nil, nil when it is missing.
func readObject(ctx context.Context, store storage.BlobStore, seq uint64) ([]*Event, error) {
	key := storage.JournalKey(seq)
	rc, _, err := store.Get(ctx, key, 0, -1)
	if errors.Is(err, storage.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	raw, err := io.ReadAll(rc)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", key, err)
	}
	var evs []*Event
	for line := range bytes.SplitSeq(bytes.TrimRight(raw, "\n"), []byte("\n")) {
		if len(evs) >= maxObjectEvents {
			return nil, fmt.Errorf("%s holds more than %d events", key, maxObjectEvents)
		}
		e, err := Decode(line)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", key, err)
		}
		if want := seq + uint64(len(evs)); e.Seq != want {
			return nil, fmt.Errorf("%s holds event %d where %d belongs", key, e.Seq, want)
		}
		evs = append(evs, e)
	}
	return evs, nil
}

// objectHolding finds the commit object that holds seq, reading keys
// seq, seq-1, … (at most tailBackScan, never at or below floor): the
// first object found either holds seq or ends before it. nil when none
// does.
func objectHolding(ctx context.Context, store storage.BlobStore, seq, floor uint64) (uint64, []*Event, error) {
	for k := uint64(0); k < tailBackScan && seq-k > floor; k++ {
		evs, err := readObject(ctx, store, seq-k)
		if err != nil {
			return 0, nil, err
		}
		if evs == nil {
			continue
		}
		if uint64(len(evs)) > k {
			return seq - k, evs, nil
		}
		return 0, nil, nil
	}
	return 0, nil, nil
}

// probed is a window of journal/<seq>.json reads: objs[i] is the object
// at from+i (nil: missing), errs[i] the error reading it.
type probed struct {
	from uint64
	objs [][]*Event
	errs []error
}

// probeObjects reads journal/<from>.json … journal/<from+n-1>.json in
// parallel.
func probeObjects(ctx context.Context, store storage.BlobStore, from uint64, n int) probed {
	p := probed{from: from, objs: make([][]*Event, n), errs: make([]error, n)}
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { p.objs[i], p.errs[i] = readObject(ctx, store, from+uint64(i)) })
	}
	wg.Wait()
	return p
}

// read returns a unit's events (a probed commit object without reading it
// again).
func (t *tail) read(ctx context.Context, store storage.BlobStore, u mirrorUnit) ([]*Event, error) {
	if evs, ok := t.got[u.key]; ok {
		return evs, nil
	}
	if !strings.HasPrefix(u.key, storage.JournalSegmentPrefix) {
		evs, err := readObject(ctx, store, u.first)
		if err == nil && evs == nil {
			err = fmt.Errorf("%s: %w", u.key, storage.ErrNotFound)
		}
		return evs, err
	}
	return readUnit(ctx, store, u)
}

// event reads the event seq from the tail's units (nil when none holds it).
func (t *tail) event(ctx context.Context, store storage.BlobStore, seq uint64) (*Event, error) {
	for i := len(t.units) - 1; i >= 0; i-- {
		u := t.units[i]
		if u.first > seq {
			continue
		}
		evs, err := t.read(ctx, store, u)
		if err != nil {
			return nil, err
		}
		if k := seq - u.first; k < uint64(len(evs)) {
			return evs[k], nil
		}
		return nil, nil
	}
	return nil, nil
}

// BucketEvent reads event seq from the bucket: the commit object that holds
// it, or else the segment that does. storage.ErrNotFound when the bucket
// has neither.
func BucketEvent(ctx context.Context, store storage.BlobStore, seq uint64) (*Event, error) {
	first, evs, err := objectHolding(ctx, store, seq, 0)
	if err != nil {
		return nil, err
	}
	if evs != nil {
		return evs[seq-first], nil
	}
	segs, err := listSegments(ctx, store)
	if err != nil {
		return nil, err
	}
	for _, sg := range segs {
		if sg.first <= seq && seq <= sg.last {
			evs, err := readUnit(ctx, store, sg)
			if err != nil {
				return nil, err
			}
			return evs[seq-sg.first], nil
		}
	}
	return nil, fmt.Errorf("journal event %d: %w", seq, storage.ErrNotFound)
}

// unitRead is one unit's events, read ahead.
type unitRead struct {
	evs []*Event
	err error
}

// readAhead reads, in order, the units that may hold events after seq, a
// couple ahead of the consumer, so the replay of one overlaps the download
// and decoding of the next. Cancel ctx to stop it early.
func (t *tail) readAhead(ctx context.Context, store storage.BlobStore, after uint64) <-chan unitRead {
	out := make(chan unitRead, 2)
	go func() {
		defer close(out)
		for i, u := range t.units {
			// A listed commit object's end is known once the next unit
			// starts (it may hold a group).
			if u.last <= after && (strings.HasPrefix(u.key, storage.JournalSegmentPrefix) || t.got[u.key] != nil ||
				(i+1 < len(t.units) && t.units[i+1].first <= after+1)) {
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
