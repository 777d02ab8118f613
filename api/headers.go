package api

import (
	"encoding/base64"
	"encoding/hex"
	"errors"
	"strconv"
	"strings"
)

// ParseExpectedDigest reads the SHA-256 a client declares for its upload
// from Content-Digest (RFC 9530: `sha-256=:<base64>:`, possibly among other
// algorithms) and/or X-Checksum-Sha256 (hex). It returns nil when neither
// names a SHA-256, and an error when a header is malformed or the two
// disagree.
func ParseExpectedDigest(contentDigest, checksum string) ([]byte, error) {
	var fromCD, fromX []byte
	if contentDigest != "" {
		if len(contentDigest) > 4096 {
			return nil, errors.New("Content-Digest header is too long")
		}
		for member := range strings.SplitSeq(contentDigest, ",") {
			k, v, ok := strings.Cut(strings.TrimSpace(member), "=")
			if !ok {
				return nil, errors.New("Content-Digest must be a list of members like sha-256=:<base64>")
			}
			k = strings.ToLower(strings.TrimSpace(k))
			v = strings.TrimSpace(v)
			if i := strings.IndexByte(v, ';'); i >= 0 { // structured-field parameters
				v = v[:i]
			}
			if len(v) < 2 || v[0] != ':' || v[len(v)-1] != ':' {
				return nil, errors.New("Content-Digest values must be byte sequences like :<base64>")
			}
			if k != "sha-256" {
				continue
			}
			d, err := base64.StdEncoding.DecodeString(v[1 : len(v)-1])
			if err != nil || len(d) != 32 {
				return nil, errors.New("Content-Digest sha-256 must be the base64 of 32 bytes")
			}
			if fromCD != nil && string(fromCD) != string(d) {
				return nil, errors.New("Content-Digest names two different sha-256 values")
			}
			fromCD = d
		}
	}
	if checksum != "" {
		d, err := hex.DecodeString(strings.TrimSpace(checksum))
		if err != nil || len(d) != 32 {
			return nil, errors.New("X-Checksum-Sha256 must be 64 hexadecimal characters")
		}
		fromX = d
	}
	switch {
	case fromCD != nil && fromX != nil && string(fromCD) != string(fromX):
		return nil, errors.New("Content-Digest and X-Checksum-Sha256 disagree")
	case fromCD != nil:
		return fromCD, nil
	}
	return fromX, nil
}

// ByteRange is a resolved single range: offset and length within a size.
type ByteRange struct{ Offset, Length int64 }

// Range parse outcomes.
var (
	// errRangeIgnored: absent, malformed or multi-range; serve the whole.
	errRangeIgnored = errors.New("range ignored")
	// errRangeUnsatisfiable: a valid range outside the object (416).
	errRangeUnsatisfiable = errors.New("range not satisfiable")
)

// ParseRange resolves a Range header against an object of size bytes. It
// supports one range (`bytes=a-b`, `bytes=a-`, `bytes=-n`); anything else
// it asks to ignore (RFC 9110 lets a server serve the full representation).
func ParseRange(h string, size int64) (ByteRange, error) {
	spec, ok := strings.CutPrefix(h, "bytes=")
	if !ok || strings.Contains(spec, ",") || len(h) > 200 {
		return ByteRange{}, errRangeIgnored
	}
	first, last, ok := strings.Cut(strings.TrimSpace(spec), "-")
	if !ok {
		return ByteRange{}, errRangeIgnored
	}
	num := func(s string) (int64, bool) {
		if s == "" || len(s) > 19 {
			return 0, false
		}
		for i := 0; i < len(s); i++ {
			if s[i] < '0' || s[i] > '9' {
				return 0, false
			}
		}
		n, err := strconv.ParseInt(s, 10, 64)
		return n, err == nil
	}
	if first == "" { // suffix: the last n bytes
		n, ok := num(last)
		if !ok {
			return ByteRange{}, errRangeIgnored
		}
		if n == 0 || size == 0 {
			return ByteRange{}, errRangeUnsatisfiable
		}
		n = min(n, size)
		return ByteRange{Offset: size - n, Length: n}, nil
	}
	start, ok := num(first)
	if !ok {
		return ByteRange{}, errRangeIgnored
	}
	end := size - 1
	if last != "" {
		e, ok := num(last)
		if !ok || e < start {
			return ByteRange{}, errRangeIgnored
		}
		end = min(e, size-1)
	}
	if start >= size {
		return ByteRange{}, errRangeUnsatisfiable
	}
	return ByteRange{Offset: start, Length: end - start + 1}, nil
}
