package journal_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/reliquary/reliquary/internal/journal"
	"github.com/reliquary/reliquary/storage"
	"github.com/reliquary/reliquary/storage/fs"
)

// memJournal is a journal and mirror state in memory.
type memJournal struct {
	events         []*journal.Event
	mirrored, segs uint64
}

func (m *memJournal) EventsAfter(after uint64, limit int) ([]*journal.Event, error) {
	if after >= uint64(len(m.events)) {
		return nil, nil
	}
	out := m.events[after:]
	if limit > 0 && len(out) > limit {
		out = out[:limit]
	}
	return out, nil
}
func (m *memJournal) Head() (uint64, string, error)   { return uint64(len(m.events)), "", nil }
func (m *memJournal) MirrorCursor() (uint64, error)   { return m.mirrored, nil }
func (m *memJournal) SetMirrorCursor(s uint64) error  { m.mirrored = s; return nil }
func (m *memJournal) SegmentCursor() (uint64, error)  { return m.segs, nil }
func (m *memJournal) SetSegmentCursor(s uint64) error { m.segs = s; return nil }

func (m *memJournal) append(t *testing.T, n int) {
	for range n {
		prev := journal.ZeroHash
		if len(m.events) > 0 {
			prev = m.events[len(m.events)-1].Hash
		}
		e := &journal.Event{Time: time.Now(), Actor: "t", Type: "test.event", Subject: fmt.Sprint(len(m.events)),
			Data: json.RawMessage(`{"n":1}`)}
		if err := e.Seal(uint64(len(m.events)), prev); err != nil {
			t.Fatal(err)
		}
		m.events = append(m.events, e)
	}
}

// commit writes the events after seq from as their commit objects, as the
// commit path does before the index applies them (DESIGN §9).
func (m *memJournal) commit(t *testing.T, store storage.BlobStore, from int) {
	for _, e := range m.events[from:] {
		body, err := journal.EncodeObject([]*journal.Event{e})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := store.Put(context.Background(), storage.JournalKey(e.Seq), bytes.NewReader(body), int64(len(body)), storage.PutOptions{}); err != nil {
			t.Fatal(err)
		}
	}
}

// Every event has its commit object; the mirror writes a segment per
// 1,000; reading it back uses the segments and the singles after them, in
// order.
func TestMirrorSegments(t *testing.T) {
	store, err := fs.New(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	ctx := context.Background()
	j := &memJournal{}
	m := &journal.Mirror{Source: j, State: j, Store: store, Notifier: journal.NewNotifier(), Log: slog.Default()}
	mirror := func() {
		for {
			n, err := m.Pass(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if n == 0 {
				return
			}
		}
	}
	j.append(t, 1500)
	j.commit(t, store, 0)
	mirror()
	j.append(t, 1000)
	j.commit(t, store, 1500)
	mirror()
	if j.mirrored != 2500 || j.segs != 2000 {
		t.Fatalf("cursors: mirrored %d, segments %d", j.mirrored, j.segs)
	}
	for _, k := range []string{storage.JournalSegmentKey(1, 1000), storage.JournalSegmentKey(1001, 2000), storage.JournalKey(2500)} {
		if _, err := store.Stat(ctx, k); err != nil {
			t.Errorf("%s: %v", k, err)
		}
	}
	// A crash between a segment's write and its cursor: the rewrite finds
	// the same bytes and goes on.
	j.segs = 1000
	if _, err := m.Pass(ctx); err != nil {
		t.Fatal(err)
	}
	j.append(t, 1)
	j.commit(t, store, 2500)
	mirror()
	if j.segs != 2000 {
		t.Fatalf("segment cursor after a replayed segment: %d", j.segs)
	}

	next, err := journal.ReadMirror(ctx, store)
	if err != nil {
		t.Fatal(err)
	}
	rep, err := journal.VerifyStream(ctx, next)
	if err != nil || !rep.OK || rep.HeadSeq != 2501 {
		t.Fatalf("read back: %+v %v", rep, err)
	}
	// A segment missing its start is not used: the singles still cover it.
	if err := store.Delete(ctx, storage.JournalSegmentKey(1, 1000)); err != nil {
		t.Fatal(err)
	}
	next, _ = journal.ReadMirror(ctx, store)
	n := 0
	for {
		_, err := next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		n++
	}
	if n != 2501 {
		t.Errorf("without the first segment: %d events", n)
	}
}
