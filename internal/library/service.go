package library

import (
	"context"
	"fmt"
	"log/slog"
	"regexp"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/reliquary/reliquary/storage"
)

// Signer signs digests with the library's key (internal/signing).
type Signer interface {
	KeyID() string
	SignDigest(ctx context.Context, sha256Digest []byte) ([]byte, error)
}

// Config wires a Service.
type Config struct {
	Repo   Repo
	Store  storage.BlobStore
	Signer Signer
	Logger *slog.Logger
	// Now is the clock (tests pin it); nil means time.Now.
	Now func() time.Time
	// OIDCTokenTTL is the lifetime of tokens minted by trusted publishing
	// (0: DefaultOIDCTokenTTL).
	OIDCTokenTTL time.Duration
	// Evidence verifies attestation files (nil: attestations are refused).
	Evidence Evidence
	// Cluster reaches the journal's followers (cluster.go; nil: one node).
	Cluster Cluster
}

// Service is the library: it decides, the Repo and the BlobStore persist.
type Service struct {
	repo   Repo
	store  storage.BlobStore
	signer Signer
	log    *slog.Logger
	now    func() time.Time
	locks  keyedMutex

	retention retentionStats
	// Token lifetimes (token_lifetimes.go).
	oidcTTL time.Duration
	usage   tokenUsage

	evidence Evidence
	cluster  Cluster
}

// New builds the service.
func New(cfg Config) *Service {
	s := &Service{repo: cfg.Repo, store: cfg.Store, signer: cfg.Signer, log: cfg.Logger, now: cfg.Now, oidcTTL: cfg.OIDCTokenTTL, evidence: cfg.Evidence, cluster: cfg.Cluster}
	if s.log == nil {
		s.log = slog.Default()
	}
	if s.now == nil {
		s.now = time.Now
	}
	return s
}

func (s *Service) clock() time.Time { return s.now().UTC() }

// ProductInput creates a product.
type ProductInput struct {
	Name        string       `json:"name"`
	Description string       `json:"description"`
	Owner       string       `json:"owner"`
	CIID        string       `json:"ci_id"`
	Policy      *PolicyInput `json:"policy"`
}

const maxText = 4096

func checkText(field, v string, max int) error {
	if len(v) > max {
		return withDetails(ErrInvalidInput, fmt.Sprintf("%s is longer than %d bytes", field, max), map[string]any{"field": field})
	}
	if strings.ContainsFunc(v, func(r rune) bool { return r < 0x20 && r != '\n' && r != '\t' || r == 0x7f }) {
		return withDetails(ErrInvalidInput, fmt.Sprintf("%s contains control characters", field), map[string]any{"field": field})
	}
	return nil
}

// CreateProduct registers a product.
func (s *Service) CreateProduct(ctx context.Context, pr Principal, in ProductInput) (*Product, error) {
	if err := ValidateProductName(in.Name); err != nil {
		return nil, err
	}
	for _, f := range []struct{ name, v string }{{"description", in.Description}, {"owner", in.Owner}, {"ci_id", in.CIID}} {
		if err := checkText(f.name, f.v, maxText); err != nil {
			return nil, err
		}
	}
	policy := DefaultPolicy()
	if in.Policy != nil {
		var err error
		if policy, err = in.Policy.Policy(); err != nil {
			return nil, err
		}
		if err := s.checkAttestationKeys(policy); err != nil {
			return nil, err
		}
	}
	p := &Product{Name: in.Name, Description: in.Description, Owner: in.Owner, CIID: in.CIID,
		Policy: policy, CreatedBy: pr.Name, CreatedAt: s.clock()}
	err := s.update(ctx, func(tx WriteTx) error {
		if _, err := tx.Product(p.Name); err == nil {
			return withDetails(ErrProductExists, fmt.Sprintf("product %q already exists", p.Name), map[string]any{"product": p.Name})
		}
		if err := tx.PutProduct(p); err != nil {
			return err
		}
		_, err := tx.Record(Event{Time: p.CreatedAt, Actor: pr.Name, Type: EvProductCreated, Subject: p.Name, Data: p})
		return err
	})
	if err != nil {
		return nil, err
	}
	return p, nil
}

// Products lists the products the principal may see, by name.
func (s *Service) Products(_ context.Context, pr Principal) ([]*Product, error) {
	var out []*Product
	err := s.repo.View(func(tx ReadTx) error {
		return tx.Products(func(p *Product) bool {
			if pr.CanAccess(p.Name) {
				out = append(out, p)
			}
			return true
		})
	})
	return out, err
}

// Product returns one product.
func (s *Service) Product(_ context.Context, name string) (*Product, error) {
	if err := ValidateProductName(name); err != nil {
		return nil, err
	}
	var p *Product
	err := s.repo.View(func(tx ReadTx) error {
		var err error
		p, err = tx.Product(name)
		return err
	})
	return p, err
}

