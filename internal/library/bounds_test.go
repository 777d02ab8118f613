package library

import (
	"fmt"
	"testing"

	"github.com/Masterminds/semver/v3"
	"pgregory.net/rapid"
)

// Every version a constraint matches lies inside its bounds.
func TestConstraintBoundsHoldEveryMatch(t *testing.T) {
	part := rapid.SampledFrom([]string{"0", "1", "2", "3", "x", "*", maxU64})
	ver := rapid.Custom(func(t *rapid.T) string {
		s := rapid.SampledFrom([]string{"0", "1", "2", "3", maxU64}).Draw(t, "maj")
		for i := range rapid.IntRange(0, 2).Draw(t, "parts") {
			s += "." + part.Draw(t, fmt.Sprint("p", i))
		}
		if rapid.Bool().Draw(t, "pre") {
			s += "-" + rapid.SampledFrom([]string{"0", "rc.1", "alpha", "beta.2"}).Draw(t, "pretag")
		}
		return s
	})
	op := rapid.SampledFrom([]string{"", "=", "!=", ">", ">=", "<", "<=", "~", "~>", "^", "=<", "=>"})
	term := rapid.Custom(func(t *rapid.T) string { return op.Draw(t, "op") + ver.Draw(t, "v") })
	rapid.Check(t, func(t *rapid.T) {
		var s string
		for g := range rapid.IntRange(1, 2).Draw(t, "groups") {
			if g > 0 {
				s += " || "
			}
			if rapid.IntRange(0, 4).Draw(t, "hyphen") == 0 {
				s += ver.Draw(t, "a") + " - " + ver.Draw(t, "b")
				continue
			}
			for i := range rapid.IntRange(1, 2).Draw(t, "terms") {
				if i > 0 {
					s += ", "
				}
				s += term.Draw(t, "term")
			}
		}
		// The known disagreements between the bounds and Masterminds are
		// drawn often, not left to chance.
		if rapid.IntRange(0, 3).Draw(t, "edge") == 0 {
			s = rapid.SampledFrom(boundsEdgeConstraints).Draw(t, "edgecase")
		}
		checkBoundsHoldMatches(t, s)
	})
}

const maxU64 = "18446744073709551615"

// boundsEdgeConstraints are constraints where ConstraintBounds once
// disagreed with Masterminds: "~0.0.0" matches everything (resolve said
// NO_MATCH while the list showed 2.0.0), and bumping a part of 2^64-1
// wrapped the upper bound round to 0.
var boundsEdgeConstraints = []string{"~0.0.0", "~>0.0.0", "~0.0.0-0", "~0.0.0-rc.1", "~0", "~0.0", "^0.0.0",
	"^" + maxU64, "~" + maxU64, maxU64 + ".x", "1." + maxU64 + ".x", "<=" + maxU64, "~1." + maxU64,
	"1.1." + maxU64, "<=1.1." + maxU64, "^0.0." + maxU64, "^0." + maxU64, ">=1.0.0 <" + maxU64 + ".0.0"}

// checkBoundsHoldMatches is the differential: every version of a grid that
// Masterminds says the constraint matches lies inside ConstraintBounds.
func checkBoundsHoldMatches(t interface{ Fatalf(string, ...any) }, s string) {
	c, err := semver.NewConstraint(s)
	if err != nil {
		return
	}
	lo, hi := ConstraintBounds(s)
	nums := []uint64{0, 1, 2, 3, 1<<64 - 2, 1<<64 - 1}
	for _, maj := range nums {
		for _, min := range nums {
			for _, pat := range nums {
				for _, pre := range []string{"", "0", "alpha", "rc.1"} {
					v := semver.New(maj, min, pat, pre, "")
					if !c.Check(v) {
						continue
					}
					if lo != nil && v.LessThan(lo) || hi != nil && !v.LessThan(hi) {
						t.Fatalf("%q matches %s outside [%v, %v)", s, v, lo, hi)
					}
				}
			}
		}
	}
}

// TestConstraintBoundsEdgeCases checks every known edge constraint.
func TestConstraintBoundsEdgeCases(t *testing.T) {
	for _, s := range boundsEdgeConstraints {
		checkBoundsHoldMatches(t, s)
	}
}

func TestConstraintBoundsExamples(t *testing.T) {
	for _, c := range []struct{ in, lo, hi string }{
		{"^1", "1.0.0-0", "2.0.0"}, {"^1.2", "1.2.0-0", "2.0.0"}, {"~7.3", "7.3.0-0", "7.4.0"},
		{"1.2.x", "1.2.0-0", "1.3.0"}, {">=2, <3", "2.0.0-0", "3.0.0"}, {"^0.2.3", "0.2.3-0", "0.3.0"},
		{"*", "", ""}, {">=1.0.0", "1.0.0-0", ""}, {"^1 || ^3", "1.0.0-0", "4.0.0"},
	} {
		lo, hi := ConstraintBounds(c.in)
		str := func(v *semver.Version) string {
			if v == nil {
				return ""
			}
			return v.String()
		}
		if str(lo) != c.lo || str(hi) != c.hi {
			t.Errorf("bounds(%q) = [%s, %s), want [%s, %s)", c.in, str(lo), str(hi), c.lo, c.hi)
		}
	}
}
