package library

import (
	"bytes"
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/Masterminds/semver/v3"

	"github.com/reliquary/reliquary/internal/manifest"
	"github.com/reliquary/reliquary/storage"
)

// Baseline refusals, each with its own error code in the API.
var (
	ErrBaselineNotFound  = errors.New("baseline not found")
	ErrBaselineExists    = errors.New("baseline already exists")
	ErrMemberNotReleased = errors.New("a baseline member is not released")
	ErrEmptyBaseline     = errors.New("baseline has no members")
)

// MaxBaselineMembers bounds the size of a baseline.
const MaxBaselineMembers = 1000

// FromCurrent is the BaselineInput.From that takes every product's current
// release.
const FromCurrent = "current"

// Baseline is a named, immutable, signed set of (product, version) pairs:
// what production is made of at a point in time. Its signed canonical
// manifest (manifest.BaselineManifest) is stored at baselines/<name>/
// manifest.json; the index keeps this record with the manifest's digest.
type Baseline struct {
	Name        string           `json:"name"`
	Description string           `json:"description"`
	ChangeID    string           `json:"change_id"`
	From        string           `json:"from,omitempty"` // "current" when taken from the current releases
	Releases    []BaselineMember `json:"releases"`       // sorted by product
	CreatedBy   string           `json:"created_by"`
	CreatedAt   time.Time        `json:"created_at"`
	// ManifestDigest is "sha256:<hex>" of the stored manifest bytes.
	ManifestDigest string `json:"manifest_digest"`
	KeyID          string `json:"key_id"`
}

// BaselineMember is one (product, version) pair of a baseline and the
// release type of that version.
type BaselineMember struct {
	Product string      `json:"product"`
	Version string      `json:"version"`
	Type    ReleaseType `json:"type"`
}

// ReleaseRef names one release.
type ReleaseRef struct {
	Product string `json:"product"`
	Version string `json:"version"`
}

// BaselineInput creates a baseline: either an explicit list of releases, or
// From "current" for every product's current release.
type BaselineInput struct {
	Name        string       `json:"name"`
	Description string       `json:"description"`
	ChangeID    string       `json:"change_id"`
	Releases    []ReleaseRef `json:"releases"`
	From        string       `json:"from"`
}

func (in *BaselineInput) validate() error {
	if err := ValidateBaselineName(in.Name); err != nil {
		return err
	}
	if err := checkText("description", in.Description, maxText); err != nil {
		return err
	}
	if err := checkText("change_id", in.ChangeID, 128); err != nil {
		return err
	}
	switch {
	case in.From != "" && in.From != FromCurrent:
		return withDetails(ErrInvalidInput, fmt.Sprintf("from %q: the only value is \"current\"", clip(in.From)), map[string]any{"field": "from"})
	case in.From == FromCurrent && len(in.Releases) > 0:
		return withDetails(ErrInvalidInput, "give either releases or from: \"current\", not both", map[string]any{"field": "releases"})
	case in.From == "" && len(in.Releases) == 0:
		return withDetails(ErrInvalidInput, "a baseline needs releases, or from: \"current\"", map[string]any{"field": "releases"})
	case len(in.Releases) > MaxBaselineMembers:
		return withDetails(ErrInvalidInput, fmt.Sprintf("a baseline has at most %d members", MaxBaselineMembers), map[string]any{"field": "releases"})
	}
	seen := make(map[string]bool, len(in.Releases))
	for i := range in.Releases {
		in.Releases[i].Version = NormalizeVersionInput(in.Releases[i].Version)
	}
	for _, m := range in.Releases {
		if err := ValidateProductName(m.Product); err != nil {
			return err
		}
		if _, err := ParseVersion(m.Version); err != nil {
			return err
		}
		if seen[m.Product] {
			return withDetails(ErrInvalidInput, fmt.Sprintf("product %s appears more than once: a baseline holds one release per product", m.Product),
				map[string]any{"field": "releases", "product": m.Product})
		}
		seen[m.Product] = true
	}
	return nil
}

