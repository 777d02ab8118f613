package canonjson

import (
	"bytes"
	"encoding/json"
	"math"
	"testing"

	"pgregory.net/rapid"
)

func TestCanonical(t *testing.T) {
	tests := []struct {
		name string
		in   any
		want string
	}{
		{"sorted keys", map[string]any{"b": 1, "a": 2, "c": map[string]any{"z": true, "y": nil}}, `{"a":2,"b":1,"c":{"y":null,"z":true}}`},
		{"struct fields sorted", struct {
			Zeta  string `json:"zeta"`
			Alpha int    `json:"alpha"`
		}{"z", 1}, `{"alpha":1,"zeta":"z"}`},
		{"no html escaping", map[string]string{"k": "<a href=\"x\">&</a>"}, `{"k":"<a href=\"x\">&</a>"}`},
		{"control characters", "tab\tnl\ncr\rbs\bff\fnul\x00us\x1f", `"tab\tnl\ncr\rbs\bff\fnul\u0000us\u001f"`},
		{"unicode kept literal", "héllo \u2028 ☃ 🎉", "\"héllo \u2028 ☃ 🎉\""},
		{"big integers exact", map[string]any{"n": int64(math.MaxInt64), "u": uint64(math.MaxUint64)}, `{"n":9223372036854775807,"u":18446744073709551615}`},
		{"raw number preserved", json.RawMessage(`{"x": 1.50, "y": 1e400}`), `{"x":1.50,"y":1e400}`},
		{"whitespace removed", json.RawMessage(" [ 1 , { \"b\" : [ ] , \"a\" : { } } ] "), `[1,{"a":{},"b":[]}]`},
		{"utf16 key order", map[string]int{"\U0001F600": 1, "\uFB01": 2, "a": 3}, "{\"a\":3,\"\U0001F600\":1,\"\uFB01\":2}"},
		{"empty", map[string]any{}, `{}`},
		{"null", nil, `null`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Canonical(tc.in)
			if err != nil {
				t.Fatalf("Canonical: %v", err)
			}
			if string(got) != tc.want {
				t.Errorf("Canonical = %s\nwant        %s", got, tc.want)
			}
			again, err := CanonicalizeJSON(got)
			if err != nil || !bytes.Equal(again, got) {
				t.Errorf("not idempotent: %s, %v", again, err)
			}
		})
	}
}

func TestCanonicalizeJSONRejects(t *testing.T) {
	for _, in := range []string{``, `{`, `{"a":1} {}`, `[1,]`, `{"a":1}x`, `nul`} {
		if out, err := CanonicalizeJSON([]byte(in)); err == nil {
			t.Errorf("CanonicalizeJSON(%q) = %s, want an error", in, out)
		}
	}
	if _, err := Canonical(math.Inf(1)); err == nil {
		t.Error("Canonical(+Inf) succeeded")
	}
}

// jsonValue generates values of the kinds encoding/json produces and reads.
func jsonValue(depth int) *rapid.Generator[any] {
	return rapid.Custom(func(t *rapid.T) any {
		kinds := 7
		if depth <= 0 {
			kinds = 5
		}
		switch rapid.IntRange(0, kinds-1).Draw(t, "kind") {
		case 0:
			return nil
		case 1:
			return rapid.Bool().Draw(t, "bool")
		case 2:
			return rapid.Int64().Draw(t, "int")
		case 3:
			f := rapid.Float64().Draw(t, "float")
			if math.IsInf(f, 0) || math.IsNaN(f) {
				return 0.0
			}
			return f
		case 4:
			return rapid.String().Draw(t, "string")
		case 5:
			return rapid.SliceOfN(jsonValue(depth-1), 0, 4).Draw(t, "array")
		default:
			return rapid.MapOfN(rapid.String(), jsonValue(depth-1), 0, 4).Draw(t, "object")
		}
	})
}

// TestCanonicalRoundTrip checks Canonical(Unmarshal(Canonical(x))) ==
// Canonical(x) for arbitrary JSON values (Unmarshal with UseNumber, as
// canonical documents must be read to keep 64-bit integers exact).
func TestCanonicalRoundTrip(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		x := jsonValue(3).Draw(t, "x")
		c1, err := Canonical(x)
		if err != nil {
			t.Fatalf("Canonical: %v", err)
		}
		checkCanonicalOutput(t, c1)
	})
}

// FuzzCanonical feeds arbitrary bytes to CanonicalizeJSON: it must agree with
// json.Valid, and whatever it accepts must come out canonical and stable.
// Seeds are added here; extra corpus entries live in testdata/fuzz.
func FuzzCanonical(f *testing.F) {
	for _, seed := range []string{
		`{"schema_version":1,"product":"hr","version":"1.2.3","artifacts":[{"name":"a.tgz","size":10}]}`,
		`{"b":1,"a":[true,false,null,"x\u0000y"],"c":{"":-0.0e-10}}`,
		`[1e400, 123456789012345678901234567890, -0, 0.1]`,
		`"\ud83d\ude00 \u2028 <&>"`,
		` { "dup":1, "dup":2 } `,
		"\"\xff\xfe\"",
		`{"\uffff":1,"\ud800\udc00":2}`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		c1, err := CanonicalizeJSON(data)
		if valid := json.Valid(data); (err == nil) != valid {
			t.Fatalf("CanonicalizeJSON err = %v but json.Valid = %v for %q", err, valid, data)
		}
		if err != nil {
			return
		}
		checkCanonicalOutput(t, c1)
	})
}

// checkCanonicalOutput asserts that c is valid, compact and a fixed point of
// decode-then-Canonical.
func checkCanonicalOutput(t interface {
	Fatalf(string, ...any)
}, c []byte) {
	if !json.Valid(c) {
		t.Fatalf("canonical output is not valid JSON: %q", c)
	}
	var compact bytes.Buffer
	if err := json.Compact(&compact, c); err != nil || !bytes.Equal(compact.Bytes(), c) {
		t.Fatalf("canonical output has insignificant whitespace: %q", c)
	}
	dec := json.NewDecoder(bytes.NewReader(c))
	dec.UseNumber()
	var back any
	if err := dec.Decode(&back); err != nil {
		t.Fatalf("decode canonical output: %v", err)
	}
	c2, err := Canonical(back)
	if err != nil {
		t.Fatalf("Canonical(decoded): %v", err)
	}
	if !bytes.Equal(c, c2) {
		t.Fatalf("Canonical(Unmarshal(c)) != c:\n%q\n%q", c, c2)
	}
	c3, err := CanonicalizeJSON(c)
	if err != nil || !bytes.Equal(c, c3) {
		t.Fatalf("CanonicalizeJSON not idempotent:\n%q\n%q (%v)", c, c3, err)
	}
}
