package ui

import (
	"strings"
	"testing"

	"github.com/reliquary/reliquary/internal/library"
)

// FuzzSafeNext: whatever the next= parameter holds, the redirect after
// sign-in stays inside the UI (no open redirect).
func FuzzSafeNext(f *testing.F) {
	for _, s := range []string{"", "/ui/products", "//evil.example/ui/", "/ui/../x", "https://evil.example", "/ui/\\evil", "/ui/a\r\nSet-Cookie: x", "/uix"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, next string) {
		got := safeNext(next)
		if !strings.HasPrefix(got, Prefix+"/") || strings.HasPrefix(got, "//") || strings.ContainsAny(got, "\\\r\n") {
			t.Fatalf("safeNext(%q) = %q leaves the UI", next, got)
		}
	})
}

// FuzzReleaseFilter: any filter from the query string either is refused
// with an input error or gives a matcher that runs on any release.
func FuzzReleaseFilter(f *testing.F) {
	f.Add("released", "minor", "^1.2", "env:prod")
	f.Add("nope", "", "", "")
	f.Add("", "", ">=1.0.0 <2.0.0-0 || 3.x", ":")
	f.Add("", "", "~>", "a:b:c")
	f.Fuzz(func(t *testing.T, state, typ, constraint, label string) {
		m, err := releaseMatcher(library.ReleaseFilter{State: library.State(state), Type: library.ReleaseType(typ), Constraint: constraint, Label: label})
		if err != nil {
			return
		}
		for _, r := range []*library.Release{
			{Version: "1.2.3", State: library.StateReleased, Type: library.TypeEmergency, Labels: map[string]string{"env": "prod"}},
			{Version: "2.0.0-rc.1", State: library.StateCandidate, Type: library.TypeMajor},
			{Version: "not-a-version"},
		} {
			m(r)
		}
	})
}
