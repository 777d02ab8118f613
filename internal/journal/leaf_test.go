package journal

import (
	"bytes"
	"encoding/json"
	"testing"
	"time"

	"pgregory.net/rapid"

	"github.com/reliquary/reliquary/internal/signing"
)

// The leaf assembled field by field is exactly the canonical JSON of the
// whole event, whatever its strings, data and time zone.
func TestLeafIsTheCanonicalEvent(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		str := rapid.String()
		data := rapid.SampledFrom([]string{"", "null", "{}", `{"b":1,"a":"<&>\u2028"}`, `{"changes":[{"bucket":"x","value":{"z":[1,2,{"y":"\ud83d\ude00"}]}}]}`,
			"{\"k\":\"\\u0001\\\"\"}"}).Draw(t, "data")
		loc := rapid.SampledFrom([]*time.Location{time.UTC, time.FixedZone("x", 5*3600+1800)}).Draw(t, "loc")
		e := &Event{Seq: rapid.Uint64().Draw(t, "seq"), Time: time.Unix(rapid.Int64Range(0, 4e9).Draw(t, "t"), rapid.Int64Range(0, 1e9-1).Draw(t, "ns")).In(loc),
			Actor: str.Draw(t, "actor"), Type: str.Draw(t, "type"), Subject: str.Draw(t, "subject"), Data: json.RawMessage(data),
			PrevHash: str.Draw(t, "prev"), Hash: str.Draw(t, "hash")}
		if data == "" {
			e.Data = nil // an event without data marshals it as null
		}
		want, err := signing.Canonical(e)
		if err != nil {
			t.Fatal(err)
		}
		got, err := e.Leaf()
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) {
			t.Fatalf("leaf\n%s\nwant\n%s", got, want)
		}
	})
}
