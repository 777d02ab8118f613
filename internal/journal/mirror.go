package journal

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/reliquary/reliquary/storage"
)

// Source is the index as the journal workers read it.
type Source interface {
	EventsAfter(after uint64, limit int) ([]*Event, error)
	Head() (uint64, string, error)
}

// MirrorState keeps the mirror's durable cursors.
type MirrorState interface {
	MirrorCursor() (uint64, error)
	SetMirrorCursor(seq uint64) error
	SegmentCursor() (uint64, error)
	SetSegmentCursor(seq uint64) error
}

// SegmentSize is how many events one journal segment holds.
const SegmentSize = 1000

// Mirror copies every event, in order, to journal/<20-digit seq>.json in
// the blob store, so the index can be rebuilt from the bucket alone. Its
// cursor is durable: after a crash it resumes where it stopped, and an
// object already written (a crash between the write and the cursor) is
// checked, not rewritten.
type Mirror struct {
	Source   Source
	State    MirrorState
	Store    storage.BlobStore
	Notifier *Notifier
	Log      *slog.Logger
	// Interval is the longest pause between passes (default 1s).
	Interval time.Duration
	// Checkpoint, when set, is called after each pass with the number of
	// events now mirrored: the signed log writes its checkpoint of that
	// size next to them (DESIGN §12).
	Checkpoint func(ctx context.Context, size uint64) error
}

// Lag is how many events are not mirrored yet.
func (m *Mirror) Lag() float64 {
	head, _, err1 := m.Source.Head()
	cur, err2 := m.State.MirrorCursor()
	if err1 != nil || err2 != nil || cur > head {
		return 0
	}
	return float64(head - cur)
}