// CreateBaseline freezes a baseline: every member must be released (409
// MEMBER_NOT_RELEASED otherwise), the name must be new. From "current"
// takes, for each product the principal may access, its highest current
// release (with supported_majors or supported_minors above 1 a product has
// several current lines; the highest is taken); products without one are
// left out. The signed manifest is written create-only before the index
// commit that names it.
func (s *Service) CreateBaseline(ctx context.Context, pr Principal, in BaselineInput) (*BaselineView, error) {
	if err := in.validate(); err != nil {
		return nil, err
	}
	for _, m := range in.Releases {
		if !pr.CanAccess(m.Product) {
			return nil, withDetails(ErrForbidden, "this token is not scoped to product "+m.Product, map[string]any{"product": m.Product})
		}
	}
	unlock, err := s.locks.lock(ctx, "baseline#"+in.Name)
	if err != nil {
		return nil, err
	}
	defer unlock()

	var members []BaselineMember
	err = s.repo.View(func(tx ReadTx) error {
		if _, err := tx.Baseline(in.Name); err == nil {
			return baselineExists(in.Name)
		} else if !errors.Is(err, ErrBaselineNotFound) {
			return err
		}
		if in.From == FromCurrent {
			members, err = currentMembers(tx, pr)
			return err
		}
		for _, ref := range in.Releases {
			r, err := tx.Release(ref.Product, ref.Version)
			if err != nil {
				return err
			}
			if err := releasedMember(r); err != nil {
				return err
			}
			members = append(members, BaselineMember{Product: r.Product, Version: r.Version, Type: r.Type})
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if len(members) == 0 {
		return nil, withDetails(ErrEmptyBaseline, "no product has a current release to put in the baseline", nil)
	}
	slices.SortFunc(members, func(a, b BaselineMember) int { return cmp.Compare(a.Product, b.Product) })

	now := s.clock()
	m := manifest.BaselineManifest{Name: in.Name, Description: in.Description, ChangeID: in.ChangeID, CreatedBy: pr.Name, CreatedAt: now}
	for _, mb := range members {
		m.Releases = append(m.Releases, manifest.BaselineMember{Product: mb.Product, Version: mb.Version, Type: string(mb.Type)})
	}
	body, err := m.Marshal()
	if err != nil {
		return nil, fmt.Errorf("baseline %s: manifest: %w", in.Name, err)
	}
	sum := sha256.Sum256(body)
	sig, err := s.signer.SignDigest(ctx, sum[:])
	if err != nil {
		return nil, fmt.Errorf("baseline %s: sign manifest: %w", in.Name, err)
	}
	mkey, skey := storage.BaselineManifestKey(in.Name), storage.BaselineManifestSigKey(in.Name)
	// putFresh is create-only; an object already at the key is an orphan of
	// an interrupted creation (the index does not name the baseline and this
	// caller holds the name's lock), so it is replaced.
	absent := func(tx ReadTx) error {
		if _, err := tx.Baseline(in.Name); err == nil {
			return baselineExists(in.Name)
		} else if !errors.Is(err, ErrBaselineNotFound) {
			return err
		}
		return nil
	}
	if err := s.putFresh(ctx, mkey, body, manifest.ManifestMediaType, absent); err != nil {
		return nil, fmt.Errorf("baseline %s: %w", in.Name, err)
	}
	if err := s.putFresh(ctx, skey, manifest.EncodeSignature(sig), "text/plain", absent); err != nil {
		s.removeObjects(ctx, mkey)
		return nil, fmt.Errorf("baseline %s: %w", in.Name, err)
	}

	b := &Baseline{Name: in.Name, Description: in.Description, ChangeID: in.ChangeID, From: in.From, Releases: members,
		CreatedBy: pr.Name, CreatedAt: now, ManifestDigest: "sha256:" + hex.EncodeToString(sum[:]), KeyID: s.signer.KeyID()}
	var view *BaselineView
	err = s.update(ctx, func(tx WriteTx) error {
		if _, err := tx.Baseline(b.Name); err == nil {
			return baselineExists(b.Name)
		} else if !errors.Is(err, ErrBaselineNotFound) {
			return err
		}
		// A member withdrawn since the read above refuses the baseline.
		for _, mb := range b.Releases {
			r, err := tx.Release(mb.Product, mb.Version)
			if err != nil {
				return err
			}
			if err := releasedMember(r); err != nil {
				return err
			}
		}
		if err := tx.PutBaseline(b); err != nil {
			return err
		}
		if _, err := tx.Record(Event{Time: now, Actor: pr.Name, Type: EvBaselineCreated, Subject: b.Name,
			Data: map[string]any{"baseline": b, "signature": base64.StdEncoding.EncodeToString(sig)}}); err != nil {
			return err
		}
		view, err = baselineView(tx, b)
		return err
	})
	if err != nil {
		if !committed(err) {
			s.removeObjects(ctx, mkey, skey)
		}
		return nil, err
	}
	return view, nil
}

func baselineExists(name string) error {
	return withDetails(ErrBaselineExists, fmt.Sprintf("baseline %q already exists; baselines never change", name), map[string]any{"baseline": name})
}

func releasedMember(r *Release) error {
	if r.State == StateReleased {
		return nil
	}
	return withDetails(ErrMemberNotReleased, fmt.Sprintf("%s@%s is %s: every member of a baseline must be released", r.Product, r.Version, r.State),
		map[string]any{"product": r.Product, "version": r.Version, "state": r.State})
}

// currentMembers is every accessible product's highest current release.
func currentMembers(tx ReadTx, pr Principal) ([]BaselineMember, error) {
	var names []string
	if err := tx.Products(func(p *Product) bool {
		if pr.CanAccess(p.Name) {
			names = append(names, p.Name)
		}
		return true
	}); err != nil {
		return nil, err
	}
	var out []BaselineMember
	for _, name := range names {
		cur, err := tx.Releases(name, ReleaseQuery{Limit: 1, Match: func(r *Release) bool {
			return r.State == StateReleased && r.SupersededBy == "" && !r.Prerelease && FullyRolledOut(r)
		}})
		if err != nil {
			return nil, err
		}
		if len(cur) == 1 {
			out = append(out, BaselineMember{Product: name, Version: cur[0].Version, Type: cur[0].Type})
		}
	}
	return out, nil
}

// BaselineView is a baseline as read: the immutable record, each member
// with what became of its release since.
type BaselineView struct {
	Name           string       `json:"name"`
	Description    string       `json:"description"`
	ChangeID       string       `json:"change_id"`
	From           string       `json:"from,omitempty"`
	Releases       []MemberView `json:"releases"`
	CreatedBy      string       `json:"created_by"`
	CreatedAt      time.Time    `json:"created_at"`
	ManifestDigest string       `json:"manifest_digest"`
	KeyID          string       `json:"key_id"`
}

// MemberView is a baseline member with its release's state now. A member
// whose release was withdrawn after the baseline was made is flagged
// withdrawn, with the withdrawal; the baseline itself never changes.
type MemberView struct {
	BaselineMember
	State        State       `json:"state"`
	SupersededBy string      `json:"superseded_by"`
	Withdrawn    bool        `json:"withdrawn"`
	Withdrawal   *Withdrawal `json:"withdrawal,omitempty"`
}

func baselineView(tx ReadTx, b *Baseline) (*BaselineView, error) {
	v := &BaselineView{Name: b.Name, Description: b.Description, ChangeID: b.ChangeID, From: b.From, CreatedBy: b.CreatedBy,
		CreatedAt: b.CreatedAt, ManifestDigest: b.ManifestDigest, KeyID: b.KeyID, Releases: make([]MemberView, 0, len(b.Releases))}
	for _, m := range b.Releases {
		r, err := tx.Release(m.Product, m.Version)
		if err != nil {
			return nil, fmt.Errorf("baseline %s member %s@%s: %w", b.Name, m.Product, m.Version, err)
		}
		v.Releases = append(v.Releases, MemberView{BaselineMember: m, State: r.State, SupersededBy: r.SupersededBy,
			Withdrawn: r.State == StateWithdrawn, Withdrawal: r.Withdrawn})
	}
	return v, nil
}

// Baselines lists every baseline, newest first.
func (s *Service) Baselines(context.Context) ([]*Baseline, error) {
	var out []*Baseline
	err := s.repo.View(func(tx ReadTx) error {
		return tx.Baselines(func(b *Baseline) bool {
			out = append(out, b)
			return true
		})
	})
	slices.SortStableFunc(out, func(a, b *Baseline) int { return b.CreatedAt.Compare(a.CreatedAt) })
	return out, err
}

// Baseline returns one baseline with its members' current state.
func (s *Service) Baseline(_ context.Context, name string) (*BaselineView, error) {
	if err := ValidateBaselineName(name); err != nil {
		return nil, err
	}
	var v *BaselineView
	err := s.repo.View(func(tx ReadTx) error {
		b, err := tx.Baseline(name)
		if err != nil {
			return err
		}
		v, err = baselineView(tx, b)
		return err
	})
	return v, err
}

// BaselineManifest returns the exact signed manifest bytes of a baseline
// and their base64 signature, after checking the bytes still have the
// digest the index recorded.
func (s *Service) BaselineManifest(ctx context.Context, name string) (body, sig []byte, err error) {
	if err := ValidateBaselineName(name); err != nil {
		return nil, nil, err
	}
	var b *Baseline
	if err := s.repo.View(func(tx ReadTx) error {
		var err error
		b, err = tx.Baseline(name)
		return err
	}); err != nil {
		return nil, nil, err
	}
	if body, err = s.readSmall(ctx, storage.BaselineManifestKey(name)); err != nil {
		return nil, nil, err
	}
	sum := sha256.Sum256(body)
	if "sha256:"+hex.EncodeToString(sum[:]) != b.ManifestDigest {
		return nil, nil, fmt.Errorf("manifest of baseline %s in the store does not match the digest the index recorded: %w", name, ErrIntegrity)
	}
	if sig, err = s.readSmall(ctx, storage.BaselineManifestSigKey(name)); err != nil {
		return nil, nil, err
	}
	return body, bytes.TrimSpace(sig), nil
}

// ChangeKind says how a product changed between two baselines.
type ChangeKind string

// The kinds of change of a baseline diff.
const (
	ChangeAdded      ChangeKind = "added"
	ChangeRemoved    ChangeKind = "removed"
	ChangeUpgraded   ChangeKind = "upgraded"
	ChangeDowngraded ChangeKind = "downgraded"
	ChangeUnchanged  ChangeKind = "unchanged"
)

// ProductChange is one product's line of a baseline diff. From and To are
// the versions in the first and the second baseline ("" when absent); Type
// is the release type of the step, the type of the target version (absent
// for a removal).
type ProductChange struct {
	Product string      `json:"product"`
	Change  ChangeKind  `json:"change"`
	From    string      `json:"from,omitempty"`
	To      string      `json:"to,omitempty"`
	Type    ReleaseType `json:"type,omitempty"`
}

// BaselineDiff compares baseline From with baseline To, product by product.
type BaselineDiff struct {
	From    string          `json:"from"`
	To      string          `json:"to"`
	Changes []ProductChange `json:"changes"`
}

// DiffMembers compares two member lists per product, sorted by product.
func DiffMembers(from, to []BaselineMember) []ProductChange {
	a := make(map[string]BaselineMember, len(from))
	for _, m := range from {
		a[m.Product] = m
	}
	b := make(map[string]BaselineMember, len(to))
	for _, m := range to {
		b[m.Product] = m
	}
	out := []ProductChange{}
	for p, x := range a {
		y, ok := b[p]
		if !ok {
			out = append(out, ProductChange{Product: p, Change: ChangeRemoved, From: x.Version})
			continue
		}
		c := ProductChange{Product: p, From: x.Version, To: y.Version, Type: y.Type, Change: ChangeUnchanged}
		vx, errx := semver.StrictNewVersion(x.Version)
		vy, erry := semver.StrictNewVersion(y.Version)
		if errx == nil && erry == nil {
			switch vy.Compare(vx) {
			case 1:
				c.Change = ChangeUpgraded
			case -1:
				c.Change = ChangeDowngraded
			}
		}
		out = append(out, c)
	}
	for p, y := range b {
		if _, ok := a[p]; !ok {
			out = append(out, ProductChange{Product: p, Change: ChangeAdded, To: y.Version, Type: y.Type})
		}
	}
	slices.SortFunc(out, func(x, y ProductChange) int { return cmp.Compare(x.Product, y.Product) })
	return out
}

// DiffBaselines compares baseline from with baseline to.
func (s *Service) DiffBaselines(_ context.Context, from, to string) (*BaselineDiff, error) {
	for _, n := range []string{from, to} {
		if err := ValidateBaselineName(n); err != nil {
			return nil, err
		}
	}
	var a, b *Baseline
	err := s.repo.View(func(tx ReadTx) error {
		var err error
		if a, err = tx.Baseline(from); err != nil {
			return err
		}
		b, err = tx.Baseline(to)
		return err
	})
	if err != nil {
		return nil, err
	}
	return &BaselineDiff{From: from, To: to, Changes: DiffMembers(a.Releases, b.Releases)}, nil
}
