package journal

import (
	"bytes"
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/reliquary/reliquary/storage"
	"github.com/reliquary/reliquary/storage/fs"
)

// memAppender is an index as CatchUp feeds it: a slice of events.
type memAppender struct{ evs []*Event }

func (m *memAppender) Head() (uint64, string, error) {
	if len(m.evs) == 0 {
		return 0, "", nil
	}
	e := m.evs[len(m.evs)-1]
	return e.Seq, e.Hash, nil
}

func (m *memAppender) EventsAfter(after uint64, limit int) ([]*Event, error) {
	if after >= uint64(len(m.evs)) {
		return nil, nil
	}
	return m.evs[after:min(uint64(len(m.evs)), after+uint64(limit))], nil
}

func (m *memAppender) AppendJournal(evs []*Event) error {
	head, hash, _ := m.Head()
	v := VerifierAt(head, hash)
	for _, e := range evs {
		if err := v.Add(e); err != nil {
			return err
		}
	}
	m.evs = append(m.evs, evs...)
	return nil
}

// testChain is a journal of n sealed events, seq 1 to n.
func testChain(t *testing.T, n uint64) []*Event {
	t.Helper()
	var all []*Event
	prev := ZeroHash
	for seq := uint64(1); seq <= n; seq++ {
		e := &Event{Time: time.Unix(1700000000, 0), Actor: "t", Type: "test", Subject: "s"}
		if err := e.Seal(seq-1, prev); err != nil {
			t.Fatal(err)
		}
		prev = e.Hash
		all = append(all, e)
	}
	return all
}

// putEvents stores evs under key as the mirror and the commit path do:
// one JSON event per line (a whole segment ends with a newline).
func putEvents(t *testing.T, store storage.BlobStore, key string, evs []*Event) {
	t.Helper()
	var buf bytes.Buffer
	for i, e := range evs {
		raw, _ := json.Marshal(e)
		if i > 0 {
			buf.WriteString("\n")
		}
		buf.Write(raw)
	}
	if len(evs) == SegmentSize {
		buf.WriteString("\n")
	}
	if _, err := store.Put(t.Context(), key, bytes.NewReader(buf.Bytes()), int64(buf.Len()), storage.PutOptions{}); err != nil {
		t.Fatal(err)
	}
}

// TestTailReadsGroupCommitObjects: a bucket with one segment (1–1000),
// then commit objects of one event and groups of several (DESIGN §9),
// crossing the probe's window: catch-up from seq 0, from a head inside a
// segment and from a head inside a group replays exactly the events after
// the head, in order, with no listing of journal/; BucketEvent finds an
// event in a segment, in a single object and inside a group.
func TestTailReadsGroupCommitObjects(t *testing.T) {
	store, err := fs.New(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	ctx := t.Context()
	all := testChain(t, 1075)
	putEvents(t, store, storage.JournalSegmentKey(1, 1000), all[:1000])
	// Commit objects after the segment: groups at 1002 (3 events), 1040
	// (2, across the 32-key window from 1001) and 1070 (6, the last).
	for seq := uint64(1001); seq <= 1075; {
		n := uint64(1)
		switch seq {
		case 1002:
			n = 3
		case 1040:
			n = 2
		case 1070:
			n = 6
		}
		putEvents(t, store, storage.JournalKey(seq), all[seq-1:seq-1+n])
		seq += n
	}
	for _, head := range []uint64{0, 500, 1000, 1003, 1041, 1075} {
		ix := &memAppender{evs: append([]*Event(nil), all[:head]...)}
		n, err := CatchUp(ctx, store, ix)
		if err != nil || n != int(1075-head) {
			t.Fatalf("catch up from %d: %d events, %v; want %d", head, n, err, 1075-head)
		}
		if h, hash, _ := ix.Head(); h != 1075 || hash != all[1074].Hash {
			t.Fatalf("catch up from %d: head %d", head, h)
		}
	}
	for _, seq := range []uint64{7, 1000, 1001, 1002, 1004, 1041, 1075} {
		e, err := BucketEvent(ctx, store, seq)
		if err != nil || e.Seq != seq || e.Hash != all[seq-1].Hash {
			t.Fatalf("BucketEvent(%d) = %v, %v", seq, e, err)
		}
	}
	if _, err := BucketEvent(ctx, store, 1076); !errors.Is(err, storage.ErrNotFound) {
		t.Fatalf("BucketEvent past the end: %v", err)
	}
	// A journal object whose content is not its event is an error, not a
	// silent end of the journal.
	bad := []byte(`{"seq":9}`)
	if _, err := store.Put(ctx, storage.JournalKey(1076), bytes.NewReader(bad), int64(len(bad)), storage.PutOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := CatchUp(ctx, store, &memAppender{evs: append([]*Event(nil), all...)}); err == nil {
		t.Fatal("catch up over a bad object: no error")
	}
}

// TestTailGroupAcrossTheSegmentEnd: a group commit object that starts in
// the last segment and ends after it (journal/…999.json holds 999–1001,
// the segment 1–1000). Catch-up must replay through the group's end: a
// node left at head 1000 would find no journal/…1001.json (that seq lives
// inside the group) and its next commit would create one — a second
// event 1001 in the bucket, a fork (seen once in the cluster bench).
func TestTailGroupAcrossTheSegmentEnd(t *testing.T) {
	store, err := fs.New(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	ctx := t.Context()
	all := testChain(t, 1010)
	putEvents(t, store, storage.JournalSegmentKey(1, 1000), all[:1000])
	for seq := uint64(1); seq <= 1010; {
		n := uint64(1)
		if seq == 999 {
			n = 3
		}
		putEvents(t, store, storage.JournalKey(seq), all[seq-1:seq-1+n])
		seq += n
	}
	for _, head := range []uint64{0, 998, 1001} {
		ix := &memAppender{evs: append([]*Event(nil), all[:head]...)}
		n, err := CatchUp(ctx, store, ix)
		if err != nil || n != int(1010-head) {
			t.Fatalf("catch up from %d: %d events, %v; want %d (through the group's end)", head, n, err, 1010-head)
		}
	}
}
