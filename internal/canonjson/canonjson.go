package canonjson

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"unicode/utf16"
	"unicode/utf8"
)

// Canonical returns the canonical JSON encoding of v: v is marshalled with
// encoding/json, then re-encoded with
//
//   - object members sorted by key (UTF-16 code unit order, as RFC 8785),
//   - no insignificant whitespace,
//   - no HTML escaping: only '"', '\\' and control characters are escaped,
//     with the short forms \b \t \n \f \r and \u00xx otherwise (as RFC 8785),
//   - numbers exactly as encoding/json wrote them (decoded with UseNumber,
//     never through float64), so 64-bit integers survive unchanged.
//
// Unlike RFC 8785 numbers are not re-normalised; for the integer sizes and
// timestamps (strings) that manifests hold, the output is the same.
// Canonical is idempotent: CanonicalizeJSON(Canonical(v)) == Canonical(v).
func Canonical(v any) ([]byte, error) {
	raw, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("canonical json: marshal: %w", err)
	}
	return CanonicalizeJSON(raw)
}

// CanonicalizeJSON re-encodes one JSON document canonically (see Canonical).
// Anything after the document other than whitespace is an error.
func CanonicalizeJSON(data []byte) ([]byte, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, fmt.Errorf("canonical json: decode: %w", err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, errors.New("canonical json: data after the top-level value")
	}
	buf := bytes.NewBuffer(make([]byte, 0, len(data)))
	if err := writeCanonical(buf, v); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// writeCanonical writes a value produced by a UseNumber decoder.
func writeCanonical(buf *bytes.Buffer, v any) error {
	switch x := v.(type) {
	case nil:
		buf.WriteString("null")
	case bool:
		buf.WriteString(strconv.FormatBool(x))
	case json.Number:
		buf.WriteString(x.String())
	case string:
		writeCanonicalString(buf, x)
	case []any:
		buf.WriteByte('[')
		for i, e := range x {
			if i > 0 {
				buf.WriteByte(',')
			}
			if err := writeCanonical(buf, e); err != nil {
				return err
			}
		}
		buf.WriteByte(']')
	case map[string]any:
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		slices.SortFunc(keys, compareUTF16)
		buf.WriteByte('{')
		for i, k := range keys {
			if i > 0 {
				buf.WriteByte(',')
			}
			writeCanonicalString(buf, k)
			buf.WriteByte(':')
			if err := writeCanonical(buf, x[k]); err != nil {
				return err
			}
		}
		buf.WriteByte('}')
	default:
		return fmt.Errorf("canonical json: unexpected decoded type %T", v)
	}
	return nil
}

// writeCanonicalString writes s as a JSON string. encoding/json has already
// replaced invalid UTF-8 with U+FFFD, so s is valid UTF-8 here.
func writeCanonicalString(buf *bytes.Buffer, s string) {
	const hexDigits = "0123456789abcdef"
	buf.WriteByte('"')
	for i := 0; i < len(s); {
		c := s[i]
		if c >= utf8.RuneSelf {
			r, size := utf8.DecodeRuneInString(s[i:])
			buf.WriteRune(r) // U+FFFD for any invalid byte
			i += size
			continue
		}
		switch {
		case c == '"':
			buf.WriteString(`\"`)
		case c == '\\':
			buf.WriteString(`\\`)
		case c == '\b':
			buf.WriteString(`\b`)
		case c == '\f':
			buf.WriteString(`\f`)
		case c == '\n':
			buf.WriteString(`\n`)
		case c == '\r':
			buf.WriteString(`\r`)
		case c == '\t':
			buf.WriteString(`\t`)
		case c < 0x20:
			buf.WriteString(`\u00`)
			buf.WriteByte(hexDigits[c>>4])
			buf.WriteByte(hexDigits[c&0xF])
		default:
			buf.WriteByte(c)
		}
		i++
	}
	buf.WriteByte('"')
}

// compareUTF16 orders strings by their UTF-16 code units, the member order
// RFC 8785 prescribes. It equals byte order except where characters above
// U+FFFF meet characters in U+E000..U+FFFF.
func compareUTF16(a, b string) int {
	ra, rb := []rune(a), []rune(b)
	for i := 0; i < len(ra) && i < len(rb); i++ {
		if ra[i] == rb[i] {
			continue
		}
		ua, ub := utf16Units(ra[i]), utf16Units(rb[i])
		if c := slices.Compare(ua, ub); c != 0 {
			return c
		}
	}
	return len(ra) - len(rb)
}

// utf16Units returns the UTF-16 encoding of r.
func utf16Units(r rune) []uint16 {
	return utf16.Encode([]rune{r})
}
