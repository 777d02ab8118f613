package client

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strconv"
	"time"
)

// Baseline is a named, immutable, signed set of releases. Read with
// Baseline, each member also carries its release's state now (a member
// withdrawn after the baseline was made is flagged, the baseline itself
// never changes); listed with Baselines, members carry only product,
// version and type.
type Baseline struct {
	Name           string           `json:"name"`
	Description    string           `json:"description"`
	ChangeID       string           `json:"change_id"`
	From           string           `json:"from,omitempty"`
	Releases       []BaselineMember `json:"releases"`
	CreatedBy      string           `json:"created_by"`
	CreatedAt      time.Time        `json:"created_at"`
	ManifestDigest string           `json:"manifest_digest"`
	KeyID          string           `json:"key_id"`
}

// BaselineMember is one release of a baseline.
type BaselineMember struct {
	Product      string      `json:"product"`
	Version      string      `json:"version"`
	Type         string      `json:"type"`
	State        string      `json:"state,omitempty"`
	SupersededBy string      `json:"superseded_by,omitempty"`
	Withdrawn    bool        `json:"withdrawn,omitempty"`
	Withdrawal   *Withdrawal `json:"withdrawal,omitempty"`
}

// ReleaseRef names one release.
type ReleaseRef struct {
	Product string `json:"product"`
	Version string `json:"version"`
}

// BaselineInput creates a baseline from an explicit list of released
// releases, or with From "current" from every product's current release.
type BaselineInput struct {
	Name        string       `json:"name"`
	Description string       `json:"description,omitempty"`
	ChangeID    string       `json:"change_id,omitempty"`
	Releases    []ReleaseRef `json:"releases,omitempty"`
	From        string       `json:"from,omitempty"`
}

// BaselineDiff compares two baselines product by product.
type BaselineDiff struct {
	From    string          `json:"from"`
	To      string          `json:"to"`
	Changes []ProductChange `json:"changes"`
}

// ProductChange is how one product changed: added, removed, upgraded,
// downgraded or unchanged.
type ProductChange struct {
	Product string `json:"product"`
	Change  string `json:"change"`
	From    string `json:"from,omitempty"`
	To      string `json:"to,omitempty"`
	Type    string `json:"type,omitempty"`
}

// CreateBaseline freezes a baseline (release-manager).
func (c *Client) CreateBaseline(ctx context.Context, in BaselineInput) (*Baseline, error) {
	var out Baseline
	return &out, c.sendJSON(ctx, http.MethodPost, "/baselines", in, &out)
}

// Baselines lists the baselines.
func (c *Client) Baselines(ctx context.Context) ([]Baseline, error) {
	var out struct {
		Baselines []Baseline `json:"baselines"`
	}
	return out.Baselines, c.getJSON(ctx, "/baselines", nil, &out)
}

// Baseline returns one baseline with its members' states now.
func (c *Client) Baseline(ctx context.Context, name string) (*Baseline, error) {
	var out Baseline
	return &out, c.getJSON(ctx, "/baselines/"+seg(name), nil, &out)
}

// BaselineManifest returns the exact signed bytes of a baseline.
func (c *Client) BaselineManifest(ctx context.Context, name string) ([]byte, error) {
	return c.getBytes(ctx, "/baselines/"+seg(name)+"/manifest", "application/json", 16<<20)
}

// BaselineSignature returns the base64 signature of the baseline manifest.
func (c *Client) BaselineSignature(ctx context.Context, name string) (string, error) {
	b, err := c.getBytes(ctx, "/baselines/"+seg(name)+"/manifest/signature", "text/plain", 64<<10)
	return string(b), err
}

// DiffBaselines compares baseline from with baseline to.
func (c *Client) DiffBaselines(ctx context.Context, from, to string) (*BaselineDiff, error) {
	var out BaselineDiff
	return &out, c.getJSON(ctx, "/baselines/"+seg(from)+"/diff/"+seg(to), nil, &out)
}

// ReleaseSearch is the cross-product CMDB search of SearchReleases.
type ReleaseSearch struct {
	ChangeID, CIID, Label, State string
	Limit                        int
	Cursor                       string
	// SHA256 finds the releases containing an artifact with this digest.
	SHA256 string
}

