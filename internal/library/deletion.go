package library

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/reliquary/reliquary/storage"
)

// ErrReleaseProtected: the release is part of the definitive record (it was
// released, or is named by a baseline or a deployment record) and can never
// be deleted.
var ErrReleaseProtected = errors.New("release is protected from deletion")

// Rules that keep a release from deletion (DESIGN §13). The first four hold
// for every deletion; the last three are the retention runner's own.
const (
	KeepReleased  = "released"           // released: the definitive record
	KeepWithdrawn = "withdrawn"          // withdrawn: the record of a backout
	KeepBaseline  = "baseline_member"    // a baseline names it
	KeepDeployed  = "deployed"           // a deployment record names it
	KeepYoung     = "younger_than_a_day" // created less than a day ago
	KeepRecent    = "draft_recently_touched"
	KeepNewest    = "newest_of_minor_line"
	KeepNoRule    = "no_retention_rule" // the policy has no rule for its state
)

// DeletedRelease describes what a deletion removed.
type DeletedRelease struct {
	Product   string `json:"product"`
	Version   string `json:"version"`
	State     State  `json:"state"`
	Artifacts int    `json:"artifacts"`
	Bytes     int64  `json:"bytes"`
	// Seq is the journal event that recorded the deletion.
	Seq uint64 `json:"seq"`
}

// DeleteRelease removes a release that was never released: a draft (any
// publisher), a candidate or an approved release (a release manager). Its
// index records go first, in one journaled transaction; then its blobs. A
// crash between the two leaves orphans for `fsck --repair`, never a
// listed release with missing bytes. The same version can be created again
// afterwards.
func (s *Service) DeleteRelease(ctx context.Context, pr Principal, product, version string) (*DeletedRelease, error) {
	if err := ValidateProductName(product); err != nil {
		return nil, err
	}
	if _, err := ParseVersion(version); err != nil {
		return nil, err
	}
	if !pr.CanAccess(product) {
		return nil, withDetails(ErrForbidden, "this token is not scoped to product "+product, map[string]any{"product": product})
	}
	var out *DeletedRelease
	err := s.update(ctx, func(tx WriteTx) error {
		r, err := tx.Release(product, version)
		if err != nil {
			return err
		}
		if r.State != StateDraft && pr.Role < RoleReleaseManager {
			return withDetails(ErrForbidden, fmt.Sprintf("%s@%s is %s: only a release manager may delete it", product, version, r.State),
				map[string]any{"state": r.State, "required_role": RoleReleaseManager.String()})
		}
		if rule, err := protection(tx, r); err != nil {
			return err
		} else if rule != "" {
			return protectedError(r, rule)
		}
		out, err = deleteInTx(tx, s, pr.Name, r, "")
		return err
	})
	if err != nil {
		return nil, err
	}
	s.removeReleaseBlobs(ctx, product, version)
	return out, nil
}

func protectedError(r *Release, rule string) error {
	return withDetails(ErrReleaseProtected, fmt.Sprintf("%s@%s cannot be deleted: %s", r.Product, r.Version, ruleText(rule)),
		map[string]any{"state": r.State, "rule": rule})
}

func ruleText(rule string) string {
	switch rule {
	case KeepReleased:
		return "it was released (released and withdrawn releases are the definitive record)"
	case KeepWithdrawn:
		return "it was released and withdrawn (released and withdrawn releases are the definitive record)"
	case KeepBaseline:
		return "a baseline names it"
	case KeepDeployed:
		return "a deployment record names it"
	}
	return rule
}

// protection returns the rule that forbids deleting r at all ("" if none):
// its state, a baseline naming it, a deployment record naming it.
func protection(tx ReadTx, r *Release) (string, error) {
	switch r.State {
	case StateReleased:
		return KeepReleased, nil
	case StateWithdrawn:
		return KeepWithdrawn, nil
	}
	deps, err := tx.Deployments(DeploymentQuery{Product: r.Product, Version: r.Version, Limit: 1})
	if err != nil {
		return "", err
	}
	if len(deps) > 0 {
		return KeepDeployed, nil
	}
	named := false
	err = tx.Baselines(func(b *Baseline) bool {
		named = slices.ContainsFunc(b.Releases, func(m BaselineMember) bool { return m.Product == r.Product && m.Version == r.Version })
		return !named
	})
	if err != nil {
		return "", err
	}
	if named {
		return KeepBaseline, nil
	}
	return "", nil
}

// deleteInTx removes r's records and records the event; reason is the
// retention rule that chose it ("" for a person's deletion).
func deleteInTx(tx WriteTx, s *Service, actor string, r *Release, reason string) (*DeletedRelease, error) {
	arts, err := tx.Artifacts(r.Product, r.Version)
	if err != nil {
		return nil, err
	}
	d := &DeletedRelease{Product: r.Product, Version: r.Version, State: r.State, Artifacts: len(arts)}
	for _, a := range arts {
		d.Bytes += a.Size
	}
	if err := tx.DeleteRelease(r.Product, r.Version); err != nil {
		return nil, err
	}
	data := map[string]any{"product": r.Product, "version": r.Version, "state": r.State,
		"artifacts": d.Artifacts, "bytes": d.Bytes}
	if reason != "" {
		data["reason"] = reason
	}
	ev, err := tx.Record(Event{Time: s.clock(), Actor: actor, Type: EvReleaseDeleted, Subject: r.Product + "@" + r.Version, Data: data})
	if err != nil {
		return nil, err
	}
	d.Seq = ev.Seq
	return d, nil
}

// removeReleaseBlobs deletes every object under the release's folder
// (artifacts, manifest, signature, evidence). The index no longer names
// them: a failure leaves orphans for fsck --repair, never a visible release.
func (s *Service) removeReleaseBlobs(ctx context.Context, product, version string) {
	ctx = context.WithoutCancel(ctx)
	var keys []string
	prefix := storage.ReleasePrefix(product, version)
	if err := s.store.List(ctx, prefix, func(i storage.Info) error {
		keys = append(keys, i.Key)
		return nil
	}); err != nil {
		s.log.Warn("release deleted from the index, objects left for fsck", "subject", product+"@"+version, "err", err)
		return
	}
	for _, k := range keys {
		if err := s.store.Delete(ctx, k); err != nil && !errors.Is(err, storage.ErrNotFound) {
			s.log.Warn("release deleted from the index, object left for fsck", "key", k, "err", err)
		}
	}
}
