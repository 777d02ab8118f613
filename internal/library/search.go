package library

import (
	"encoding/hex"
	"fmt"
	"strings"
)

// CutLabel splits a label written k:v or k=v (one syntax everywhere: push,
// list and search). The first ':' or '=' separates key from value, so a
// value may itself contain either.
func CutLabel(s string) (key, value string, ok bool) {
	i := strings.IndexAny(s, ":=")
	if i < 0 {
		return s, "", false
	}
	return s[:i], s[i+1:], true
}

// parseSHA256 checks a searched artifact digest: 64 hex digits, any case,
// returned in lower case as digests are stored.
func parseSHA256(s string) (string, error) {
	s = strings.ToLower(strings.TrimPrefix(strings.TrimSpace(s), "sha256:"))
	if b, err := hex.DecodeString(s); err != nil || len(b) != 32 {
		return "", withDetails(ErrInvalidInput, fmt.Sprintf("sha256 %q must be 64 hexadecimal digits", clip(s)), map[string]any{"field": "sha256"})
	}
	return s, nil
}

// changeLinks reports whether a change is named by the release itself
// (its creation or a transition). It filters a search driven by another
// index (sha256); a search driven by the change_id index also finds the
// releases that baselines and deployment records link to the change.
func changeLinks(r *Release, change string) bool {
	if r.ChangeID == change {
		return true
	}
	for _, h := range r.History {
		if h.ChangeID == change {
			return true
		}
	}
	return false
}
