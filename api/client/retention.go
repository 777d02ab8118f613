package client

import (
	"context"
	"net/http"
	"net/url"
)

// DeleteRelease deletes a release that was never released: a draft
// (publisher), a candidate or approved release (release manager). Released
// and withdrawn releases answer a *Error with Code "RELEASE_PROTECTED".
func (c *Client) DeleteRelease(ctx context.Context, product, version string) (*DeletedRelease, error) {
	var out DeletedRelease
	return &out, c.sendJSON(ctx, http.MethodDelete, "/products/"+seg(product)+"/releases/"+seg(version), nil, &out)
}

// RunRetention applies the retention policies now (admin); a dry run only
// reports what would be deleted and what is kept.
func (c *Client) RunRetention(ctx context.Context, dryRun bool) (*RetentionReport, error) {
	r := &request{method: http.MethodPost, path: "/retention/run"}
	if dryRun {
		// A dry run changes nothing: safe to retry.
		r.query, r.retryable = url.Values{"dry_run": {"true"}}, true
	}
	var out RetentionReport
	return &out, c.doJSON(ctx, r, &out)
}
