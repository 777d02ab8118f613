package client

import (
	"context"
	"net/http"
	"net/url"
	"strconv"
)

// DeploymentFilter narrows Deployments; Version needs Product.
type DeploymentFilter struct {
	Product, Version, Environment, Target string
	Limit                                 int
	Cursor                                string
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

// Environment answers "what runs in env?".
func (c *Client) Environment(ctx context.Context, env string) (*Environment, error) {
	var out Environment
	return &out, c.getJSON(ctx, "/environments/"+seg(env), nil, &out)
}
