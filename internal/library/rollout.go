package library

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"slices"
	"time"

	"github.com/Masterminds/semver/v3"
)

// Rollout: pilots, canaries and deadlines (DESIGN.md §14). A released
// release carries a plan; resolve consults it per target.

// Rollout limits.
const (
	// MaxRolloutPilots bounds the pilots of one plan.
	MaxRolloutPilots = 1000
	// MaxRolloutEnvironments bounds the environments of one plan.
	MaxRolloutEnvironments = 100
	// RolloutHaltMinRecords is how many deployment records of a release in
	// rollout must exist before it can be halted automatically.
	RolloutHaltMinRecords = 5
)

// Rollout event types.
const (
	EvRolloutChanged = "release.rollout_changed"
	EvRolloutHalted  = "release.rollout_halted"
)

// Rollout is the phased plan of a released release, as its record holds
// it. A release without one is fully rolled out (percent 100). Its pilots
// are kept beside the record (ReadTx.RolloutPilot), so that resolve never
// decodes a list of up to 1,000 of them for every release it walks past.
type Rollout struct {
	// Percent is the share of targets (by RolloutBucket) that get the
	// release; 100 is fully rolled out.
	Percent int `json:"percent"`
	// PilotCount is how many pilots (targets that always get the release)
	// the plan names.
	PilotCount int `json:"pilot_count"`
	// Environments: callers resolving for one of them always get it.
	Environments []string `json:"environments"`
	// RequiredAfter: past it, resolve answers required for targets that run
	// an older version.
	RequiredAfter *time.Time `json:"required_after,omitempty"`
	UpdatedBy     string     `json:"updated_by"`
	UpdatedAt     time.Time  `json:"updated_at"`
	// Halted is set when the deployment records halted the rollout; a new
	// plan clears it.
	Halted *RolloutHalt `json:"halted,omitempty"`
}

// RolloutHalt records why a rollout was halted automatically.
type RolloutHalt struct {
	At              time.Time `json:"at"`
	Deployments     int       `json:"deployments"`
	Failed          int       `json:"failed"`
	Ratio           float64   `json:"ratio"`
	PreviousPercent int       `json:"previous_percent"`
	DeploymentID    uint64    `json:"deployment_id"`
}

// RolloutInput is a plan as a release manager sends it. An absent percent
// is 0: only the pilots and environments get the release.
type RolloutInput struct {
	Percent       *int     `json:"percent"`
	Pilots        []string `json:"pilots"`
	Environments  []string `json:"environments"`
	RequiredAfter string   `json:"required_after"`
}

// plan validates the input and builds the plan and its pilots, both
// de-duplicated and sorted.
func (in *RolloutInput) plan(actor string, now time.Time) (*Rollout, []string, error) {
	ro := &Rollout{Environments: []string{}, UpdatedBy: actor, UpdatedAt: now}
	if in.Percent != nil {
		ro.Percent = *in.Percent
	}
	if ro.Percent < 0 || ro.Percent > 100 {
		return nil, nil, withDetails(ErrInvalidInput, fmt.Sprintf("rollout percent %d must be between 0 and 100", ro.Percent), map[string]any{"field": "percent"})
	}
	if len(in.Pilots) > MaxRolloutPilots {
		return nil, nil, withDetails(ErrInvalidInput, fmt.Sprintf("a rollout has at most %d pilots, not %d", MaxRolloutPilots, len(in.Pilots)),
			map[string]any{"field": "pilots", "limit": MaxRolloutPilots})
	}
	for _, p := range in.Pilots {
		if err := ValidateTarget(p); err != nil {
			return nil, nil, withDetails(ErrInvalidInput, fmt.Sprintf("pilot %q must match %s", clip(p), targetRe), map[string]any{"field": "pilots"})
		}
	}
	if len(in.Environments) > MaxRolloutEnvironments {
		return nil, nil, withDetails(ErrInvalidInput, fmt.Sprintf("a rollout names at most %d environments, not %d", MaxRolloutEnvironments, len(in.Environments)),
			map[string]any{"field": "environments", "limit": MaxRolloutEnvironments})
	}
	for _, e := range in.Environments {
		// Any environment name is allowed (free text, like deployments),
		// as long as it is one a deployment could name.
		if err := ValidateEnvironment(e); err != nil {
			return nil, nil, withDetails(ErrInvalidInput, fmt.Sprintf("environment %q must match %s", clip(e), environmentRe), map[string]any{"field": "environments"})
		}
	}
	pilots := sortedSet(in.Pilots)
	ro.PilotCount = len(pilots)
	ro.Environments = sortedSet(in.Environments)
	if in.RequiredAfter != "" {
		t, err := time.Parse(time.RFC3339, in.RequiredAfter)
		if err != nil {
			return nil, nil, withDetails(ErrInvalidInput, fmt.Sprintf("required_after %q is not an RFC 3339 time", clip(in.RequiredAfter)), map[string]any{"field": "required_after"})
		}
		t = t.UTC()
		ro.RequiredAfter = &t
	}
	return ro, pilots, nil
}

