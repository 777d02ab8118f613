package client

import (
	"context"
	"net/url"
	"time"
)

// ArtifactLink asks for a download link to one artifact that works for ttl
// (0: the server's default, 15 minutes) or until the token is revoked.
func (c *Client) ArtifactLink(ctx context.Context, product, version, name string, ttl time.Duration) (*ArtifactLink, error) {
	q := url.Values{}
	if ttl > 0 {
		q.Set("ttl", ttl.String())
	}
	var out ArtifactLink
	if err := c.getJSON(ctx, artifactPath(product, version, name)+"/link", q, &out); err != nil {
		return nil, err
	}
	return &out, nil
}