// SearchReleases finds releases across products by change, CI, label or
// state (GET /releases). Releases carry no artifacts.
func (c *Client) SearchReleases(ctx context.Context, q ReleaseSearch) (*ReleasePage, error) {
	v := url.Values{}
	for k, s := range map[string]string{"change_id": q.ChangeID, "ci_id": q.CIID, "label": q.Label, "state": q.State, "cursor": q.Cursor, "sha256": q.SHA256} {
		if s != "" {
			v.Set(k, s)
		}
	}
	if q.Limit > 0 {
		v.Set("limit", strconv.Itoa(q.Limit))
	}
	var out ReleasePage
	return &out, c.getJSON(ctx, "/releases", v, &out)
}

// Deployment outcomes.
const (
	DeploySucceeded  = "succeeded"
	DeployFailed     = "failed"
	DeployRolledBack = "rolled_back"
)

// DeploymentInput is a deployment record as an installer sends it.
type DeploymentInput struct {
	Product     string          `json:"product"`
	Version     string          `json:"version"`
	Environment string          `json:"environment"`
	Target      string          `json:"target"`
	Status      string          `json:"status"`
	ChangeID    string          `json:"change_id,omitempty"`
	Details     json.RawMessage `json:"details,omitempty"`
}

// Deployment is a recorded installation.
type Deployment struct {
	ID          uint64          `json:"id"`
	Product     string          `json:"product"`
	Version     string          `json:"version"`
	Type        string          `json:"type"`
	Environment string          `json:"environment"`
	Target      string          `json:"target"`
	Status      string          `json:"status"`
	ChangeID    string          `json:"change_id"`
	Details     json.RawMessage `json:"details"`
	RecordedBy  string          `json:"recorded_by"`
	RecordedAt  time.Time       `json:"recorded_at"`
}

// DeploymentFilter narrows Deployments; Version needs Product.
type DeploymentFilter struct {
	Product, Version, Environment, Target string
	Limit                                 int
	Cursor                                string
}

// DeploymentPage is one page of Deployments, newest first.
type DeploymentPage struct {
	Deployments []Deployment `json:"deployments"`
	NextCursor  string       `json:"next_cursor,omitempty"`
}

// RecordDeployment records an installation (deployer). It is not retried:
// a retry could record it twice.
func (c *Client) RecordDeployment(ctx context.Context, in DeploymentInput) (*Deployment, error) {
	var out Deployment
	return &out, c.sendJSON(ctx, http.MethodPost, "/deployments", in, &out)
}

// Deployments lists deployment records ("where is 1.4.2 installed?").
func (c *Client) Deployments(ctx context.Context, f DeploymentFilter) (*DeploymentPage, error) {
	v := url.Values{}
	for k, s := range map[string]string{"product": f.Product, "version": f.Version, "environment": f.Environment, "target": f.Target, "cursor": f.Cursor} {
		if s != "" {
			v.Set(k, s)
		}
	}
	if f.Limit > 0 {
		v.Set("limit", strconv.Itoa(f.Limit))
	}
	var out DeploymentPage
	return &out, c.getJSON(ctx, "/deployments", v, &out)
}

// Environment is what runs in an environment, per product and target.
type Environment struct {
	Environment string    `json:"environment"`
	Installs    []Install `json:"installs"`
}

// Install is the version running on one target, flagged when its release
// is now superseded or withdrawn.
type Install struct {
	Product      string      `json:"product"`
	Target       string      `json:"target"`
	Version      string      `json:"version"`
	Type         string      `json:"type"`
	Status       string      `json:"status"`
	DeploymentID uint64      `json:"deployment_id"`
	ChangeID     string      `json:"change_id"`
	DeployedBy   string      `json:"deployed_by"`
	DeployedAt   time.Time   `json:"deployed_at"`
	State        string      `json:"state"`
	Superseded   bool        `json:"superseded"`
	SupersededBy string      `json:"superseded_by,omitempty"`
	Withdrawn    bool        `json:"withdrawn"`
	Withdrawal   *Withdrawal `json:"withdrawal,omitempty"`
	LastAttempt  *Deployment `json:"last_attempt,omitempty"`
}

// Environment answers "what runs in env?".
func (c *Client) Environment(ctx context.Context, env string) (*Environment, error) {
	var out Environment
	return &out, c.getJSON(ctx, "/environments/"+seg(env), nil, &out)
}