func sortedSet(in []string) []string {
	out := slices.Clone(in)
	slices.Sort(out)
	out = slices.Compact(out)
	if out == nil {
		out = []string{}
	}
	return out
}

// RolloutBucket is a target's stable bucket in [0, 100) for a product:
// uint16(sha256(product "/" target)[0:2], big-endian) % 100. A rollout at
// percent p reaches the targets whose bucket is below p, so raising the
// percentage only adds targets.
func RolloutBucket(product, target string) int {
	sum := sha256.Sum256([]byte(product + "/" + target))
	return int(binary.BigEndian.Uint16(sum[:2]) % 100)
}

// FullyRolledOut reports whether every caller gets r: it has no plan or
// its plan is at 100%. Supersession counts only such releases.
func FullyRolledOut(r *Release) bool {
	return r.Rollout == nil || r.Rollout.Percent >= 100
}

// InRollout reports whether r is a released release below 100%.
func InRollout(r *Release) bool {
	return r.State == StateReleased && !FullyRolledOut(r)
}

// Reaches reports whether a release's rollout gives it to a caller that
// resolves as target ("" when unknown) in environment ("" when unknown):
// always when fully rolled out; else when the environment is one of the
// plan's, the target's bucket is below the percentage, or the target is
// one of its pilots (isPilot, asked last and only when the plan has
// pilots). A caller without a target gets only fully rolled-out releases,
// unless its environment is in the plan.
func Reaches(r *Release, product, target, environment string, isPilot func() bool) bool {
	if FullyRolledOut(r) {
		return true
	}
	ro := r.Rollout
	if environment != "" && slices.Contains(ro.Environments, environment) {
		return true
	}
	if target == "" {
		return false
	}
	if RolloutBucket(product, target) < ro.Percent {
		return true
	}
	return ro.PilotCount > 0 && isPilot != nil && isPilot()
}

// RolloutCounts are deployment records by status.
type RolloutCounts struct {
	Succeeded  int `json:"succeeded"`
	Failed     int `json:"failed"`
	RolledBack int `json:"rolled_back"`
}

func (c *RolloutCounts) add(s DeploymentStatus) {
	switch s {
	case DeploySucceeded:
		c.Succeeded++
	case DeployFailed:
		c.Failed++
	case DeployRolledBack:
		c.RolledBack++
	}
}

// Total is the number of records counted.
func (c RolloutCounts) Total() int { return c.Succeeded + c.Failed + c.RolledBack }

// RolloutView is the answer of GET .../rollout: the plan with its pilots,
// whether the release is fully rolled out, and the deployment records of
// the release counted per environment and in total.
type RolloutView struct {
	Product        string `json:"product"`
	Version        string `json:"version"`
	State          State  `json:"state"`
	FullyRolledOut bool   `json:"fully_rolled_out"`
	Rollout
	Pilots      []string                 `json:"pilots"`
	Deployments map[string]RolloutCounts `json:"deployments"`
	Totals      RolloutCounts            `json:"totals"`
}

// planOf is r's plan, or the implicit full one.
func planOf(r *Release) Rollout {
	if r.Rollout != nil {
		ro := *r.Rollout
		if ro.Environments == nil {
			ro.Environments = []string{}
		}
		return ro
	}
	ro := Rollout{Percent: 100, Environments: []string{}, UpdatedBy: r.ReleasedBy}
	if r.ReleasedAt != nil {
		ro.UpdatedAt = *r.ReleasedAt
	}
	return ro
}

