package ui

import (
	"context"
	"html/template"
	"net/http"
	"net/url"
	"slices"

	"github.com/reliquary/reliquary/internal/library"
)

// API routes whose permission a page or action borrows.
const (
	apiProducts = "/api/v1/products"
	apiProduct  = "/api/v1/products/:product"
	apiReleases = "/api/v1/products/:product/releases"
	apiRelease  = "/api/v1/products/:product/releases/:version"
	apiBaseline = "/api/v1/baselines/:baseline"
	apiDiff     = "/api/v1/baselines/:baseline/diff/:other"
	apiEnv      = "/api/v1/environments/:environment"
	apiDeploys  = "/api/v1/deployments"
	apiEvents   = "/api/v1/events"
)

// window is how many of a product's newest releases the overview pages
// (products, my approvals, the lines picture) look at: one index walk of
// bounded length, so pages stay fast with any number of releases. A
// maintained line's current release is its highest released version, so
// it sits among the newest releases unless hundreds of newer versions of
// other lines were made since.
const window = 500

type productSummary struct {
	Product     *library.Product
	Lines       template.HTML // the lines picture of the same window
	Current     []*library.Release
	Pending     []*library.Release
	Deployments []*library.Deployment
}

func (u *UI) productsPage(w http.ResponseWriter, r *http.Request, s *session) {
	if !u.allowed(s.pr, http.MethodGet, apiProducts, "") {
		u.forbidden(w, r, s, "list products")
		return
	}
	products, err := u.lib.Products(r.Context(), s.pr)
	if err != nil {
		u.fail(w, r, s, err)
		return
	}
	var out []productSummary
	for _, p := range products {
		sum, err := u.summary(r, s, p)
		if err != nil {
			u.fail(w, r, s, err)
			return
		}
		out = append(out, sum)
	}
	u.page(w, r, s, "products", "products", "Products", out)
}

// summary is a product's current releases (one per maintained line),
// releases waiting for approval or promotion (both among the newest
// window releases), and latest deployments.
func (u *UI) summary(r *http.Request, s *session, p *library.Product) (productSummary, error) {
	sum := productSummary{Product: p}
	recent, _, err := u.lib.Releases(r.Context(), p.Name, library.ReleaseFilter{Limit: window})
	if err != nil {
		return sum, err
	}
	sum.Lines = drawLines(p.Name, recent, true)
	for _, rel := range recent {
		switch {
		case rel.State == library.StateReleased && rel.SupersededBy == "" && !rel.Prerelease:
			sum.Current = append(sum.Current, rel)
		case rel.State == library.StateCandidate || rel.State == library.StateApproved:
			sum.Pending = append(sum.Pending, rel)
		}
	}
	if u.allowed(s.pr, http.MethodGet, apiDeploys, p.Name) {
		sum.Deployments, _, err = u.lib.Deployments(r.Context(), s.pr, library.DeploymentFilter{Product: p.Name, Limit: 5})
		if err != nil {
			return sum, err
		}
	}
	return sum, nil
}

type productData struct {
	Product  *library.Product
	Lines    template.HTML
	Releases []*library.Release
	Next     string
	Filter   library.ReleaseFilter
	Filtered bool
	Partial  bool // the filtered page stopped at scanLimit releases
	States   []library.State
	Types    []library.ReleaseType
	NextURL  string
}

const pageSize = 50

