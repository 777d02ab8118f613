package journal

import (
	"bytes"
	"encoding/json"
	"fmt"
)

// EncodeObject is the content of the journal object that commits evs
// (journal/<seq of evs[0]>.json, DESIGN §9). A transaction that records one
// event (nearly all) is that event's JSON, byte for byte what the mirror
// always wrote. A transaction that records several (group commit: a
// promotion that also supersedes the previous current release) is one
// object holding all of them, one JSON event a line, so the transaction is
// committed whole or not at all. No object is ever written at the keys of
// a group's later events: the next transaction's object follows the last.
func EncodeObject(evs []*Event) ([]byte, error) {
	var buf bytes.Buffer
	for i, e := range evs {
		if i > 0 {
			if e.Seq != evs[i-1].Seq+1 {
				return nil, fmt.Errorf("journal object: event %d does not follow %d", e.Seq, evs[i-1].Seq)
			}
			buf.WriteByte('\n')
		}
		raw, err := json.Marshal(e)
		if err != nil {
			return nil, err
		}
		buf.Write(raw)
	}
	if buf.Len() == 0 {
		return nil, fmt.Errorf("journal object: no event")
	}
	return buf.Bytes(), nil
}

// DecodeObject parses a journal object written by EncodeObject for seq:
// one or more consecutive events, the first of them seq.
func DecodeObject(seq uint64, b []byte) ([]*Event, error) {
	var evs []*Event
	for line := range bytes.SplitSeq(b, []byte("\n")) {
		if len(evs) >= maxGroup {
			return nil, fmt.Errorf("journal object %d holds more than %d events", seq, maxGroup)
		}
		e, err := Decode(line)
		if err != nil {
			return nil, fmt.Errorf("journal object %d: %w", seq, err)
		}
		if want := seq + uint64(len(evs)); e.Seq != want {
			return nil, fmt.Errorf("journal object %d holds event %d where %d belongs", seq, e.Seq, want)
		}
		evs = append(evs, e)
	}
	return evs, nil
}

// maxGroup bounds the events of one journal object read from the bucket.
const maxGroup = 10000
