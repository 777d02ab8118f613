package library

import (
	"context"
	"fmt"
	"slices"
	"sync/atomic"
	"time"

	"github.com/Masterminds/semver/v3"
)

// RetentionPolicy is policy.retention: what the retention runner may delete
// of what was never released. A zero field turns its rule off.
type RetentionPolicy struct {
	// DraftsDays: drafts untouched (created, or last uploaded to) for more
	// than this many days are deleted.
	DraftsDays int `json:"drafts_days,omitempty"`
	// CandidatesKeep: of the candidate and approved releases of each minor
	// line (X.Y), the newest K are kept and the older ones deleted.
	CandidatesKeep int `json:"candidates_keep,omitempty"`
}

func (r *RetentionPolicy) validate() error {
	if r == nil {
		return nil
	}
	bad := func(field, msg string) error {
		return withDetails(ErrInvalidInput, fmt.Sprintf("policy.retention.%s %s", field, msg), map[string]any{"field": "retention." + field})
	}
	switch {
	case r.DraftsDays < 0 || r.DraftsDays > 36500:
		return bad("drafts_days", "must be between 1 and 36500 (or absent: no rule for drafts)")
	case r.CandidatesKeep < 0 || r.CandidatesKeep > 10000:
		return bad("candidates_keep", "must be between 1 and 10000 (or absent: no rule for candidates)")
	case r.DraftsDays == 0 && r.CandidatesKeep == 0:
		return bad("drafts_days", "or candidates_keep must be set: an empty retention policy deletes nothing (send no retention at all)")
	}
	return nil
}

// Reasons the retention runner deletes a release.
const (
	ReasonDraftUntouched = "draft_untouched"
	ReasonBeyondNewest   = "beyond_newest_of_minor_line"
)

// MinRetentionAge: nothing younger is ever deleted by the runner.
const MinRetentionAge = 24 * time.Hour

// RetentionItem is one release the run deleted (Reason) or kept (Rule).
type RetentionItem struct {
	Product string `json:"product"`
	Version string `json:"version"`
	State   State  `json:"state"`
	Reason  string `json:"reason,omitempty"`
	Rule    string `json:"rule,omitempty"`
	Detail  string `json:"detail"`
	// Bytes of its artifacts: freed (deleted) or that would be (dry run).
	Bytes int64 `json:"bytes,omitempty"`
}

// RetentionReport is the outcome of a run, dry or real. Only products
// whose policy has a retention rule are looked at.
type RetentionReport struct {
	DryRun     bool            `json:"dry_run"`
	RanAt      time.Time       `json:"ran_at"`
	Products   []string        `json:"products"`
	Deleted    []RetentionItem `json:"deleted"`
	Kept       []RetentionItem `json:"kept"`
	BytesFreed int64           `json:"bytes_freed"`
}

// retentionStats are the runner's counters, exported as metrics.
type retentionStats struct {
	releases atomic.Int64
	bytes    atomic.Int64
}

// RetentionTotals reports the releases deleted and bytes freed by retention
// runs since the process started (reliquary_retention_*_total).
func (s *Service) RetentionTotals() (releases, bytes int64) {
	return s.retention.releases.Load(), s.retention.bytes.Load()
}

// retentionBatch is how many deletions share one index transaction (each
// still its own journal event).
const retentionBatch = 256