// Run mirrors until ctx ends.
func (m *Mirror) Run(ctx context.Context) {
	interval := m.Interval
	if interval == 0 {
		interval = time.Second
	}
	backoff := interval
	for {
		wake := m.Notifier.Wait()
		n, err := m.Pass(ctx)
		switch {
		case ctx.Err() != nil:
			return
		case err != nil:
			m.Log.Warn("journal mirror pass failed; retrying", "err", err, "retry_in", backoff)
			backoff = min(backoff*2, time.Minute)
		default:
			backoff = interval
			if n > 0 {
				continue // there may be more
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-wake:
		case <-time.After(backoff):
		}
	}
}

// Pass mirrors what is pending, in batches, and returns how many events it
// copied.
func (m *Mirror) Pass(ctx context.Context) (int, error) {
	cur, err := m.State.MirrorCursor()
	if err != nil {
		return 0, err
	}
	evs, err := m.Source.EventsAfter(cur, 500)
	if err != nil {
		return 0, err
	}
	if len(evs) == 0 {
		if m.Checkpoint != nil && cur > 0 { // a checkpoint that failed after its events were mirrored
			return 0, m.Checkpoint(ctx, cur)
		}
		return 0, nil
	}
	for _, e := range evs {
		if err := m.put(ctx, e); err != nil {
			return 0, err
		}
	}
	if err := m.State.SetMirrorCursor(evs[len(evs)-1].Seq); err != nil {
		return 0, err
	}
	if m.Checkpoint != nil {
		if err := m.Checkpoint(ctx, evs[len(evs)-1].Seq); err != nil {
			return 0, err
		}
	}
	return len(evs), m.segments(ctx, evs[len(evs)-1].Seq)
}

// segments writes every complete run of SegmentSize mirrored events not
// yet in a segment: journal/segments/<first>-<last>.jsonl, one event a
// line, each line the bytes of the event's own object.
func (m *Mirror) segments(ctx context.Context, mirrored uint64) error {
	done, err := m.State.SegmentCursor()
	if err != nil {
		return err
	}
	for done+SegmentSize <= mirrored {
		evs, err := m.Source.EventsAfter(done, SegmentSize)
		if err != nil {
			return err
		}
		if len(evs) != SegmentSize || evs[0].Seq != done+1 {
			return fmt.Errorf("mirror: journal has a gap after seq %d", done)
		}
		var body bytes.Buffer
		for _, e := range evs {
			line, err := json.Marshal(e)
			if err != nil {
				return err
			}
			body.Write(line)
			body.WriteByte('\n')
		}
		if err := m.putOnce(ctx, storage.JournalSegmentKey(done+1, done+SegmentSize), body.Bytes(), "application/x-ndjson"); err != nil {
			return err
		}
		done += SegmentSize
		if err := m.State.SetSegmentCursor(done); err != nil {
			return err
		}
	}
	return nil
}

func (m *Mirror) put(ctx context.Context, e *Event) error {
	body, err := json.Marshal(e)
	if err != nil {
		return err
	}
	return m.putOnce(ctx, storage.JournalKey(e.Seq), body, "application/json")
}

// putOnce writes an object create-only; one already there (a crash between
// the write and the cursor) must hold the same bytes.
func (m *Mirror) putOnce(ctx context.Context, key string, body []byte, contentType string) error {
	_, err := m.Store.Put(ctx, key, bytes.NewReader(body), int64(len(body)), storage.PutOptions{ContentType: contentType})
	if !errors.Is(err, storage.ErrExists) {
		return err
	}
	rc, _, err := m.Store.Get(ctx, key, 0, -1)
	if err != nil {
		return err
	}
	defer rc.Close()
	have, err := io.ReadAll(io.LimitReader(rc, int64(len(body))+1))
	if err != nil {
		return err
	}
	if !bytes.Equal(have, body) {
		return fmt.Errorf("mirror: %s exists with other content: the bucket holds another journal", key)
	}
	return nil
}

// mirrorUnit is one object to read: a segment or a single event.
type mirrorUnit struct {
	key         string
	first, last uint64
}

// mirrorUnits lists what to read, in order: the segments that run
// contiguously from seq 1, then the single-event objects after them.
func mirrorUnits(ctx context.Context, store storage.BlobStore) ([]mirrorUnit, error) {
	var segs, singles []mirrorUnit
	err := store.List(ctx, storage.JournalPrefix, func(i storage.Info) error {
		var first, last uint64
		switch {
		case strings.HasPrefix(i.Key, storage.JournalSegmentPrefix):
			if _, err := fmt.Sscanf(strings.TrimPrefix(i.Key, storage.JournalSegmentPrefix), "%d-%d.jsonl", &first, &last); err == nil &&
				storage.JournalSegmentKey(first, last) == i.Key && first <= last {
				segs = append(segs, mirrorUnit{i.Key, first, last})
			}
		default:
			if _, err := fmt.Sscanf(strings.TrimPrefix(i.Key, storage.JournalPrefix), "%d.json", &first); err == nil && storage.JournalKey(first) == i.Key {
				singles = append(singles, mirrorUnit{i.Key, first, first})
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	slices.SortFunc(segs, func(a, b mirrorUnit) int { return cmp.Compare(a.first, b.first) })
	slices.SortFunc(singles, func(a, b mirrorUnit) int { return cmp.Compare(a.first, b.first) })
	var units []mirrorUnit
	var covered uint64
	for _, sg := range segs {
		if sg.first != covered+1 {
			break
		}
		units = append(units, sg)
		covered = sg.last
	}
	for _, e := range singles {
		if e.first > covered {
			units = append(units, e)
		}
	}
	return units, nil
}

// ReadMirror returns an iterator over the mirrored events in order. The
// keys are listed first (small); segments cover what they can, single
// event objects the rest; objects are fetched several ahead in parallel.
func ReadMirror(ctx context.Context, store storage.BlobStore) (next func() (*Event, error), err error) {
	units, err := mirrorUnits(ctx, store)
	if err != nil {
		return nil, err
	}
	const ahead = 32
	type result struct {
		evs []*Event
		err error
	}
	slots := make(chan chan result, ahead)
	go func() {
		defer close(slots)
		sem := make(chan struct{}, 16)
		for _, u := range units {
			ch := make(chan result, 1)
			select {
			case slots <- ch:
			case <-ctx.Done():
				return
			}
			sem <- struct{}{}
			go func(u mirrorUnit) {
				defer func() { <-sem }()
				evs, err := readUnit(ctx, store, u)
				ch <- result{evs: evs, err: err}
			}(u)
		}
	}()
	var pending []*Event
	return func() (*Event, error) {
		for len(pending) == 0 {
			ch, ok := <-slots
			if !ok {
				if err := ctx.Err(); err != nil {
					return nil, err
				}
				return nil, io.EOF
			}
			r := <-ch
			if r.err != nil {
				return nil, r.err
			}
			pending = r.evs
		}
		e := pending[0]
		pending = pending[1:]
		return e, nil
	}, nil
}

// readUnit fetches one object and checks it holds exactly its events.
func readUnit(ctx context.Context, store storage.BlobStore, u mirrorUnit) ([]*Event, error) {
	rc, _, err := store.Get(ctx, u.key, 0, -1)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	raw, err := io.ReadAll(io.LimitReader(rc, 1<<30))
	if err != nil {
		return nil, err
	}
	var evs []*Event
	for line := range bytes.SplitSeq(bytes.TrimRight(raw, "\n"), []byte("\n")) {
		e, err := Decode(line)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", u.key, err)
		}
		if want := u.first + uint64(len(evs)); e.Seq != want {
			return nil, fmt.Errorf("%s holds event %d where %d belongs", u.key, e.Seq, want)
		}
		evs = append(evs, e)
	}
	if uint64(len(evs)) != u.last-u.first+1 {
		return nil, fmt.Errorf("%s holds %d events, not %d", u.key, len(evs), u.last-u.first+1)
	}
	return evs, nil
}
