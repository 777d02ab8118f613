package library

import (
	"context"
	"fmt"

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

// ResolveRequest is what an installer asks for.
type ResolveRequest struct {
	Constraint string
	OS, Arch   string
	MinState   string // released (default) or approved
	Current    bool
	// Target and Environment name the caller for rollouts (DESIGN.md §14):
	// a release below 100% is returned only to its pilots, environments
	// and the targets its percentage reaches.
	Target, Environment string
}

// Resolution is the release an installer should install and its matching
// artifacts.
type Resolution struct {
	Release   *Release
	Artifacts []Artifact
	// Required: the release's rollout deadline has passed and the target
	// runs an older version.
	Required bool
}

// Resolve returns the highest release that satisfies the request. It walks
// the product's releases newest first in key order and stops at the first
// eligible one that has a build for the platform.
func (s *Service) Resolve(_ context.Context, product string, req ResolveRequest) (*Resolution, error) {
	if err := ValidateProductName(product); err != nil {
		return nil, err
	}
	if err := ValidatePlatform("os", req.OS); err != nil {
		return nil, err
	}
	if err := ValidatePlatform("arch", req.Arch); err != nil {
		return nil, err
	}
	if req.Target != "" {
		if err := ValidateTarget(req.Target); err != nil {
			return nil, err
		}
	}
	if req.Environment != "" {
		if err := ValidateEnvironment(req.Environment); err != nil {
			return nil, err
		}
	}
	q := ResolveQuery{OS: req.OS, Arch: req.Arch, Current: req.Current}
	switch req.MinState {
	case "", string(StateReleased):
		q.MinState = StateReleased
	case string(StateApproved):
		q.MinState = StateApproved
	default:
		return nil, withDetails(ErrInvalidInput, fmt.Sprintf("min_state %q must be released or approved", clip(req.MinState)), map[string]any{"field": "min_state"})
	}
	constraint := req.Constraint
	if constraint == "" {
		constraint = "*"
	}
	c, err := ParseConstraint(constraint)
	if err != nil {
		return nil, err
	}
	q.Constraint = c
	// Seek straight to the constraint's range instead of walking down from
	// the newest release.
	var walk ReleaseQuery
	if lo, hi := ConstraintBounds(constraint); lo != nil || hi != nil {
		if lo != nil {
			walk.AtLeast = lo.String()
		}
		if hi != nil {
			walk.Before = hi.String()
		}
	}
	var out *Resolution
	err = s.repo.View(func(tx ReadTx) error {
		if _, err := tx.Product(product); err != nil {
			return err
		}
		var txErr error
		walk.Limit = 1
		walk.Match = func(r *Release) bool {
			if txErr != nil || !Eligible(r, q) {
				return false
			}
			if !Reaches(r, product, req.Target, req.Environment, func() bool {
				ok, err := tx.RolloutPilot(product, r.Version, req.Target)
				if err != nil {
					txErr = err
				}
				return ok
			}) {
				return false
			}
			arts, err := tx.Artifacts(product, r.Version)
			if err != nil {
				txErr = err
				return false
			}
			m := MatchArtifacts(arts, q.OS, q.Arch)
			if len(m) == 0 {
				return false
			}
			r.Artifacts = nonNil(arts) // all of them, as GET release shows
			out = &Resolution{Release: r, Artifacts: m}
			return true
		}
		_, err := tx.Releases(product, walk)
		if txErr != nil {
			return txErr
		}
		if err != nil || out == nil {
			return err
		}
		out.Required, err = rolloutRequired(tx, out.Release, req.Target, req.Environment, s.clock())
		return err
	})
	if err != nil {
		return nil, err
	}
	if out == nil {
		return nil, withDetails(ErrNoMatch, fmt.Sprintf("no %s release of %s matches %q for os=%q arch=%q", q.MinState, product, constraint, req.OS, req.Arch),
			map[string]any{"product": product, "constraint": constraint, "os": req.OS, "arch": req.Arch, "min_state": q.MinState, "current": req.Current})
	}
	return out, nil
}
