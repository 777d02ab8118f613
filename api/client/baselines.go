package client

import (
	"context"
	"net/http"

	"github.com/reliquary/reliquary/api/wire"
)

// CreateBaseline freezes a baseline (release-manager).
func (c *Client) CreateBaseline(ctx context.Context, in BaselineInput) (*Baseline, error) {
	var out Baseline
	return &out, c.sendJSON(ctx, http.MethodPost, "/baselines", in, &out)
}

// Baselines lists the baselines.
func (c *Client) Baselines(ctx context.Context) ([]Baseline, error) {
	var out wire.BaselineList
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

// Deployment outcomes.
const (
	DeploySucceeded  = "succeeded"
	DeployFailed     = "failed"
	DeployRolledBack = "rolled_back"
)
