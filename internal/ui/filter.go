package ui

import (
	"context"
	"fmt"
	"strings"

	"github.com/reliquary/reliquary/internal/library"
)

// scanLimit bounds how many releases one filtered page looks at. The index
// has no secondary index by state, type or label, so a filter that matches
// rarely would otherwise walk every release of the product; instead the
// page shows what it found among the next scanLimit releases (newest
// first, by the index cursor) and links onwards from where it stopped.
const scanLimit = 1000

// filterPage is one page of a filtered release list.
type filterPage struct {
	List []*library.Release
	// Next is the cursor of the following page ("" at the end).
	Next string
	// Partial is set when the page stopped at scanLimit: Next is then the
	// last release looked at, not the last one shown.
	Partial bool
}

// releaseMatcher checks the filter the way library.Releases does, and
// refuses bad values with the same error kinds.
func releaseMatcher(f library.ReleaseFilter) (func(*library.Release) bool, error) {
	if f.State != "" && !f.State.Valid() {
		return nil, fmt.Errorf("%w: state %q is not one of draft, candidate, approved, released, withdrawn", library.ErrInvalidInput, clip(string(f.State)))
	}
	if f.Type != "" && !f.Type.Valid() {
		return nil, fmt.Errorf("%w: type %q is not one of major, minor, emergency", library.ErrInvalidInput, clip(string(f.Type)))
	}
	var check func(string) bool
	if f.Constraint != "" {
		c, err := library.ParseConstraint(f.Constraint)
		if err != nil {
			return nil, err
		}
		check = func(v string) bool { sv, err := library.ParseVersion(v); return err == nil && c.Check(sv) }
	}
	var lk, lv string
	if f.Label != "" {
		var ok bool
		lk, lv, ok = strings.Cut(f.Label, ":")
		if !ok || lk == "" {
			return nil, fmt.Errorf("%w: label filter must be key:value", library.ErrInvalidInput)
		}
	}
	return func(r *library.Release) bool {
		if f.State != "" && r.State != f.State || f.Type != "" && r.Type != f.Type {
			return false
		}
		if check != nil && !check(r.Version) {
			return false
		}
		if lk != "" {
			if got, ok := r.Labels[lk]; !ok || got != lv {
				return false
			}
		}
		return true
	}, nil
}

func clip(s string) string {
	if len(s) > 64 {
		return s[:64] + "…"
	}
	return s
}

// filteredReleases walks the product's releases newest first from
// f.Cursor in unfiltered index pages, keeps those that match, and stops at
// limit matches or scanLimit releases looked at.
func (u *UI) filteredReleases(ctx context.Context, product string, f library.ReleaseFilter, limit int) (filterPage, error) {
	match, err := releaseMatcher(f)
	if err != nil {
		return filterPage{}, err
	}
	var out filterPage
	cursor, scanned := f.Cursor, 0
	for {
		page, next, err := u.lib.Releases(ctx, product, library.ReleaseFilter{Cursor: cursor, Limit: 500})
		if err != nil {
			return filterPage{}, err
		}
		for _, r := range page {
			scanned++
			cursor = r.Version
			if match(r) {
				out.List = append(out.List, r)
				if len(out.List) == limit {
					out.Next = r.Version
					return out, nil
				}
			}
		}
		if next == "" {
			return out, nil // the end: no more releases
		}
		if scanned >= scanLimit {
			out.Next, out.Partial = cursor, true
			return out, nil
		}
	}
}