func (u *UI) productPage(w http.ResponseWriter, r *http.Request, s *session) {
	name := r.PathValue("p")
	p, ok := u.product(w, r, s, name)
	if !ok {
		return
	}
	q := r.URL.Query()
	f := library.ReleaseFilter{State: library.State(q.Get("state")), Type: library.ReleaseType(q.Get("type")),
		Constraint: q.Get("constraint"), Label: q.Get("label"), Cursor: q.Get("cursor"), Limit: pageSize}
	var list []*library.Release
	var next string
	partial := false
	if f.State != "" || f.Type != "" || f.Constraint != "" || f.Label != "" {
		if f.Cursor != "" {
			if _, err := library.ParseVersion(f.Cursor); err != nil {
				u.fail(w, r, s, err)
				return
			}
		}
		fp, err := u.filteredReleases(r.Context(), name, f, pageSize)
		if err != nil {
			u.fail(w, r, s, err)
			return
		}
		list, next, partial = fp.List, fp.Next, fp.Partial
	} else {
		var err error
		list, next, err = u.lib.Releases(r.Context(), name, f)
		if err != nil {
			u.fail(w, r, s, err)
			return
		}
	}
	d := productData{Product: p, Releases: list, Next: next, Filter: f, Partial: partial,
		Filtered: f.State != "" || f.Type != "" || f.Constraint != "" || f.Label != "" || f.Cursor != "",
		States:   []library.State{library.StateDraft, library.StateCandidate, library.StateApproved, library.StateReleased, library.StateWithdrawn},
		Types:    []library.ReleaseType{library.TypeMajor, library.TypeMinor, library.TypeEmergency}}
	if next != "" {
		nq := url.Values{}
		for _, k := range []string{"state", "type", "constraint", "label"} {
			if v := q.Get(k); v != "" {
				nq.Set(k, v)
			}
		}
		nq.Set("cursor", next)
		d.NextURL = Prefix + "/products/" + url.PathEscape(name) + "?" + nq.Encode()
	}
	lines, err := u.lines(r, p)
	if err != nil {
		u.fail(w, r, s, err)
		return
	}
	d.Lines = lines
	u.page(w, r, s, "product", "products", p.Name, d)
}

// product loads a product the principal may read (the API's scope rule).
func (u *UI) product(w http.ResponseWriter, r *http.Request, s *session, name string) (*library.Product, bool) {
	if !u.allowed(s.pr, http.MethodGet, apiProduct, "") {
		u.forbidden(w, r, s, "read products")
		return nil, false
	}
	if err := library.ValidateProductName(name); err != nil {
		u.fail(w, r, s, err)
		return nil, false
	}
	if !s.pr.CanAccess(name) {
		u.errorPage(w, r, s, http.StatusForbidden, "FORBIDDEN", "Your token is not scoped to product "+name+".")
		return nil, false
	}
	p, err := u.lib.Product(r.Context(), name)
	if err != nil {
		u.fail(w, r, s, err)
		return nil, false
	}
	return p, true
}

type releaseData struct {
	Product     *library.Product
	Release     *library.Release
	Deployments []*library.Deployment
	// MayApprove lists who may still approve (release managers in scope,
	// four-eyes applied, not yet approved); Needed how many more are needed.
	MayApprove []string
	Needed     int
	Forms      actionForms
	Evidence   []evidence
	// Rollout is the release's rollout plan and progress (DESIGN.md §14),
	// nil for a release that was never released.
	Rollout *library.RolloutView
}

// evidence is one attestation about a release (DESIGN.md §12), as the
// release page lists it.
type evidence struct {
	Type, Digest, By, At string
}

// releaseEvidence lists the release's attestations, newest last; a failure
// to read them leaves the section empty rather than the page broken.
func (u *UI) releaseEvidence(ctx context.Context, rel *library.Release) []evidence {
	atts, err := u.lib.Attestations(ctx, rel.Product, rel.Version)
	if err != nil {
		return nil
	}
	out := make([]evidence, 0, len(atts))
	for _, a := range atts {
		out = append(out, evidence{Type: a.PredicateType, Digest: a.Digest, By: a.UploadedBy + " (key " + a.Signer + ")",
			At: a.UploadedAt.UTC().Format("2006-01-02 15:04:05Z")})
	}
	return out
}

// actionForms says which action forms the page shows.
type actionForms struct {
	Seal, Approve, Promote, Withdraw bool
	FourEyes                         bool // the viewer created or sealed it
	AlreadyApproved                  bool
	ChangeIDRequired                 bool
}

