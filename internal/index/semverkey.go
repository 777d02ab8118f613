package index

import (
	"encoding/binary"
	"errors"
	"fmt"
	"strings"

	"github.com/Masterminds/semver/v3"
)

// VersionKey encodes a SemVer version so that the byte order of keys is
// SemVer 2.0 precedence, prereleases included:
//
//	major, minor, patch     3 × uint64 big-endian
//	0x02                    a release (sorts after all its prereleases)
//	0x01 ident… 0x00        a prerelease; each identifier is
//	                          0x01 len(digits) digits   numeric (by value: no leading zeros)
//	                          0x02 bytes 0x00           alphanumeric (ASCII order)
//	                        numeric < alphanumeric, and the closing 0x00
//	                        makes a shorter list of identifiers sort first.
func VersionKey(v *semver.Version) []byte {
	k := make([]byte, 0, 32)
	k = binary.BigEndian.AppendUint64(k, v.Major())
	k = binary.BigEndian.AppendUint64(k, v.Minor())
	k = binary.BigEndian.AppendUint64(k, v.Patch())
	pre := v.Prerelease()
	if pre == "" {
		return append(k, 0x02)
	}
	k = append(k, 0x01)
	for id := range strings.SplitSeq(pre, ".") {
		if isNumeric(id) {
			k = append(k, 0x01, byte(len(id)))
			k = append(k, id...)
		} else {
			k = append(k, 0x02)
			k = append(k, id...)
			k = append(k, 0x00)
		}
	}
	return append(k, 0x00)
}

func isNumeric(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

var errBadKey = errors.New("malformed version key")

// DecodeVersionKey turns a key back into its version string.
func DecodeVersionKey(k []byte) (string, error) {
	if len(k) < 25 {
		return "", errBadKey
	}
	s := fmt.Sprintf("%d.%d.%d", binary.BigEndian.Uint64(k), binary.BigEndian.Uint64(k[8:]), binary.BigEndian.Uint64(k[16:]))
	rest := k[24:]
	switch rest[0] {
	case 0x02:
		if len(rest) != 1 {
			return "", errBadKey
		}
		return s, nil
	case 0x01:
	default:
		return "", errBadKey
	}
	rest = rest[1:]
	var ids []string
	for {
		if len(rest) == 0 {
			return "", errBadKey
		}
		switch rest[0] {
		case 0x00:
			if len(rest) != 1 || len(ids) == 0 {
				return "", errBadKey
			}
			return s + "-" + strings.Join(ids, "."), nil
		case 0x01:
			if len(rest) < 2 || len(rest) < 2+int(rest[1]) {
				return "", errBadKey
			}
			ids = append(ids, string(rest[2:2+int(rest[1])]))
			rest = rest[2+int(rest[1]):]
		case 0x02:
			end := strings.IndexByte(string(rest[1:]), 0x00)
			if end < 0 {
				return "", errBadKey
			}
			ids = append(ids, string(rest[1:1+end]))
			rest = rest[2+end:]
		default:
			return "", errBadKey
		}
	}
}

// versionKeyOf parses and encodes a version string already validated by
// the domain.
func versionKeyOf(version string) ([]byte, error) {
	v, err := semver.StrictNewVersion(version)
	if err != nil {
		return nil, fmt.Errorf("version %q: %w", version, err)
	}
	if len(v.Prerelease()) > 0 {
		for id := range strings.SplitSeq(v.Prerelease(), ".") {
			if isNumeric(id) && len(id) > 255 {
				return nil, fmt.Errorf("version %q: numeric identifier longer than 255 digits", version)
			}
		}
	}
	return VersionKey(v), nil
}
