package library

import (
	"slices"

	"github.com/Masterminds/semver/v3"
)

// Supersession computes superseded_by for every released version of a
// product (DESIGN.md §1, "Supersession"). It is a pure function of the set
// of versions in state released and of the policy: replaying any history of
// promotes and withdrawals that ends in the same released set gives the same
// answer, which is what makes withdrawal a rollback.
//
// Lines are majors, and minors within a major. The p.SupportedMajors newest
// majors stay open, and within each open major the p.SupportedMinors newest
// minors; in each open (major, minor) line only the highest released version
// is current. Every other released version v is superseded, and its
// superseded_by is the lowest released w > v such that v would not be
// current if w were the highest release, that is, if the released set were
// {u : u <= w}.
//
// The result maps every released non-prerelease version (by its canonical
// string) to the version that supersedes it, or to "" when it is current.
// Prereleases and nil entries are ignored: they never supersede, are never
// current and get no key. Duplicates count once. A supported_majors or
// supported_minors below 1 counts as 1 (Policy.Validate forbids it anyway).
//
// The definition reduces to three candidates, of which the first that exists
// is the lowest: the next release of v's own (major, minor) line; else the
// first release of the minor line SupportedMinors places above v's in its
// major (that release pushes v's minor out of the open ones); else the first
// release of the major SupportedMajors places above v's. The input is sorted
// once: O(n log n).
func Supersession(released []*semver.Version, p Policy) map[string]string {
	majors := groupLines(released)
	keepMajors, keepMinors := max(p.SupportedMajors, 1), max(p.SupportedMinors, 1)
	out := make(map[string]string)
	for mi, major := range majors {
		for ni, minor := range major {
			for vi, v := range minor {
				var by *semver.Version
				switch {
				case vi+1 < len(minor):
					by = minor[vi+1]
				case ni+keepMinors < len(major):
					by = major[ni+keepMinors][0]
				case mi+keepMajors < len(majors):
					by = majors[mi+keepMajors][0][0]
				}
				out[v.String()] = ""
				if by != nil {
					out[v.String()] = by.String()
				}
			}
		}
	}
	return out
}

// Current returns the released versions that are current under p, highest
// first: the versions Supersession maps to "". Prereleases are never
// current. With the default policy there is at most one, the highest
// released version.
func Current(released []*semver.Version, p Policy) []*semver.Version {
	majors := groupLines(released)
	keepMajors, keepMinors := max(p.SupportedMajors, 1), max(p.SupportedMinors, 1)
	var cur []*semver.Version
	for mi := len(majors) - 1; mi >= 0 && mi >= len(majors)-keepMajors; mi-- {
		major := majors[mi]
		for ni := len(major) - 1; ni >= 0 && ni >= len(major)-keepMinors; ni-- {
			cur = append(cur, major[ni][len(major[ni])-1])
		}
	}
	return cur
}

// groupLines sorts the non-prerelease versions ascending, drops duplicates
// and splits them into lines: result[i] is the i-th lowest major present,
// result[i][j] the j-th lowest minor present in it, and result[i][j] lists
// that line's versions in ascending order. Every inner slice is non-empty.
func groupLines(released []*semver.Version) [][][]*semver.Version {
	vs := make([]*semver.Version, 0, len(released))
	for _, v := range released {
		if v != nil && v.Prerelease() == "" {
			vs = append(vs, v)
		}
	}
	slices.SortFunc(vs, func(a, b *semver.Version) int { return a.Compare(b) })
	vs = slices.CompactFunc(vs, func(a, b *semver.Version) bool { return a.Equal(b) })

	var majors [][][]*semver.Version
	for i, v := range vs {
		switch {
		case i == 0 || v.Major() != vs[i-1].Major():
			majors = append(majors, [][]*semver.Version{{v}})
		case v.Minor() != vs[i-1].Minor():
			major := &majors[len(majors)-1]
			*major = append(*major, []*semver.Version{v})
		default:
			major := majors[len(majors)-1]
			major[len(major)-1] = append(major[len(major)-1], v)
		}
	}
	return majors
}
