package library

import (
	"github.com/Masterminds/semver/v3"
)

// ResolveQuery is what an installer asks for: "the highest release of this
// product that satisfies the constraint and has a build for my platform"
// (DESIGN.md §3, GET /products/{p}/resolve).
type ResolveQuery struct {
	// Constraint is a Masterminds constraint (^1.2, ~7.3, >=1 <2, …). Nil
	// admits every version except prereleases, like "*".
	Constraint *semver.Constraints
	// OS and Arch name the installer's platform; "" means any.
	OS, Arch string
	// MinState is the least mature state returned: StateReleased (the
	// default; any other value means the same) returns released releases
	// only, StateApproved returns approved and released ones, for pilots.
	MinState State
	// Current skips releases that are superseded (SupersededBy != "").
	Current bool
}

// Eligible reports whether r may be returned for q, ignoring its artifacts
// (MatchArtifacts does those):
//   - draft, candidate and withdrawn releases never are;
//   - a released release is, and an approved one only when q.MinState is
//     StateApproved;
//   - with q.Current, a release with a non-empty SupersededBy is not.
//     Supersession is computed over released versions only, so an approved
//     release has no superseded_by and is not excluded by Current;
//   - the version must satisfy q.Constraint per Masterminds semantics, so a
//     prerelease (which can be approved, never released) is eligible only
//     when the constraint admits prereleases, e.g. ">=2.0.0-0" or "2.0.0-rc.1".
//     A nil constraint admits no prerelease;
//   - a version that does not parse as SemVer never is.
func Eligible(r *Release, q ResolveQuery) bool {
	_, ok := eligibleVersion(r, q)
	return ok
}

// eligibleVersion is Eligible, also returning the parsed version.
func eligibleVersion(r *Release, q ResolveQuery) (*semver.Version, bool) {
	if r == nil {
		return nil, false
	}
	switch r.State {
	case StateReleased:
	case StateApproved:
		if q.MinState != StateApproved {
			return nil, false
		}
	default:
		return nil, false
	}
	if q.Current && r.SupersededBy != "" {
		return nil, false
	}
	v, err := semver.StrictNewVersion(r.Version)
	if err != nil {
		return nil, false
	}
	if q.Constraint == nil {
		return v, v.Prerelease() == ""
	}
	return v, q.Constraint.Check(v)
}

// MatchArtifacts returns, in their order, the artifacts that run on the
// platform os/arch. An artifact without os (or arch) runs on any; an
// artifact whose non-empty os differs from a non-empty os is excluded, and
// likewise for arch. So when a release ships both a platform-specific build
// and a platform-neutral file (a checksum list, a jar), both are returned.
// With os and arch both "", every artifact matches. The result is nil when
// nothing matches; arts is not modified.
func MatchArtifacts(arts []Artifact, os, arch string) []Artifact {
	var out []Artifact
	for _, a := range arts {
		if platformMatches(a.OS, os) && platformMatches(a.Arch, arch) {
			out = append(out, a)
		}
	}
	return out
}

// platformMatches reports whether an artifact built for have ("" for any)
// runs where want ("" for any) is asked.
func platformMatches(have, want string) bool {
	return have == "" || want == "" || have == want
}

// ResolveBrute is the reference resolution: it scans every release and
// returns the highest-versioned one that is Eligible for q and, when q.OS
// or q.Arch is given, has at least one artifact MatchArtifacts keeps. A
// release with no build for the platform is thus skipped for that platform,
// and a lower release that has one is returned instead. Without OS and Arch
// the artifacts are not looked at. Among releases with equal versions the
// first wins. It returns nil when nothing qualifies.
//
// It is the definition a faster, index-backed resolution is tested against.
func ResolveBrute(releases []*Release, q ResolveQuery) *Release {
	var (
		best  *Release
		bestV *semver.Version
	)
	for _, r := range releases {
		v, ok := eligibleVersion(r, q)
		if !ok {
			continue
		}
		if (q.OS != "" || q.Arch != "") && len(MatchArtifacts(r.Artifacts, q.OS, q.Arch)) == 0 {
			continue
		}
		if best == nil || v.GreaterThan(bestV) {
			best, bestV = r, v
		}
	}
	return best
}