// RunRetention applies every product's retention policy (the products in
// the principal's scope). A dry run decides exactly as a real run and
// changes nothing; a real run deletes what the dry run lists, re-checking
// each release in the deleting transaction (a release sealed, deployed or
// named by a baseline since is kept and listed as kept).
func (s *Service) RunRetention(ctx context.Context, pr Principal, dryRun bool) (*RetentionReport, error) {
	now := s.clock()
	rep := &RetentionReport{DryRun: dryRun, RanAt: now, Products: []string{}, Deleted: []RetentionItem{}, Kept: []RetentionItem{}}
	var products []*Product
	err := s.repo.View(func(tx ReadTx) error {
		return tx.Products(func(p *Product) bool {
			if p.Policy.Retention != nil && pr.CanAccess(p.Name) {
				products = append(products, p)
			}
			return true
		})
	})
	if err != nil {
		return nil, err
	}
	for _, p := range products {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		rep.Products = append(rep.Products, p.Name)
		var plan []RetentionItem
		err := s.repo.View(func(tx ReadTx) error {
			var err error
			plan, err = retentionPlan(tx, p, now)
			return err
		})
		if err != nil {
			return nil, fmt.Errorf("retention plan for %s: %w", p.Name, err)
		}
		var doomed []RetentionItem
		for _, it := range plan {
			if it.Reason != "" {
				doomed = append(doomed, it)
			} else {
				rep.Kept = append(rep.Kept, it)
			}
		}
		if dryRun {
			for _, it := range doomed {
				rep.Deleted = append(rep.Deleted, it)
				rep.BytesFreed += it.Bytes
			}
			continue
		}
		for chunk := range slices.Chunk(doomed, retentionBatch) {
			deleted, kept, err := s.deleteChunk(ctx, pr, p, chunk, now)
			if err != nil {
				return nil, fmt.Errorf("retention in %s: %w", p.Name, err)
			}
			rep.Kept = append(rep.Kept, kept...)
			for _, it := range deleted {
				s.removeReleaseBlobs(ctx, it.Product, it.Version)
				rep.Deleted = append(rep.Deleted, it)
				rep.BytesFreed += it.Bytes
				s.retention.releases.Add(1)
				s.retention.bytes.Add(it.Bytes)
			}
		}
	}
	return rep, nil
}

// deleteChunk deletes the planned releases in one transaction, keeping any
// that changed since the plan.
func (s *Service) deleteChunk(ctx context.Context, pr Principal, p *Product, chunk []RetentionItem, now time.Time) (deleted, kept []RetentionItem, err error) {
	err = s.update(ctx, func(tx WriteTx) error {
		deleted, kept = nil, nil
		named, err := baselineMembers(tx)
		if err != nil {
			return err
		}
		for _, it := range chunk {
			r, err := tx.Release(it.Product, it.Version)
			if err != nil {
				continue // gone already
			}
			again, err := decideRetention(tx, p, r, now, named, -1)
			if err != nil {
				return err
			}
			if r.State != it.State || again.Rule != "" {
				kept = append(kept, again)
				continue
			}
			if _, err := deleteInTx(tx, s, pr.Name, r, it.Reason); err != nil {
				return err
			}
			deleted = append(deleted, it)
		}
		return nil
	})
	return deleted, kept, err
}

// baselineMembers is the set of "product@version" named by any baseline.
func baselineMembers(tx ReadTx) (map[string]bool, error) {
	named := map[string]bool{}
	err := tx.Baselines(func(b *Baseline) bool {
		for _, m := range b.Releases {
			named[m.Product+"@"+m.Version] = true
		}
		return true
	})
	return named, err
}

// retentionPlan decides every release of p, newest first.
func retentionPlan(tx ReadTx, p *Product, now time.Time) ([]RetentionItem, error) {
	named, err := baselineMembers(tx)
	if err != nil {
		return nil, err
	}
	rank := map[string]int{} // minor line → candidates/approved seen so far (newer first)
	var out []RetentionItem
	var failed error
	// Match decides each release as the walk reads it and keeps none, so
	// a product of any size is planned in the memory of its decisions.
	_, err = tx.Releases(p.Name, ReleaseQuery{Match: func(r *Release) bool {
		if failed != nil {
			return false
		}
		n := -1
		if r.State == StateCandidate || r.State == StateApproved {
			line := minorLine(r.Version)
			n = rank[line]
			rank[line]++
		}
		it, err := decideRetention(tx, p, r, now, named, n)
		if err != nil {
			failed = err
			return false
		}
		out = append(out, it)
		return false
	}})
	if err == nil {
		err = failed
	}
	if err != nil {
		return nil, err
	}
	return out, nil
}

func minorLine(version string) string {
	v, err := semver.StrictNewVersion(version)
	if err != nil {
		return version
	}
	return fmt.Sprintf("%d.%d", v.Major(), v.Minor())
}

