package journal_test

import (
	"bytes"
	"encoding/json"
	"testing"
	"time"

	"github.com/reliquary/reliquary/internal/journal"
)

// FuzzDecodeObject: a journal object read from the bucket (another node's
// commit, or anything written there) is parsed without panicking; what it
// accepts is one or more consecutive events starting at the seq, and
// encodes back to the same bytes.
func FuzzDecodeObject(f *testing.F) {
	e1 := &journal.Event{Time: time.Unix(1, 0), Actor: "a", Type: "t", Subject: "s", Data: json.RawMessage(`{"x":1}`)}
	if err := e1.Seal(0, journal.ZeroHash); err != nil {
		f.Fatal(err)
	}
	e2 := &journal.Event{Time: time.Unix(2, 0), Actor: "a", Type: "t", Subject: "s"}
	if err := e2.Seal(1, e1.Hash); err != nil {
		f.Fatal(err)
	}
	one, _ := journal.EncodeObject([]*journal.Event{e1})
	two, _ := journal.EncodeObject([]*journal.Event{e1, e2})
	f.Add(uint64(1), one)
	f.Add(uint64(1), two)
	f.Add(uint64(2), one)
	f.Add(uint64(1), []byte("{}\n\n"))
	f.Add(uint64(1), []byte(`{"seq":1,"unknown":true}`))
	f.Fuzz(func(t *testing.T, seq uint64, b []byte) {
		evs, err := journal.DecodeObject(seq, b)
		if err != nil {
			return
		}
		if len(evs) == 0 {
			t.Fatal("accepted an object without events")
		}
		for i, e := range evs {
			if e.Seq != seq+uint64(i) {
				t.Fatalf("event %d has seq %d in the object of %d", i, e.Seq, seq)
			}
		}
		again, err := journal.EncodeObject(evs)
		if err != nil {
			t.Fatalf("re-encode: %v", err)
		}
		back, err := journal.DecodeObject(seq, again)
		if err != nil || len(back) != len(evs) {
			t.Fatalf("re-decode: %d events, %v", len(back), err)
		}
		if !bytes.Equal(again, mustEncode(t, back)) {
			t.Fatal("encoding is not stable")
		}
	})
}

func mustEncode(t *testing.T, evs []*journal.Event) []byte {
	b, err := journal.EncodeObject(evs)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestEncodeObjectSingleIsTheEventJSON: a transaction with one event
// commits exactly the event's JSON (what the mirror always wrote), so
// older readers and tools keep working.
func TestEncodeObjectSingleIsTheEventJSON(t *testing.T) {
	e := &journal.Event{Time: time.Unix(1, 0), Actor: "a", Type: "t", Subject: "s"}
	if err := e.Seal(0, journal.ZeroHash); err != nil {
		t.Fatal(err)
	}
	want, _ := json.Marshal(e)
	if got := mustEncode(t, []*journal.Event{e}); !bytes.Equal(got, want) {
		t.Fatalf("single-event object %s, want %s", got, want)
	}
	e2 := &journal.Event{Time: time.Unix(2, 0), Actor: "a", Type: "t", Subject: "s"}
	if err := e2.Seal(5, e.Hash); err != nil {
		t.Fatal(err)
	}
	if _, err := journal.EncodeObject([]*journal.Event{e, e2}); err == nil {
		t.Fatal("an object of events that do not follow each other was encoded")
	}
}
