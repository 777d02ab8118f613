package client

import (
	"context"
	"net/http"
	"net/url"
	"time"
)

// DeletedRelease is what DeleteRelease removed.
type DeletedRelease struct {
	Product   string `json:"product"`
	Version   string `json:"version"`
	State     string `json:"state"`
	Artifacts int    `json:"artifacts"`
	Bytes     int64  `json:"bytes"`
	Seq       uint64 `json:"seq"`
}

// RetentionItem is one release a retention run deleted (Reason) or kept
// (Rule).
type RetentionItem struct {
	Product string `json:"product"`
	Version string `json:"version"`
	State   string `json:"state"`
	Reason  string `json:"reason,omitempty"`
	Rule    string `json:"rule,omitempty"`
	Detail  string `json:"detail"`
	Bytes   int64  `json:"bytes,omitempty"`
}

// RetentionReport is the answer of RunRetention.
type RetentionReport struct {
	DryRun     bool            `json:"dry_run"`
	RanAt      time.Time       `json:"ran_at"`
	Products   []string        `json:"products"`
	Deleted    []RetentionItem `json:"deleted"`
	Kept       []RetentionItem `json:"kept"`
	BytesFreed int64           `json:"bytes_freed"`
}

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
