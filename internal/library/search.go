package library

import (
	"context"
	"encoding/hex"
	"fmt"
	"slices"
	"strings"
)

// CutLabel splits a label written k:v or k=v (one syntax everywhere: push,
// list and search). The first ':' or '=' separates key from value, so a
// value may itself contain either.
func CutLabel(s string) (key, value string, ok bool) {
	i := strings.IndexAny(s, ":=")
	if i < 0 {
		return s, "", false
	}
	return s[:i], s[i+1:], true
}

// parseSHA256 checks a searched artifact digest: 64 hex digits, any case,
// returned in lower case as digests are stored.
func parseSHA256(s string) (string, error) {
	s = strings.ToLower(strings.TrimPrefix(strings.TrimSpace(s), "sha256:"))
	if b, err := hex.DecodeString(s); err != nil || len(b) != 32 {
		return "", withDetails(ErrInvalidInput, fmt.Sprintf("sha256 %q must be 64 hexadecimal digits", clip(s)), map[string]any{"field": "sha256"})
	}
	return s, nil
}

// changeLinks reports whether a change is named by the release itself
// (its creation or a transition). It filters a search driven by another
// index (sha256); a search driven by the change_id index also finds the
// releases that baselines and deployment records link to the change.
func changeLinks(r *Release, change string) bool {
	if r.ChangeID == change {
		return true
	}
	for _, h := range r.History {
		if h.ChangeID == change {
			return true
		}
	}
	return false
}

// ReleaseSearch is a cross-product CMDB search: releases linked to a
// change, a configuration item or a label. At least one of ChangeID, CIID
// and Label (k:v) is required; all given must match.
type ReleaseSearch struct {
	ChangeID string
	CIID     string
	Label    string // key:value (or key=value)
	State    State
	Limit    int
	Cursor   string // product@version of the last release of the previous page
	// SHA256 finds the releases containing an artifact with this digest.
	SHA256 string
}

// SearchReleases answers a CMDB search from the link indexes (never a
// scan of every release), limited to the products the principal may
// access. Results are ordered by product, then newest first.
func (s *Service) SearchReleases(_ context.Context, pr Principal, q ReleaseSearch) (list []*Release, next string, err error) {
	if q.ChangeID == "" && q.CIID == "" && q.Label == "" && q.SHA256 == "" {
		return nil, "", withDetails(ErrInvalidInput, "give at least one of change_id, ci_id, label and sha256", nil)
	}
	if q.SHA256 != "" {
		d, err := parseSHA256(q.SHA256)
		if err != nil {
			return nil, "", err
		}
		q.SHA256 = d
	}
	for _, f := range []struct{ name, v string }{{"change_id", q.ChangeID}, {"ci_id", q.CIID}, {"label", q.Label}} {
		if err := checkText(f.name, f.v, 512); err != nil {
			return nil, "", err
		}
	}
	if q.State != "" && !q.State.Valid() {
		return nil, "", withDetails(ErrInvalidInput, fmt.Sprintf("state %q is not one of draft, candidate, approved, released, withdrawn", clip(string(q.State))), map[string]any{"field": "state"})
	}
	var labelKey, labelValue string
	if q.Label != "" {
		var ok bool
		if labelKey, labelValue, ok = CutLabel(q.Label); !ok || labelKey == "" {
			return nil, "", withDetails(ErrInvalidInput, "label must be key:value or key=value", map[string]any{"field": "label"})
		}
	}
	var after *ReleaseRef
	if q.Cursor != "" {
		p, v, ok := strings.Cut(q.Cursor, "@")
		if !ok || ValidateProductName(p) != nil {
			return nil, "", withDetails(ErrInvalidInput, "cursor is not product@version from a previous page", map[string]any{"parameter": "cursor"})
		}
		if _, err := ParseVersion(v); err != nil {
			return nil, "", withDetails(ErrInvalidInput, "cursor is not product@version from a previous page", map[string]any{"parameter": "cursor"})
		}
		after = &ReleaseRef{Product: p, Version: v}
	}
	limit := q.Limit
	if limit <= 0 || limit > MaxPage {
		limit = 100
	}
	// The most selective link drives the walk; the others filter.
	var cut bool // the page reached MaxPageBytes
	lq := LinkQuery{After: after, Limit: limit + 1, MaxBytes: MaxPageBytes, Truncated: &cut}
	switch {
	case q.SHA256 != "":
		lq.Kind, lq.Value = LinkSHA256, q.SHA256
	case q.ChangeID != "":
		lq.Kind, lq.Value = LinkChangeID, q.ChangeID
	case q.CIID != "":
		lq.Kind, lq.Value = LinkCIID, q.CIID
	default:
		lq.Kind, lq.Key, lq.Value = LinkLabel, labelKey, labelValue
	}
	lq.Match = func(r *Release) bool {
		if !pr.CanAccess(r.Product) || (q.State != "" && r.State != q.State) || (q.ChangeID != "" && lq.Kind != LinkChangeID && !changeLinks(r, q.ChangeID)) {
			return false
		}
		if q.CIID != "" && !slices.Contains(r.CIIDs, q.CIID) {
			return false
		}
		if q.Label != "" {
			if v, ok := r.Labels[labelKey]; !ok || v != labelValue {
				return false
			}
		}
		return true
	}
	err = s.repo.View(func(tx ReadTx) error {
		var err error
		list, err = tx.ReleasesByLink(lq)
		return err
	})
	if err != nil {
		return nil, "", err
	}
	if len(list) > limit {
		list = list[:limit]
		next = list[limit-1].Product + "@" + list[limit-1].Version
	} else if cut && len(list) > 0 {
		next = list[len(list)-1].Product + "@" + list[len(list)-1].Version
	}
	return list, next, nil
}

// LinkKind names a CMDB link index of releases.
type LinkKind string

// LinkQuery selects releases across products through one link index,
// ordered by product, then newest first by SemVer.
type LinkQuery struct {
	Kind LinkKind
	// Key is the label key (LinkLabel only); Value the change_id, ci_id or
	// label value.
	Key, Value string
	// After, when set, resumes after this release (exclusive): a cursor.
	After *ReleaseRef
	// Match filters; returning false skips the release.
	Match func(*Release) bool
	// Limit stops after this many matches (0: no limit).
	Limit int
	// Scanned, when set, is incremented per release looked at.
	Scanned *int
	// MaxBytes, when set, stops before the stored records of the matches
	// would exceed it (at least one match is returned); Truncated, when
	// set, is set true when it stopped so.
	MaxBytes  int
	Truncated *bool
}

// The link indexes.
const (
	LinkChangeID LinkKind = "change_id"
	LinkCIID     LinkKind = "ci_id"
	LinkLabel    LinkKind = "label"
	LinkSHA256   LinkKind = "sha256"
)