// SetPolicy replaces a product's release policy.
func (s *Service) SetPolicy(ctx context.Context, pr Principal, name string, in PolicyInput) (*Product, error) {
	if err := ValidateProductName(name); err != nil {
		return nil, err
	}
	policy, err := in.Policy()
	if err != nil {
		return nil, err
	}
	if err := s.checkAttestationKeys(policy); err != nil {
		return nil, err
	}
	var p *Product
	err = s.update(ctx, func(tx WriteTx) error {
		var err error
		if p, err = tx.Product(name); err != nil {
			return err
		}
		old := p.Policy
		p.Policy = policy
		if err := tx.PutProduct(p); err != nil {
			return err
		}
		now := s.clock()
		if _, err = tx.Record(Event{Time: now, Actor: pr.Name, Type: EvPolicyUpdated, Subject: name,
			Data: map[string]any{"product": name, "old": old, "new": policy}}); err != nil {
			return err
		}
		// superseded_by is a function of the released set and the policy:
		// new maintenance lines recompute it in the same transaction.
		if old.SupportedMajors != policy.SupportedMajors || old.SupportedMinors != policy.SupportedMinors {
			return s.resupersede(tx, pr, p, now)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return p, nil
}

// ReleaseInput creates a draft release.
type ReleaseInput struct {
	Version  string            `json:"version"`
	ChangeID string            `json:"change_id"`
	CIIDs    []string          `json:"ci_ids"`
	Labels   map[string]string `json:"labels"`
	Notes    string            `json:"notes"`
}

var (
	labelKeyPattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._/-]{0,62}$`)
	ciIDPattern     = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._:/@-]{0,127}$`)
)

func (in *ReleaseInput) validate() error {
	if err := checkText("change_id", in.ChangeID, 128); err != nil {
		return err
	}
	if err := checkText("notes", in.Notes, 64<<10); err != nil {
		return err
	}
	if len(in.CIIDs) > 100 {
		return withDetails(ErrInvalidInput, "ci_ids has more than 100 entries", map[string]any{"field": "ci_ids"})
	}
	for _, id := range in.CIIDs {
		if !ciIDPattern.MatchString(id) {
			return withDetails(ErrInvalidInput, fmt.Sprintf("ci_id %q must match %s", clip(id), ciIDPattern), map[string]any{"field": "ci_ids"})
		}
	}
	if len(in.Labels) > 64 {
		return withDetails(ErrInvalidInput, "more than 64 labels", map[string]any{"field": "labels"})
	}
	for k, v := range in.Labels {
		if !labelKeyPattern.MatchString(k) {
			return withDetails(ErrInvalidInput, fmt.Sprintf("label key %q must match %s", clip(k), labelKeyPattern), map[string]any{"field": "labels"})
		}
		if err := checkText("label "+k, v, 256); err != nil {
			return err
		}
	}
	return nil
}

// CreateRelease opens a draft release.
func (s *Service) CreateRelease(ctx context.Context, pr Principal, product string, in ReleaseInput) (*Release, error) {
	if err := ValidateProductName(product); err != nil {
		return nil, err
	}
	in.Version = NormalizeVersionInput(in.Version)
	v, err := ParseVersion(in.Version)
	if err != nil {
		return nil, err
	}
	if err := in.validate(); err != nil {
		return nil, err
	}
	if err := pr.AllowsVersion(v.String()); err != nil {
		return nil, err
	}
	now := s.clock()
	r := &Release{
		Product: product, Version: v.String(), Type: TypeOf(v), Prerelease: v.Prerelease() != "",
		State: StateDraft, ChangeID: in.ChangeID, CIIDs: nonNil(in.CIIDs), Labels: in.Labels, Notes: in.Notes,
		CreatedBy: pr.Name, CreatedAt: now, Approvals: []Approval{}, Artifacts: []Artifact{},
		History: []Transition{{From: "", To: StateDraft, Actor: pr.Name, Time: now, ChangeID: in.ChangeID}},
	}
	if r.Labels == nil {
		r.Labels = map[string]string{}
	}
	err = s.update(ctx, func(tx WriteTx) error {
		p, err := tx.Product(product)
		if err != nil {
			return err
		}
		if !p.Policy.Allows(r.Type) {
			return withDetails(ErrTypeNotAllowed, fmt.Sprintf("policy of %s allows only %v releases; %s is %s", product, p.Policy.AllowedTypes, r.Version, r.Type),
				map[string]any{"type": r.Type, "allowed_types": p.Policy.AllowedTypes})
		}
		if _, err := tx.Release(product, r.Version); err == nil {
			return withDetails(ErrReleaseExists, fmt.Sprintf("release %s@%s already exists", product, r.Version),
				map[string]any{"product": product, "version": r.Version})
		}
		if err := tx.PutRelease(r); err != nil {
			return err
		}
		_, err = tx.Record(Event{Time: now, Actor: pr.Name, Type: EvReleaseCreated, Subject: product + "@" + r.Version, Data: r})
		return err
	})
	if err != nil {
		return nil, err
	}
	return r, nil
}

func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

// ReleaseFilter narrows a release listing.
type ReleaseFilter struct {
	State      State
	Type       ReleaseType
	Constraint string
	Label      string // k:v
	Limit      int
	Cursor     string // the last version of the previous page
	// MaxBytes bounds the stored records of the answer (0 or more than
	// MaxPageBytes: MaxPageBytes); a list cut by it carries a cursor.
	MaxBytes int
}

// MaxPageBytes bounds the stored records behind one page of a listing
// (DESIGN §8 "Bounded memory": pages of at most 4 MiB); a page cut short
// by it still carries the cursor of the next.
const MaxPageBytes = 4 << 20

// MaxPage is the largest page of a listing.
const MaxPage = 1000

// Releases lists a product's releases newest first by SemVer. next is the
// cursor of the following page ("" at the end).
func (s *Service) Releases(_ context.Context, product string, f ReleaseFilter) (list []*Release, next string, err error) {
	if err := ValidateProductName(product); err != nil {
		return nil, "", err
	}
	if f.State != "" && !f.State.Valid() {
		return nil, "", withDetails(ErrInvalidInput, fmt.Sprintf("state %q is not one of draft, candidate, approved, released, withdrawn", clip(string(f.State))), map[string]any{"field": "state"})
	}
	if f.Type != "" && !f.Type.Valid() {
		return nil, "", withDetails(ErrInvalidInput, fmt.Sprintf("type %q is not one of major, minor, emergency", clip(string(f.Type))), map[string]any{"field": "type"})
	}
	if f.Cursor != "" {
		if _, err := ParseVersion(f.Cursor); err != nil {
			return nil, "", withDetails(ErrInvalidInput, "cursor is not a version from a previous page", map[string]any{"field": "cursor"})
		}
	}
	match := []func(*Release) bool{}
	if f.State != "" {
		match = append(match, func(r *Release) bool { return r.State == f.State })
	}
	if f.Type != "" {
		match = append(match, func(r *Release) bool { return r.Type == f.Type })
	}
	if f.Constraint != "" {
		c, err := ParseConstraint(f.Constraint)
		if err != nil {
			return nil, "", err
		}
		match = append(match, func(r *Release) bool { v, err := ParseVersion(r.Version); return err == nil && c.Check(v) })
	}
	if f.Label != "" {
		k, v, ok := CutLabel(f.Label)
		if !ok || k == "" {
			return nil, "", withDetails(ErrInvalidInput, "label filter must be key:value or key=value", map[string]any{"field": "label"})
		}
		match = append(match, func(r *Release) bool { got, ok := r.Labels[k]; return ok && got == v })
	}
	limit := f.Limit
	if limit <= 0 || limit > MaxPage {
		limit = 100
	}
	var cut bool // the page reached maxBytes
	maxBytes := f.MaxBytes
	if maxBytes <= 0 || maxBytes > MaxPageBytes {
		maxBytes = MaxPageBytes
	}
	err = s.repo.View(func(tx ReadTx) error {
		if _, err := tx.Product(product); err != nil {
			return err
		}
		var err error
		list, err = tx.Releases(product, ReleaseQuery{Before: f.Cursor, Limit: limit + 1, Match: func(r *Release) bool {
			return !slices.ContainsFunc(match, func(m func(*Release) bool) bool { return !m(r) })
		}, MaxBytes: maxBytes, Truncated: &cut})
		return err
	})
	if err != nil {
		return nil, "", err
	}
	if len(list) > limit {
		list = list[:limit]
		next = list[limit-1].Version
	} else if cut && len(list) > 0 {
		next = list[len(list)-1].Version
	}
	return list, next, nil
}

// Release returns one release with its artifacts.
func (s *Service) Release(_ context.Context, product, version string) (*Release, error) {
	if err := ValidateProductName(product); err != nil {
		return nil, err
	}
	if _, err := ParseVersion(version); err != nil {
		return nil, err
	}
	var r *Release
	err := s.repo.View(func(tx ReadTx) error {
		var err error
		if r, err = tx.Release(product, version); err != nil {
			return err
		}
		r.Artifacts, err = tx.Artifacts(product, version)
		return err
	})
	return r, err
}

// keyedMutex serialises work on one key (one upload per artifact name)
// while letting a waiter give up when its context ends.
type keyedMutex struct {
	mu    sync.Mutex
	locks map[string]chan struct{}
}

func (k *keyedMutex) lock(ctx context.Context, key string) (unlock func(), err error) {
	for {
		k.mu.Lock()
		if k.locks == nil {
			k.locks = map[string]chan struct{}{}
		}
		ch, busy := k.locks[key]
		if !busy {
			ch = make(chan struct{})
			k.locks[key] = ch
			k.mu.Unlock()
			return func() {
				k.mu.Lock()
				delete(k.locks, key)
				k.mu.Unlock()
				close(ch)
			}, nil
		}
		k.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			return nil, fmt.Errorf("%w: %w", ErrUploadBusy, ctx.Err())
		}
	}
}