// decideRetention applies DESIGN §13 to one release. rank is its place
// among the candidate and approved releases of its minor line, newest
// first (0 = newest); -1 skips the newest-K rule (a re-check of a release
// the plan already placed beyond it).
func decideRetention(tx ReadTx, p *Product, r *Release, now time.Time, named map[string]bool, rank int) (RetentionItem, error) {
	it := RetentionItem{Product: r.Product, Version: r.Version, State: r.State}
	keep := func(rule, detail string) (RetentionItem, error) {
		it.Rule, it.Detail = rule, detail
		return it, nil
	}
	switch {
	case r.State == StateReleased:
		return keep(KeepReleased, "released releases are never deleted")
	case r.State == StateWithdrawn:
		return keep(KeepWithdrawn, "withdrawn releases are never deleted")
	case named[r.Product+"@"+r.Version]:
		return keep(KeepBaseline, "a baseline names it")
	}
	deps, err := tx.Deployments(DeploymentQuery{Product: r.Product, Version: r.Version, Limit: 1})
	if err != nil {
		return it, err
	}
	if len(deps) > 0 {
		return keep(KeepDeployed, "a deployment record names it")
	}
	if now.Sub(r.CreatedAt) < MinRetentionAge {
		return keep(KeepYoung, "created "+r.CreatedAt.Format(time.RFC3339)+", less than a day ago")
	}
	pol := p.Policy.Retention
	var arts []Artifact
	bytes := func() int64 {
		var n int64
		for _, a := range arts {
			n += a.Size
		}
		return n
	}
	switch r.State {
	case StateDraft:
		if pol.DraftsDays == 0 {
			return keep(KeepNoRule, "the policy has no drafts_days rule")
		}
		if arts, err = tx.Artifacts(r.Product, r.Version); err != nil {
			return it, err
		}
		touched := lastTouched(r, arts)
		limit := time.Duration(pol.DraftsDays) * 24 * time.Hour
		if now.Sub(touched) <= limit {
			return keep(KeepRecent, fmt.Sprintf("last touched %s, within %d days", touched.Format(time.RFC3339), pol.DraftsDays))
		}
		it.Reason, it.Bytes = ReasonDraftUntouched, bytes()
		it.Detail = fmt.Sprintf("draft untouched since %s (more than %d days)", touched.Format(time.RFC3339), pol.DraftsDays)
		return it, nil
	default: // candidate, approved
		if pol.CandidatesKeep == 0 {
			return keep(KeepNoRule, "the policy has no candidates_keep rule")
		}
		if rank >= 0 && rank < pol.CandidatesKeep {
			return keep(KeepNewest, fmt.Sprintf("one of the newest %d candidate or approved releases of %s", pol.CandidatesKeep, minorLine(r.Version)))
		}
		if arts, err = tx.Artifacts(r.Product, r.Version); err != nil {
			return it, err
		}
		it.Reason, it.Bytes = ReasonBeyondNewest, bytes()
		it.Detail = fmt.Sprintf("older than the newest %d candidate or approved releases of %s", pol.CandidatesKeep, minorLine(r.Version))
		return it, nil
	}
}

// lastTouched is when a draft last changed: created, an upload, or a
// recorded transition.
func lastTouched(r *Release, arts []Artifact) time.Time {
	t := r.CreatedAt
	for _, a := range arts {
		if a.UploadedAt.After(t) {
			t = a.UploadedAt
		}
	}
	for _, h := range r.History {
		if h.Time.After(t) {
			t = h.Time
		}
	}
	return t
}

// RetentionLoop runs the retention policies every interval until ctx ends.
func (s *Service) RetentionLoop(ctx context.Context, every time.Duration) {
	if every <= 0 {
		return
	}
	t := time.NewTicker(every)
	defer t.Stop()
	runner := Principal{Name: "retention", Role: RoleAdmin}
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		rep, err := s.RunRetention(ctx, runner, false)
		if err != nil {
			if ctx.Err() == nil {
				s.log.Warn("retention run failed", "err", err)
			}
			continue
		}
		if len(rep.Deleted) > 0 {
			s.log.Info("retention run", "deleted", len(rep.Deleted), "kept", len(rep.Kept), "bytes_freed", rep.BytesFreed)
		}
	}
}
