package library

import (
	"fmt"
	"testing"

	"github.com/Masterminds/semver/v3"
	"pgregory.net/rapid"
)

// Every version a constraint matches lies inside its bounds.
func TestConstraintBoundsHoldEveryMatch(t *testing.T) {
	part := rapid.SampledFrom([]string{"0", "1", "2", "3", "x", "*"})
	ver := rapid.Custom(func(t *rapid.T) string {
		s := rapid.SampledFrom([]string{"0", "1", "2", "3"}).Draw(t, "maj")
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
		c, err := semver.NewConstraint(s)
		if err != nil {
			return
		}
		lo, hi := ConstraintBounds(s)
		for maj := range 4 {
			for min := range 4 {
				for pat := range 4 {
					for _, pre := range []string{"", "0", "alpha", "rc.1"} {
						v := semver.New(uint64(maj), uint64(min), uint64(pat), pre, "")
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
	})
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
