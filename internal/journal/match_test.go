package journal

import "testing"

// TestMatchType pins the one wildcard rule the feed and the dispatcher
// share, edge cases included.
func TestMatchType(t *testing.T) {
	for _, c := range []struct {
		pattern, typ string
		want         bool
	}{
		{"release.approved", "release.approved", true},
		{"release.approved", "release.sealed", false},
		{"release.*", "release.approved", true},
		{"release.*", "release.", false},
		{"release.*", "release", false},
		{"release.*", "releases.approved", false},
		{"release.*", "product.created", false},
		{".*", ".x", false},
		{"*", "release.approved", false},
		{"release*", "release.approved", false},
		{"", "", true},
	} {
		if got := MatchType(c.pattern, c.typ); got != c.want {
			t.Errorf("MatchType(%q, %q) = %v, want %v", c.pattern, c.typ, got, c.want)
		}
	}
	// A webhook's types use the same rule.
	w := &Webhook{Types: []string{"release.*"}}
	if !w.Matches("release.approved") || w.Matches("release.") || w.Matches("token.created") {
		t.Error("Webhook.Matches does not follow MatchType")
	}
}
