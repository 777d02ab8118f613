package library

import (
	"fmt"
	"slices"
	"time"
)

// The release state machine as pure functions: each transition checks the
// release, the product's policy and the Facts the caller read from the
// index, and either refuses with the release untouched or applies the
// transition to it and returns the event to record. Storing the release
// and recording the event is the caller's (lifecycle.go), so the rules
// are tested here without an index (statemachine_test.go).

// Facts are what a transition needs beyond the release and the policy.
type Facts struct {
	// Uploaders are the distinct uploaders of the release's artifacts
	// (the four-eyes rule); read only when the policy has four_eyes.
	Uploaders []string
	// MissingEvidence are the policy's required attestation types the
	// release lacks, in any order.
	MissingEvidence []string
}

// readFacts reads the Facts of r under policy p.
func readFacts(tx ReadTx, p *Product, r *Release) (Facts, error) {
	var f Facts
	if p.Policy.FourEyes {
		arts, err := tx.Artifacts(r.Product, r.Version)
		if err != nil {
			return f, err
		}
		for _, a := range arts {
			if !slices.Contains(f.Uploaders, a.UploadedBy) {
				f.Uploaders = append(f.Uploaders, a.UploadedBy)
			}
		}
	}
	missing, err := missingEvidence(tx, p, r)
	f.MissingEvidence = missing
	return f, err
}

// Approve records by's approval of a candidate (or already approved)
// release; it becomes approved when policy.RequiredApprovals distinct
// people have approved it.
func (r *Release) Approve(by, comment string, policy Policy, facts Facts, now time.Time) (Event, error) {
	if r.State != StateCandidate && r.State != StateApproved {
		return Event{}, badState(r, "approve", StateCandidate, StateApproved)
	}
	if policy.FourEyes {
		if err := fourEyes(by, r, facts.Uploaders); err != nil {
			return Event{}, err
		}
	}
	if slices.ContainsFunc(r.Approvals, func(a Approval) bool { return a.By == by }) {
		return Event{}, withDetails(ErrAlreadyApproved, fmt.Sprintf("%s has already approved %s@%s", by, r.Product, r.Version), nil)
	}
	if err := evidenceError(r, policy, facts.MissingEvidence); err != nil {
		return Event{}, err
	}
	r.Approvals = append(r.Approvals, Approval{By: by, At: now, Comment: comment})
	if r.State == StateCandidate && len(r.Approvals) >= policy.RequiredApprovals {
		r.History = append(r.History, Transition{From: r.State, To: StateApproved, Actor: by, Time: now, ChangeID: r.ChangeID, Comment: comment})
		r.State = StateApproved
	}
	return Event{Time: now, Actor: by, Type: EvReleaseApproved, Subject: r.Product + "@" + r.Version,
		Data: map[string]any{"product": r.Product, "version": r.Version, "approvals": len(r.Approvals),
			"required": policy.RequiredApprovals, "state": r.State, "comment": comment}}, nil
}

// Promote releases an approved release with the rollout plan (nil: fully
// rolled out) and its pilots, already validated by the caller.
func (r *Release) Promote(by string, in PromoteInput, plan *Rollout, pilots []string, policy Policy, facts Facts, now time.Time) (Event, error) {
	if r.State != StateApproved {
		return Event{}, badState(r, "release", StateApproved)
	}
	if r.Prerelease {
		return Event{}, withDetails(ErrPrerelease, fmt.Sprintf("%s@%s is a prerelease: it can be approved for pilots but never released", r.Product, r.Version), nil)
	}
	if err := evidenceError(r, policy, facts.MissingEvidence); err != nil {
		return Event{}, err
	}
	if policy.RequireChangeID && in.ChangeID == "" {
		return Event{}, withDetails(ErrChangeIDRequired, fmt.Sprintf("releasing %s needs a change_id (policy require_change_id)", r.Product), map[string]any{"field": "change_id"})
	}
	if !policy.Allows(r.Type) {
		return Event{}, withDetails(ErrTypeNotAllowed, fmt.Sprintf("policy of %s allows only %v releases now; %s is %s", r.Product, policy.AllowedTypes, r.Version, r.Type),
			map[string]any{"type": r.Type, "allowed_types": policy.AllowedTypes})
	}
	r.History = append(r.History, Transition{From: r.State, To: StateReleased, Actor: by, Time: now, ChangeID: in.ChangeID, Comment: in.Comment})
	r.State = StateReleased
	r.ReleasedBy, r.ReleasedAt = by, &now
	r.Rollout = plan
	data := map[string]any{"product": r.Product, "version": r.Version, "change_id": in.ChangeID, "comment": in.Comment}
	if plan != nil {
		data["rollout"], data["pilots"] = plan, pilots
	}
	return Event{Time: now, Actor: by, Type: EvReleaseReleased, Subject: r.Product + "@" + r.Version, Data: data}, nil
}

// Withdraw backs out a candidate, approved or released release.
func (r *Release) Withdraw(by string, in WithdrawInput, policy Policy, now time.Time) (Event, error) {
	switch r.State {
	case StateCandidate, StateApproved, StateReleased:
	default:
		return Event{}, badState(r, "withdraw", StateCandidate, StateApproved, StateReleased)
	}
	if policy.RequireChangeID && in.ChangeID == "" {
		return Event{}, withDetails(ErrChangeIDRequired, fmt.Sprintf("withdrawing from %s needs a change_id (policy require_change_id)", r.Product), map[string]any{"field": "change_id"})
	}
	was := r.State
	r.History = append(r.History, Transition{From: r.State, To: StateWithdrawn, Actor: by, Time: now, ChangeID: in.ChangeID, Comment: in.Reason})
	r.State = StateWithdrawn
	r.Withdrawn = &Withdrawal{By: by, At: now, Reason: in.Reason, ChangeID: in.ChangeID}
	r.SupersededBy = ""
	return Event{Time: now, Actor: by, Type: EvReleaseWithdrawn, Subject: r.Product + "@" + r.Version,
		Data: map[string]any{"product": r.Product, "version": r.Version, "from": was, "reason": in.Reason, "change_id": in.ChangeID}}, nil
}
