package library

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/Masterminds/semver/v3"
)

// Lifecycle refusals, each with its own error code in the API.
var (
	ErrFourEyes         = errors.New("four-eyes rule: the creator, an uploader or the sealer of a release cannot approve it")
	ErrAlreadyApproved  = errors.New("this approver has already approved the release")
	ErrChangeIDRequired = errors.New("the product's policy requires a change_id")
	ErrPrerelease       = errors.New("a prerelease can never be released")
	ErrReasonRequired   = errors.New("a withdrawal needs a reason")
	ErrNoMatch          = errors.New("no release matches")
)

func (s *Service) transition(ctx context.Context, product, version string, fn func(tx WriteTx, p *Product, r *Release) error) (*Release, error) {
	if err := ValidateProductName(product); err != nil {
		return nil, err
	}
	if _, err := ParseVersion(version); err != nil {
		return nil, err
	}
	var out *Release
	err := s.update(ctx, func(tx WriteTx) error {
		p, err := tx.Product(product)
		if err != nil {
			return err
		}
		r, err := tx.Release(product, version)
		if err != nil {
			return err
		}
		if err := fn(tx, p, r); err != nil {
			return err
		}
		out, err = tx.Release(product, version)
		if err != nil {
			return err
		}
		out.Artifacts, err = tx.Artifacts(product, version)
		return err
	})
	return out, err
}

func badState(r *Release, action string, allowed ...State) error {
	return withDetails(ErrInvalidState, fmt.Sprintf("cannot %s %s@%s: it is %s (needs %v)", action, r.Product, r.Version, r.State, allowed),
		map[string]any{"state": r.State, "allowed": allowed})
}

// Approve records one release manager's approval of a sealed release; the
// release becomes approved when policy.required_approvals distinct people
// have approved it.
func (s *Service) Approve(ctx context.Context, pr Principal, product, version, comment string) (*Release, error) {
	if err := checkText("comment", comment, maxText); err != nil {
		return nil, err
	}
	return s.transition(ctx, product, version, func(tx WriteTx, p *Product, r *Release) error {
		facts, err := readFacts(tx, p, r)
		if err != nil {
			return err
		}
		ev, err := r.Approve(pr.Name, comment, p.Policy, facts, s.clock())
		if err != nil {
			return err
		}
		if err := tx.PutRelease(r); err != nil {
			return err
		}
		_, err = tx.Record(ev)
		return err
	})
}

// PromoteInput moves an approved release to released.
type PromoteInput struct {
	To       string `json:"to"`
	ChangeID string `json:"change_id"`
	Comment  string `json:"comment"`
	// Rollout, when given, is the release's first rollout plan; without it
	// the release is fully rolled out (DESIGN.md §14).
	Rollout *RolloutInput `json:"rollout"`
}

// Promote releases an approved release and recomputes supersession.
func (s *Service) Promote(ctx context.Context, pr Principal, product, version string, in PromoteInput) (*Release, error) {
	if in.To != string(StateReleased) {
		return nil, withDetails(ErrInvalidInput, fmt.Sprintf("promote to %q: the only target is \"released\"", clip(in.To)), map[string]any{"field": "to"})
	}
	if err := checkText("change_id", in.ChangeID, 128); err != nil {
		return nil, err
	}
	if err := checkText("comment", in.Comment, maxText); err != nil {
		return nil, err
	}
	var (
		plan   *Rollout
		pilots []string
	)
	if in.Rollout != nil {
		var err error
		if plan, pilots, err = in.Rollout.plan(pr.Name, s.clock()); err != nil {
			return nil, err
		}
	}
	return s.transition(ctx, product, version, func(tx WriteTx, p *Product, r *Release) error {
		facts, err := readFacts(tx, p, r)
		if err != nil {
			return err
		}
		ev, err := r.Promote(pr.Name, in, plan, pilots, p.Policy, facts, s.clock())
		if err != nil {
			return err
		}
		if err := tx.PutRelease(r); err != nil {
			return err
		}
		if err := tx.SetRolloutPilots(product, version, pilots); err != nil {
			return err
		}
		if _, err := tx.Record(ev); err != nil {
			return err
		}
		return s.resupersede(tx, pr, p, ev.Time)
	})
}

// WithdrawInput backs a release out.
type WithdrawInput struct {
	Reason   string `json:"reason"`
	ChangeID string `json:"change_id"`
}

// Withdraw backs out a sealed release. A withdrawn release stays
// downloadable by exact version but no resolution returns it; withdrawing
// the current release makes the one it superseded current again.
func (s *Service) Withdraw(ctx context.Context, pr Principal, product, version string, in WithdrawInput) (*Release, error) {
	if err := checkText("reason", in.Reason, maxText); err != nil {
		return nil, err
	}
	if err := checkText("change_id", in.ChangeID, 128); err != nil {
		return nil, err
	}
	if in.Reason == "" {
		return nil, withDetails(ErrReasonRequired, "a withdrawal needs a reason", map[string]any{"field": "reason"})
	}
	return s.transition(ctx, product, version, func(tx WriteTx, p *Product, r *Release) error {
		was := r.State
		ev, err := r.Withdraw(pr.Name, in, p.Policy, s.clock())
		if err != nil {
			return err
		}
		if err := tx.PutRelease(r); err != nil {
			return err
		}
		if _, err := tx.Record(ev); err != nil {
			return err
		}
		if was == StateReleased {
			return s.resupersede(tx, pr, p, ev.Time)
		}
		return nil
	})
}

// resupersede recomputes superseded_by for every released version of the
// product in the transaction that changed the released set. Only fully
// rolled-out releases count (DESIGN.md §14): a release in rollout neither
// supersedes nor is superseded, and keeps superseded_by "".
func (s *Service) resupersede(tx WriteTx, pr Principal, p *Product, now time.Time) error {
	released, err := tx.Releases(p.Name, ReleaseQuery{Match: func(r *Release) bool { return r.State == StateReleased && FullyRolledOut(r) }})
	if err != nil {
		return err
	}
	versions := make([]*semver.Version, 0, len(released))
	for _, r := range released {
		v, err := semver.StrictNewVersion(r.Version)
		if err != nil {
			return err
		}
		versions = append(versions, v)
	}
	by := Supersession(versions, p.Policy)
	for _, r := range released {
		next := by[r.Version]
		if next == r.SupersededBy {
			continue
		}
		r.SupersededBy = next
		if err := tx.PutRelease(r); err != nil {
			return err
		}
		if next != "" {
			if _, err := tx.Record(Event{Time: now, Actor: pr.Name, Type: EvReleaseSupersede, Subject: p.Name + "@" + r.Version,
				Data: map[string]any{"product": p.Name, "version": r.Version, "superseded_by": next}}); err != nil {
				return err
			}
		} else {
			if _, err := tx.Record(Event{Time: now, Actor: pr.Name, Type: EvReleaseCurrent, Subject: p.Name + "@" + r.Version,
				Data: map[string]any{"product": p.Name, "version": r.Version}}); err != nil {
				return err
			}
		}
	}
	return nil
}
