package library

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"time"
)

// ErrEnvironmentNotFound: no deployment was ever recorded in the environment.
var ErrEnvironmentNotFound = errors.New("environment not found")

// DeploymentStatus is the outcome an installer reports.
type DeploymentStatus string

// The deployment outcomes. A rolled_back record says the target was rolled
// back *to* the record's version, which now runs there; a failed record
// never changes what runs.
const (
	DeploySucceeded  DeploymentStatus = "succeeded"
	DeployFailed     DeploymentStatus = "failed"
	DeployRolledBack DeploymentStatus = "rolled_back"
)

// Valid reports whether s names an outcome.
func (s DeploymentStatus) Valid() bool {
	return s == DeploySucceeded || s == DeployFailed || s == DeployRolledBack
}

// Runs reports whether the record's version runs on the target afterwards.
func (s DeploymentStatus) Runs() bool { return s == DeploySucceeded || s == DeployRolledBack }

// MaxDeploymentDetails bounds the details object of a deployment record.
const MaxDeploymentDetails = 16 << 10

var (
	environmentRe = regexp.MustCompile(`^[a-z0-9][a-z0-9._-]{0,62}$`)
	targetRe      = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._:@/-]{0,252}$`)
)

// Deployment is one installation record written by an installer. IDs
// count records from 1 in the order they were written.
type Deployment struct {
	ID          uint64           `json:"id"`
	Product     string           `json:"product"`
	Version     string           `json:"version"`
	Type        ReleaseType      `json:"type"`
	Environment string           `json:"environment"`
	Target      string           `json:"target"`
	Status      DeploymentStatus `json:"status"`
	ChangeID    string           `json:"change_id"`
	Details     json.RawMessage  `json:"details"`
	RecordedBy  string           `json:"recorded_by"`
	RecordedAt  time.Time        `json:"recorded_at"`
}

// DeploymentInput is a deployment record as an installer sends it.
type DeploymentInput struct {
	Product     string           `json:"product"`
	Version     string           `json:"version"`
	Environment string           `json:"environment"`
	Target      string           `json:"target"`
	Status      DeploymentStatus `json:"status"`
	ChangeID    string           `json:"change_id"`
	Details     json.RawMessage  `json:"details"`
}

// ValidateEnvironment checks an environment name (the product slug rule).
func ValidateEnvironment(s string) error {
	if !environmentRe.MatchString(s) {
		return withDetails(ErrInvalidName, fmt.Sprintf("environment %q must match %s", clip(s), environmentRe), map[string]any{"field": "environment"})
	}
	return nil
}

// ValidateTarget checks a deployment target (a host, a cluster/namespace, ...).
func ValidateTarget(s string) error {
	if !targetRe.MatchString(s) {
		return withDetails(ErrInvalidInput, fmt.Sprintf("target %q must match %s", clip(s), targetRe), map[string]any{"field": "target"})
	}
	return nil
}

func (in *DeploymentInput) validate() (json.RawMessage, error) {
	if err := ValidateProductName(in.Product); err != nil {
		return nil, err
	}
	in.Version = NormalizeVersionInput(in.Version)
	if _, err := ParseVersion(in.Version); err != nil {
		return nil, err
	}
	if err := ValidateEnvironment(in.Environment); err != nil {
		return nil, err
	}
	if err := ValidateTarget(in.Target); err != nil {
		return nil, err
	}
	if !in.Status.Valid() {
		return nil, withDetails(ErrInvalidInput, fmt.Sprintf("status %q is not one of succeeded, failed, rolled_back", clip(string(in.Status))), map[string]any{"field": "status"})
	}
	if err := checkText("change_id", in.ChangeID, 128); err != nil {
		return nil, err
	}
	details := bytes.TrimSpace(in.Details)
	if len(details) == 0 || string(details) == "null" {
		return json.RawMessage(`{}`), nil
	}
	if details[0] != '{' {
		return nil, withDetails(ErrInvalidInput, "details must be a JSON object", map[string]any{"field": "details"})
	}
	var buf bytes.Buffer
	if err := json.Compact(&buf, details); err != nil {
		return nil, withDetails(ErrInvalidInput, "details is not valid JSON", map[string]any{"field": "details"})
	}
	if buf.Len() > MaxDeploymentDetails {
		return nil, withDetails(ErrInvalidInput, fmt.Sprintf("details is larger than %d bytes", MaxDeploymentDetails),
			map[string]any{"field": "details", "limit": MaxDeploymentDetails})
	}
	return buf.Bytes(), nil
}

// EnvironmentSlot is what the index keeps per environment, product and
// target: the deployment whose version runs there and the newest record.
type EnvironmentSlot struct {
	Environment string `json:"environment"`
	Product     string `json:"product"`
	Target      string `json:"target"`
	// Running is the ID of the newest succeeded or rolled_back record (0:
	// nothing has run there yet).
	Running uint64 `json:"running"`
	// Last is the ID of the newest record of any status.
	Last uint64 `json:"last"`
}

// RecordDeployment stores an installation record of a sealed release
// (candidate, approved, released or withdrawn; a draft is 409
// INVALID_STATE) and updates what runs on the target.
func (s *Service) RecordDeployment(ctx context.Context, pr Principal, in DeploymentInput) (*Deployment, error) {
	details, err := in.validate()
	if err != nil {
		return nil, err
	}
	if !pr.CanAccess(in.Product) {
		return nil, withDetails(ErrForbidden, "this token is not scoped to product "+in.Product, map[string]any{"product": in.Product})
	}
	d := &Deployment{Product: in.Product, Version: in.Version, Environment: in.Environment, Target: in.Target,
		Status: in.Status, ChangeID: in.ChangeID, Details: details, RecordedBy: pr.Name, RecordedAt: s.clock()}
	err = s.update(ctx, func(tx WriteTx) error {
		r, err := tx.Release(in.Product, in.Version)
		if err != nil {
			return err
		}
		if r.State == StateDraft {
			return withDetails(ErrInvalidState, fmt.Sprintf("%s@%s is a draft: only sealed releases can be deployed", in.Product, in.Version),
				map[string]any{"state": r.State, "allowed": []State{StateCandidate, StateApproved, StateReleased, StateWithdrawn}})
		}
		d.Type = r.Type
		// Ids count deployments from 1: one more than the newest record.
		newest, err := tx.Deployments(DeploymentQuery{Limit: 1})
		if err != nil {
			return err
		}
		d.ID = 1
		if len(newest) > 0 {
			d.ID = newest[0].ID + 1
		}
		slot, err := tx.EnvironmentSlot(d.Environment, d.Product, d.Target)
		if err != nil {
			return err
		}
		if slot == nil {
			slot = &EnvironmentSlot{Environment: d.Environment, Product: d.Product, Target: d.Target}
		}
		slot.Last = d.ID
		if d.Status.Runs() {
			slot.Running = d.ID
		}
		if err := tx.PutDeployment(d); err != nil {
			return err
		}
		if err := tx.PutEnvironmentSlot(slot); err != nil {
			return err
		}
		halt, err := s.countForRollout(tx, r, d) // before Record: its writes travel with the record's event
		if err != nil {
			return err
		}
		_, err = tx.Record(Event{Time: d.RecordedAt, Actor: pr.Name, Type: EvDeploymentRecorded, Subject: d.Product + "@" + d.Version,
			Data: map[string]any{"deployment": d}})
		if err != nil {
			return err
		}
		if halt != nil {
			return s.haltRollout(tx, pr, r, d, *halt)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return d, nil
}

// DeploymentFilter narrows a deployment listing; Version needs Product.
type DeploymentFilter struct {
	Product, Version, Environment, Target string
	Limit                                 int
	Cursor                                string // the id of the last record of the previous page
}

// Deployments lists deployment records newest first, limited to the
// products the principal may access. next is the cursor of the following
// page ("" at the end).
func (s *Service) Deployments(_ context.Context, pr Principal, f DeploymentFilter) (list []*Deployment, next string, err error) {
	if f.Product != "" {
		if err := ValidateProductName(f.Product); err != nil {
			return nil, "", err
		}
	}
	if f.Version != "" {
		if f.Product == "" {
			return nil, "", withDetails(ErrInvalidInput, "filtering by version needs a product", map[string]any{"parameter": "version"})
		}
		f.Version = NormalizeVersionInput(f.Version)
		if _, err := ParseVersion(f.Version); err != nil {
			return nil, "", err
		}
	}
	if f.Environment != "" {
		if err := ValidateEnvironment(f.Environment); err != nil {
			return nil, "", err
		}
	}
	if f.Target != "" {
		if err := ValidateTarget(f.Target); err != nil {
			return nil, "", err
		}
	}
	var before uint64
	if f.Cursor != "" {
		if before, err = strconv.ParseUint(f.Cursor, 10, 64); err != nil || before == 0 {
			return nil, "", withDetails(ErrInvalidInput, "cursor is not a deployment id from a previous page", map[string]any{"parameter": "cursor"})
		}
	}
	limit := f.Limit
	if limit <= 0 || limit > MaxPage {
		limit = 100
	}
	err = s.repo.View(func(tx ReadTx) error {
		var err error
		list, err = tx.Deployments(DeploymentQuery{Product: f.Product, Version: f.Version, Environment: f.Environment, Target: f.Target,
			Before: before, Limit: limit + 1, Match: func(d *Deployment) bool { return pr.CanAccess(d.Product) }})
		return err
	})
	if err != nil {
		return nil, "", err
	}
	if len(list) > limit {
		list = list[:limit]
		next = strconv.FormatUint(list[limit-1].ID, 10)
	}
	return list, next, nil
}

// Install is what runs on one target of an environment for one product:
// the newest succeeded or rolled_back deployment there, with its release's
// state now. Superseded or withdrawn installs are what must be upgraded or
// rolled back.
type Install struct {
	Product      string           `json:"product"`
	Target       string           `json:"target"`
	Version      string           `json:"version"`
	Type         ReleaseType      `json:"type"`
	Status       DeploymentStatus `json:"status"`
	DeploymentID uint64           `json:"deployment_id"`
	ChangeID     string           `json:"change_id"`
	DeployedBy   string           `json:"deployed_by"`
	DeployedAt   time.Time        `json:"deployed_at"`
	State        State            `json:"state"`
	Superseded   bool             `json:"superseded"`
	SupersededBy string           `json:"superseded_by,omitempty"`
	Withdrawn    bool             `json:"withdrawn"`
	Withdrawal   *Withdrawal      `json:"withdrawal,omitempty"`
	// LastAttempt is the newest record for the target when it did not
	// change what runs (a failed deployment after this one).
	LastAttempt *Deployment `json:"last_attempt,omitempty"`
}

// EnvironmentView is the current picture of an environment.
type EnvironmentView struct {
	Environment string    `json:"environment"`
	Installs    []Install `json:"installs"` // by product, then target
}

// Environment answers "what runs in env?": per product and target, the
// version of the newest succeeded or rolled_back deployment, flagged when
// its release is now superseded or withdrawn. Targets where every
// deployment failed are not listed. An environment without any record is
// ErrEnvironmentNotFound.
func (s *Service) Environment(_ context.Context, pr Principal, env string) (*EnvironmentView, error) {
	if err := ValidateEnvironment(env); err != nil {
		return nil, err
	}
	v := &EnvironmentView{Environment: env, Installs: []Install{}}
	err := s.repo.View(func(tx ReadTx) error {
		slots, err := tx.EnvironmentSlots(env)
		if err != nil {
			return err
		}
		if len(slots) == 0 {
			return withDetails(ErrEnvironmentNotFound, fmt.Sprintf("no deployment was ever recorded in environment %q", env), map[string]any{"environment": env})
		}
		for _, sl := range slots {
			if sl.Running == 0 || !pr.CanAccess(sl.Product) {
				continue
			}
			d, err := tx.Deployment(sl.Running)
			if err != nil {
				return err
			}
			r, err := tx.Release(d.Product, d.Version)
			if err != nil {
				return err
			}
			in := Install{Product: d.Product, Target: d.Target, Version: d.Version, Type: d.Type, Status: d.Status, DeploymentID: d.ID,
				ChangeID: d.ChangeID, DeployedBy: d.RecordedBy, DeployedAt: d.RecordedAt, State: r.State,
				Superseded: r.SupersededBy != "", SupersededBy: r.SupersededBy, Withdrawn: r.State == StateWithdrawn, Withdrawal: r.Withdrawn}
			if sl.Last != sl.Running {
				if in.LastAttempt, err = tx.Deployment(sl.Last); err != nil {
					return err
				}
			}
			v.Installs = append(v.Installs, in)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	slices.SortFunc(v.Installs, func(a, b Install) int {
		return cmp.Or(cmp.Compare(a.Product, b.Product), cmp.Compare(a.Target, b.Target))
	})
	return v, nil
}

// DeploymentQuery selects deployment records newest first. Every non-empty
// field must match (Version only with Product); the index walks the most
// selective of its secondary indexes.
type DeploymentQuery struct {
	Product, Version, Environment, Target string
	// Before, when non-zero, resumes below this id (exclusive): a cursor.
	Before uint64
	// Match filters; returning false skips the record.
	Match func(*Deployment) bool
	// Limit stops after this many matches (0: no limit).
	Limit int
	// Scanned, when set, is incremented per record looked at.
	Scanned *int
}
