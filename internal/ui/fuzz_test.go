package ui

import (
	"strings"
	"testing"

	"github.com/reliquary/reliquary/internal/journal"
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

func TestFeedLinks(t *testing.T) {
	for _, c := range []struct{ typ, subject, want string }{
		{"release.sealed", "hr@1.2.0", "/ui/products/hr/releases/1.2.0"},
		{"release.artifact_uploaded", "hr@1.2.0/hr.tar.gz", "/ui/products/hr/releases/1.2.0"},
		{"deployment.recorded", "hr@1.0.0", "/ui/products/hr/releases/1.0.0"},
		{"product.created", "hr", "/ui/products/hr"},
		{"baseline.created", "2026-q3", "/ui/baselines"},
		{"token.created", "alice", ""},
		{"release.sealed", "hr@not a version", ""},
	} {
		if got := toFeed(&journal.Event{Type: c.typ, Subject: c.subject}).Link; got != c.want {
			t.Errorf("%s %s: link %q, want %q", c.typ, c.subject, got, c.want)
		}
	}
}
