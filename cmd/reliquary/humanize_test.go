package main

import "testing"

// TestHumanBytes: the sizes the CLI prints (push progress, releases get,
// retention) keep their form: "4.0 MiB" is what the push summary shows.
func TestHumanBytes(t *testing.T) {
	for n, want := range map[int64]string{0: "0 B", 512: "512 B", 1536: "1.5 KiB", 4 << 20: "4.0 MiB", 192 << 20: "192 MiB", 3 << 30: "3.0 GiB", -1: "-1 B"} {
		if got := humanBytes(n); got != want {
			t.Errorf("humanBytes(%d) = %q, want %q", n, got, want)
		}
	}
}

// TestParseBytesForms: go-humanize's other spellings of a size are
// accepted too (decimal units, a space, any case); fractions are not.
func TestParseBytesForms(t *testing.T) {
	for in, want := range map[string]int64{"200MB": 200e6, "192 MiB": 192 << 20, "1gib": 1 << 30, "2K": 2000} {
		if got, err := parseBytes(in); err != nil || got != want {
			t.Errorf("parseBytes(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, bad := range []string{"1,024", "0.5GiB", "16EiB", "1 2MiB"} {
		if _, err := parseBytes(bad); err == nil {
			t.Errorf("parseBytes(%q) accepted", bad)
		}
	}
}
