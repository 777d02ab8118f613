package journal

import (
	"bufio"
	"bytes"
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strings"
	"sync/atomic"
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

// Mirror follows the journal after its commit. Every event is already in
// the bucket when it reaches the index (journal/<20-digit seq>.json is the
// commit point, DESIGN §9); the mirror writes what is derived from them:
// the segments (runs of SegmentSize events, so a rebuild reads a few large
// objects) and the signed log's checkpoints. Both are create-only and the
// same on every node of a cluster: another node's identical segment is
// fine, and the first checkpoint written for a size wins. Its cursor is
// durable: after a crash it resumes where it stopped.
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

	foreign atomic.Pointer[ForeignJournalError]
}

// Err is the foreign journal the mirror ran into, if any: the bucket's
// object for a seq holds another event. Readiness fails on it.
func (m *Mirror) Err() error {
	if e := m.foreign.Load(); e != nil {
		return e
	}
	return nil
}

// Lag is how many committed events the mirror has not passed over yet
// (their checkpoint and segment are pending).
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
			var fe *ForeignJournalError
			if errors.As(err, &fe) {
				m.foreign.Store(fe)
			}
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
	evs, err := m.Source.EventsAfter(cur, 100)
	if err != nil {
		return 0, err
	}
	if len(evs) == 0 {
		if m.Checkpoint != nil && cur > 0 { // a checkpoint that failed after its events were mirrored
			if err := m.Checkpoint(ctx, cur); err != nil {
				return 0, err
			}
		}
		// Events applied from another node's commits: their segment may be
		// this node's to write (another node's identical one is fine).
		return 0, m.segments(ctx, cur)
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
		// Two passes over the index, a few events at a time: the first
		// sizes and hashes the segment, the second streams it to the store.
		// A segment is never held whole in memory.
		size, sum, err := m.segmentDigest(done+1, done+SegmentSize)
		if err != nil {
			return err
		}
		key := storage.JournalSegmentKey(done+1, done+SegmentSize)
		_, err = m.Store.Put(ctx, key, &segmentReader{src: m.Source, next: done + 1, last: done + SegmentSize}, size,
			storage.PutOptions{ContentType: "application/x-ndjson"})
		if errors.Is(err, storage.ErrExists) {
			err = m.sameObject(ctx, key, size, sum)
		}
		if err != nil {
			return err
		}
		done += SegmentSize
		if err := m.State.SetSegmentCursor(done); err != nil {
			return err
		}
	}
	return nil
}

// segmentBatch is how many events a segment reader fetches at once.
const segmentBatch = 32

// segmentReader streams the lines of a segment (events first..last, one
// JSON object a line) from the index, segmentBatch events at a time.
type segmentReader struct {
	src        Source
	next, last uint64
	buf        []byte
}

func (r *segmentReader) Read(p []byte) (int, error) {
	for len(r.buf) == 0 {
		if r.next > r.last {
			return 0, io.EOF
		}
		evs, err := r.src.EventsAfter(r.next-1, int(min(segmentBatch, r.last-r.next+1)))
		if err != nil {
			return 0, err
		}
		if len(evs) == 0 {
			return 0, fmt.Errorf("mirror: journal has a gap after seq %d", r.next-1)
		}
		for _, e := range evs {
			if e.Seq != r.next {
				return 0, fmt.Errorf("mirror: journal has a gap after seq %d", r.next-1)
			}
			line, err := json.Marshal(e)
			if err != nil {
				return 0, err
			}
			r.buf = append(append(r.buf, line...), '\n')
			r.next++
		}
	}
	n := copy(p, r.buf)
	r.buf = r.buf[n:]
	return n, nil
}

// segmentDigest is the size and SHA-256 of a segment's bytes.
func (m *Mirror) segmentDigest(first, last uint64) (int64, []byte, error) {
	h := sha256.New()
	n, err := io.Copy(h, &segmentReader{src: m.Source, next: first, last: last})
	return n, h.Sum(nil), err
}

// sameObject checks that an object already in the store (a crash between
// the write and the cursor) has the expected size and digest.
func (m *Mirror) sameObject(ctx context.Context, key string, size int64, sum []byte) error {
	rc, _, err := m.Store.Get(ctx, key, 0, -1)
	if err != nil {
		return err
	}
	defer rc.Close()
	h := sha256.New()
	n, err := io.Copy(h, io.LimitReader(rc, size+1))
	if err != nil {
		return err
	}
	if n != size || !bytes.Equal(h.Sum(nil), sum) {
		return fmt.Errorf("mirror: %s exists with other content: the bucket holds another journal", key)
	}
	return nil
}

// mirrorUnit is one object to read: a segment or a single event.
type mirrorUnit struct {
	key         string
	first, last uint64
	// group: a commit object (journal/<first>.json), holding first and
	// maybe the events after it (a group commit, EncodeObject); last is
	// first until it is read.
	group bool
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
				segs = append(segs, mirrorUnit{key: i.Key, first: first, last: last})
			}
		default:
			if _, err := fmt.Sscanf(strings.TrimPrefix(i.Key, storage.JournalPrefix), "%d.json", &first); err == nil && storage.JournalKey(first) == i.Key {
				singles = append(singles, mirrorUnit{key: i.Key, first: first, last: first, group: true})
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
	for i, e := range singles {
		// A commit object that starts inside the segments may hold a
		// group that runs past them: keep the last such one.
		if e.first > covered || (i+1 < len(singles) && singles[i+1].first > covered) || (i+1 == len(singles) && covered > 0) {
			units = append(units, e)
		}
	}
	return units, nil
}