// rolloutCounts counts a release's deployment records per environment.
func rolloutCounts(tx ReadTx, product, version string) (map[string]RolloutCounts, RolloutCounts, error) {
	per := map[string]RolloutCounts{}
	var total RolloutCounts
	_, err := tx.Deployments(DeploymentQuery{Product: product, Version: version, Match: func(d *Deployment) bool {
		c := per[d.Environment]
		c.add(d.Status)
		per[d.Environment] = c
		total.add(d.Status)
		return false
	}})
	return per, total, err
}

func (s *Service) rolloutView(tx ReadTx, r *Release) (*RolloutView, error) {
	per, total, err := rolloutCounts(tx, r.Product, r.Version)
	if err != nil {
		return nil, err
	}
	pilots, err := tx.RolloutPilots(r.Product, r.Version)
	if err != nil {
		return nil, err
	}
	return &RolloutView{Product: r.Product, Version: r.Version, State: r.State, FullyRolledOut: FullyRolledOut(r),
		Rollout: planOf(r), Pilots: pilots, Deployments: per, Totals: total}, nil
}

// hasBeenReleased reports whether r was ever released: rollouts exist only
// for released (and, afterwards, withdrawn) releases.
func hasBeenReleased(r *Release) bool {
	return r.State == StateReleased || (r.State == StateWithdrawn && r.ReleasedAt != nil)
}

// Rollout returns a release's plan and its deployment counts. A release
// that was never released is 409 INVALID_STATE.
func (s *Service) Rollout(_ context.Context, product, version string) (*RolloutView, error) {
	if err := ValidateProductName(product); err != nil {
		return nil, err
	}
	if _, err := ParseVersion(version); err != nil {
		return nil, err
	}
	var out *RolloutView
	err := s.repo.View(func(tx ReadTx) error {
		r, err := tx.Release(product, version)
		if err != nil {
			return err
		}
		if !hasBeenReleased(r) {
			return badState(r, "show the rollout of", StateReleased, StateWithdrawn)
		}
		out, err = s.rolloutView(tx, r)
		return err
	})
	return out, err
}

