package library

import (
	"context"
	"fmt"
)

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
