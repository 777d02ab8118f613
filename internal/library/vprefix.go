package library

// NormalizeVersionInput drops the "v" (or "V") that CI tags put before a
// version ("v1.4.0" → "1.4.0"); everything else is returned unchanged for
// ParseVersion to judge. Versions are stored and shown without the prefix.
func NormalizeVersionInput(s string) string {
	if len(s) > 1 && (s[0] == 'v' || s[0] == 'V') && s[1] >= '0' && s[1] <= '9' {
		return s[1:]
	}
	return s
}