// SetRollout replaces the rollout plan of a released release (409
// INVALID_STATE otherwise), journaled as release.rollout_changed. When the
// release crosses 100% either way, supersession is recomputed: it counts
// only fully rolled-out releases.
func (s *Service) SetRollout(ctx context.Context, pr Principal, product, version string, in RolloutInput) (*RolloutView, error) {
	now := s.clock()
	plan, pilots, err := in.plan(pr.Name, now)
	if err != nil {
		return nil, err
	}
	var out *RolloutView
	_, err = s.transition(ctx, product, version, func(tx WriteTx, p *Product, r *Release) error {
		if r.State != StateReleased {
			return badState(r, "set the rollout of", StateReleased)
		}
		wasFull := FullyRolledOut(r)
		old := r.Rollout
		r.Rollout = plan
		if !FullyRolledOut(r) {
			r.SupersededBy = "" // supersession counts only fully rolled-out releases
		}
		if err := tx.PutRelease(r); err != nil {
			return err
		}
		if err := tx.SetRolloutPilots(product, version, pilots); err != nil {
			return err
		}
		if _, err := tx.Record(Event{Time: now, Actor: pr.Name, Type: EvRolloutChanged, Subject: product + "@" + version,
			Data: map[string]any{"product": product, "version": version, "rollout": plan, "pilots": pilots, "previous": old}}); err != nil {
			return err
		}
		if wasFull != FullyRolledOut(r) {
			if err := s.resupersede(tx, pr, p, now); err != nil {
				return err
			}
			if r, err = tx.Release(product, version); err != nil {
				return err
			}
		}
		out, err = s.rolloutView(tx, r)
		return err
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// countForRollout is called in the transaction that stores deployment d
// of release r, before its event is recorded. It keeps the release's
// running count of deployment records (ReadTx.RolloutCounts) so that the
// halt check costs one read, not a walk of every record: a count that
// exists is incremented; a missing one (a release whose records predate
// the counts, or that was never in rollout) is computed by one walk the
// first time a halt check needs it. It returns the counts when the
// rollout must halt: r is in rollout and not halted already, the policy
// sets a failure ratio, at least RolloutHaltMinRecords records exist and
// that share of them failed.
func (s *Service) countForRollout(tx WriteTx, r *Release, d *Deployment) (*RolloutCounts, error) {
	c, err := tx.RolloutCounts(d.Product, d.Version)
	if err != nil {
		return nil, err
	}
	if c != nil {
		c.add(d.Status)
		if err := tx.PutRolloutCounts(d.Product, d.Version, c); err != nil {
			return nil, err
		}
	}
	if !InRollout(r) || r.Rollout.Halted != nil {
		return nil, nil
	}
	p, err := tx.Product(d.Product)
	if err != nil {
		return nil, err
	}
	ratio := p.Policy.RolloutHaltFailureRatio
	if ratio <= 0 {
		return nil, nil
	}
	if c == nil {
		_, total, err := rolloutCounts(tx, d.Product, d.Version) // d is stored already: counted
		if err != nil {
			return nil, err
		}
		if err := tx.PutRolloutCounts(d.Product, d.Version, &total); err != nil {
			return nil, err
		}
		c = &total
	}
	n := c.Total()
	if n < RolloutHaltMinRecords || float64(c.Failed)/float64(n) < ratio {
		return nil, nil
	}
	return c, nil
}

// haltRollout halts r's rollout after deployment d pushed the failures to
// the policy's ratio, in d's transaction: percent 0, a halted note, event
// release.rollout_halted. Resolve then returns the previous release to
// everyone but the pilots and environments.
func (s *Service) haltRollout(tx WriteTx, pr Principal, r *Release, d *Deployment, c RolloutCounts) error {
	p, err := tx.Product(d.Product)
	if err != nil {
		return err
	}
	ratio := p.Policy.RolloutHaltFailureRatio
	n := c.Total()
	ro := *r.Rollout
	ro.Halted = &RolloutHalt{At: d.RecordedAt, Deployments: n, Failed: c.Failed, Ratio: ratio, PreviousPercent: ro.Percent, DeploymentID: d.ID}
	ro.Percent = 0
	r.Rollout = &ro
	if err := tx.PutRelease(r); err != nil {
		return err
	}
	_, err = tx.Record(Event{Time: d.RecordedAt, Actor: pr.Name, Type: EvRolloutHalted, Subject: d.Product + "@" + d.Version,
		Data: map[string]any{"product": d.Product, "version": d.Version, "rollout": &ro,
			"reason": fmt.Sprintf("%d of %d deployment records failed (policy rollout_halt_failure_ratio %g)", c.Failed, n, ratio)}})
	// The release was below 100% already: the set of fully rolled-out
	// releases, and so supersession, is unchanged.
	return err
}

// rolloutRequired answers resolve's "required": the returned release r has
// a required_after in the past and the target does not run r or a newer
// version of the product (by its deployment records: in the environment
// when one is given, else anywhere). A caller without a target is always
// told required once the deadline passed.
func rolloutRequired(tx ReadTx, r *Release, target, environment string, now time.Time) (bool, error) {
	if r.Rollout == nil || r.Rollout.RequiredAfter == nil || now.Before(*r.Rollout.RequiredAfter) {
		return false, nil
	}
	if target == "" {
		return true, nil
	}
	want, err := semver.StrictNewVersion(r.Version)
	if err != nil {
		return false, err
	}
	var running *Deployment
	if environment != "" {
		slot, err := tx.EnvironmentSlot(environment, r.Product, target)
		if err != nil {
			return false, err
		}
		if slot != nil && slot.Running != 0 {
			if running, err = tx.Deployment(slot.Running); err != nil {
				return false, err
			}
		}
	} else {
		list, err := tx.Deployments(DeploymentQuery{Product: r.Product, Target: target, Limit: 1,
			Match: func(d *Deployment) bool { return d.Status.Runs() }})
		if err != nil {
			return false, err
		}
		if len(list) > 0 {
			running = list[0]
		}
	}
	if running == nil {
		return true, nil
	}
	have, err := semver.StrictNewVersion(running.Version)
	if err != nil {
		return true, nil
	}
	return have.LessThan(want), nil
}
