package journal

import "strings"

// MatchType reports whether an event type matches a pattern of a webhook
// or of the feed's type filter: the type itself, or a family ending in
// ".*" ("release.*" matches "release.approved", not "release" nor
// "release."). The one wildcard rule of the dispatcher and the feed.
func MatchType(pattern, typ string) bool {
	if pattern == typ {
		return true
	}
	family, ok := strings.CutSuffix(pattern, "*")
	return ok && len(family) > 1 && strings.HasSuffix(family, ".") &&
		len(typ) > len(family) && strings.HasPrefix(typ, family)
}