func (u *UI) releasePage(w http.ResponseWriter, r *http.Request, s *session) {
	name, version := r.PathValue("p"), r.PathValue("v")
	p, ok := u.product(w, r, s, name)
	if !ok {
		return
	}
	rel, err := u.lib.Release(r.Context(), name, version)
	if err != nil {
		u.fail(w, r, s, err)
		return
	}
	d := releaseData{Product: p, Release: rel, Evidence: u.releaseEvidence(r.Context(), rel), Rollout: u.releaseRollout(r.Context(), rel)}
	if u.allowed(s.pr, http.MethodGet, apiDeploys, name) {
		d.Deployments, _, err = u.lib.Deployments(r.Context(), s.pr, library.DeploymentFilter{Product: name, Version: version, Limit: 20})
		if err != nil {
			u.fail(w, r, s, err)
			return
		}
	}
	st := rel.State
	d.Forms = actionForms{
		Seal:             st == library.StateDraft && u.allowed(s.pr, http.MethodPost, apiRelease+"/seal", name),
		Approve:          (st == library.StateCandidate || st == library.StateApproved) && u.allowed(s.pr, http.MethodPost, apiRelease+"/approvals", name),
		Promote:          st == library.StateApproved && !rel.Prerelease && u.allowed(s.pr, http.MethodPost, apiRelease+"/promote", name),
		Withdraw:         (st == library.StateCandidate || st == library.StateApproved || st == library.StateReleased) && u.allowed(s.pr, http.MethodPost, apiRelease+"/withdraw", name),
		FourEyes:         p.Policy.FourEyes && fourEyesBars(rel, s.pr.Name),
		AlreadyApproved:  approvedBy(rel, s.pr.Name),
		ChangeIDRequired: p.Policy.RequireChangeID,
	}
	if st == library.StateCandidate || st == library.StateApproved {
		d.Needed = max(0, p.Policy.RequiredApprovals-len(rel.Approvals))
		d.MayApprove, err = u.mayApprove(r, p, rel)
		if err != nil {
			u.fail(w, r, s, err)
			return
		}
	}
	u.page(w, r, s, "release", "products", rel.Product+"@"+rel.Version, d)
}

// fourEyesBars applies the library's four-eyes rule: whoever created or
// sealed a release cannot approve it.
func fourEyesBars(rel *library.Release, who string) bool {
	return who == rel.CreatedBy || who == rel.SealedBy
}

func approvedBy(rel *library.Release, who string) bool {
	return slices.ContainsFunc(rel.Approvals, func(a library.Approval) bool { return a.By == who })
}

// mayApprove names the holders of live tokens that could still approve.
func (u *UI) mayApprove(r *http.Request, p *library.Product, rel *library.Release) ([]string, error) {
	tokens, err := u.lib.Tokens(r.Context())
	if err != nil {
		return nil, err
	}
	need := library.RoleAdmin
	if u.cfg.Permission != nil {
		need = u.cfg.Permission(http.MethodPost, apiRelease+"/approvals")
	}
	var out []string
	for _, t := range tokens {
		pr := library.Principal{Name: t.Name, Role: t.Role, Products: t.Products}
		if t.Revoked || pr.Role < need || !pr.CanAccess(p.Name) || approvedBy(rel, t.Name) ||
			(p.Policy.FourEyes && fourEyesBars(rel, t.Name)) || slices.Contains(out, t.Name) {
			continue
		}
		out = append(out, t.Name)
	}
	slices.Sort(out)
	return out, nil
}

type approvalItem struct {
	Release *library.Release
	Policy  library.Policy
	Reason  string // why the viewer may not approve it ("" when they may)
}

type approvalsData struct {
	CanApprove bool
	Mine       []approvalItem
	Others     []approvalItem
}

// approvalsPage lists what the signed-in manager may approve, four-eyes
// applied, and what waits for somebody else.
func (u *UI) approvalsPage(w http.ResponseWriter, r *http.Request, s *session) {
	products, err := u.lib.Products(r.Context(), s.pr)
	if err != nil {
		u.fail(w, r, s, err)
		return
	}
	var d approvalsData
	for _, p := range products {
		may := u.allowed(s.pr, http.MethodPost, apiRelease+"/approvals", p.Name)
		d.CanApprove = d.CanApprove || may
		recent, _, err := u.lib.Releases(r.Context(), p.Name, library.ReleaseFilter{Limit: window})
		if err != nil {
			u.fail(w, r, s, err)
			return
		}
		for _, rel := range recent {
			if rel.State != library.StateCandidate {
				continue
			}
			it := approvalItem{Release: rel, Policy: p.Policy}
			switch {
			case !may:
				it.Reason = "your role may not approve"
			case p.Policy.FourEyes && fourEyesBars(rel, s.pr.Name):
				it.Reason = "four-eyes: you created or sealed it"
			case approvedBy(rel, s.pr.Name):
				it.Reason = "you have approved it"
			}
			if it.Reason == "" {
				d.Mine = append(d.Mine, it)
			} else {
				d.Others = append(d.Others, it)
			}
		}
	}
	u.page(w, r, s, "approvals", "approvals", "My approvals", d)
}
