package client

import (
	"context"
	"net/url"
	"strconv"
)

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
