package client

import (
	"context"
	"net/http"
)

// Rollout returns a release's rollout plan and progress.
func (c *Client) Rollout(ctx context.Context, product, version string) (*RolloutView, error) {
	var out RolloutView
	return &out, c.getJSON(ctx, releasePath(product, version)+"/rollout", nil, &out)
}

// SetRollout replaces a released release's rollout plan (release-manager).
func (c *Client) SetRollout(ctx context.Context, product, version string, in RolloutInput) (*RolloutView, error) {
	var out RolloutView
	return &out, c.sendJSON(ctx, http.MethodPut, releasePath(product, version)+"/rollout", in, &out)
}