// ReadMirror returns an iterator over the mirrored events in order. The
// keys are listed first (small); segments cover what they can, single
// event objects the rest. A segment is streamed line by line as it is
// consumed, one at a time, never read whole; single event objects (small)
// are fetched a few ahead in parallel. Memory stays bounded by a few
// events, whatever the size of a segment.
func ReadMirror(ctx context.Context, store storage.BlobStore) (next func() (*Event, error), err error) {
	units, err := mirrorUnits(ctx, store)
	if err != nil {
		return nil, err
	}
	const ahead = 16
	type result struct {
		unit mirrorUnit
		evs  []*Event // a single event, fetched ahead
		err  error
	}
	ctx, cancel := context.WithCancel(ctx)
	slots := make(chan chan result, ahead)
	go func() {
		defer close(slots)
		sem := make(chan struct{}, 8)
		for _, u := range units {
			ch := make(chan result, 1)
			select {
			case slots <- ch:
			case <-ctx.Done():
				return
			}
			if u.first != u.last || strings.HasPrefix(u.key, storage.JournalSegmentPrefix) {
				ch <- result{unit: u} // the consumer streams it
				continue
			}
			sem <- struct{}{}
			go func(u mirrorUnit) {
				defer func() { <-sem }()
				evs, err := readUnit(ctx, store, u)
				ch <- result{unit: u, evs: evs, err: err}
			}(u)
		}
	}()
	var pending []*Event
	var seg *segmentStream
	var last uint64 // the commit object kept after the segments may repeat their end
	return func() (*Event, error) {
		for {
			for len(pending) > 0 && pending[0].Seq <= last {
				pending = pending[1:]
			}
			if seg != nil {
				e, err := seg.next()
				if err == nil {
					last = e.Seq
					return e, nil
				}
				seg.close()
				seg = nil
				if !errors.Is(err, io.EOF) {
					cancel()
					return nil, err
				}
			}
			if len(pending) > 0 {
				e := pending[0]
				pending = pending[1:]
				last = e.Seq
				return e, nil
			}
			ch, ok := <-slots
			if !ok {
				cancel()
				if err := ctx.Err(); err != nil && !errors.Is(err, context.Canceled) {
					return nil, err
				}
				return nil, io.EOF
			}
			r := <-ch
			switch {
			case r.err != nil:
				cancel()
				return nil, r.err
			case r.evs != nil:
				pending = r.evs
			default:
				s, err := openSegment(ctx, store, r.unit)
				if err != nil {
					cancel()
					return nil, err
				}
				seg = s
			}
		}
	}, nil
}

// segmentStream reads one segment's events line by line.
type segmentStream struct {
	u   mirrorUnit
	rc  io.ReadCloser
	br  *bufio.Reader
	got uint64
}

func openSegment(ctx context.Context, store storage.BlobStore, u mirrorUnit) (*segmentStream, error) {
	rc, _, err := store.Get(ctx, u.key, 0, -1)
	if err != nil {
		return nil, err
	}
	return &segmentStream{u: u, rc: rc, br: bufio.NewReaderSize(rc, 64<<10)}, nil
}

func (s *segmentStream) close() { s.rc.Close() }

// next is the segment's next event; io.EOF after the last, once the
// segment is checked to hold exactly its events.
func (s *segmentStream) next() (*Event, error) {
	line, err := s.br.ReadBytes('\n')
	if errors.Is(err, io.EOF) && len(line) == 0 {
		if s.u.group && s.got > 0 {
			return nil, io.EOF
		}
		if s.got != s.u.last-s.u.first+1 {
			return nil, fmt.Errorf("%s holds %d events, not %d", s.u.key, s.got, s.u.last-s.u.first+1)
		}
		return nil, io.EOF
	}
	if err != nil && !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("%s: %w", s.u.key, err)
	}
	e, err := Decode(bytes.TrimRight(line, "\n"))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", s.u.key, err)
	}
	if want := s.u.first + s.got; e.Seq != want || (!s.u.group && s.got > s.u.last-s.u.first) || s.got >= maxGroup {
		return nil, fmt.Errorf("%s holds event %d where %d belongs", s.u.key, e.Seq, want)
	}
	s.got++
	return e, nil
}

// readUnit fetches one commit object (or segment) and checks it holds its
// events.
func readUnit(ctx context.Context, store storage.BlobStore, u mirrorUnit) ([]*Event, error) {
	s, err := openSegment(ctx, store, u)
	if err != nil {
		return nil, err
	}
	defer s.close()
	var evs []*Event
	for {
		e, err := s.next()
		if errors.Is(err, io.EOF) {
			return evs, nil
		}
		if err != nil {
			return nil, err
		}
		evs = append(evs, e)
	}
}
