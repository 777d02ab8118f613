package ui

import (
	"context"

	"github.com/reliquary/reliquary/internal/library"
)

// releaseRollout is the release page's rollout section (DESIGN.md §14):
// the plan and the deployment counts per environment of a released (or
// since withdrawn) release; nil for one never released, or when reading
// it fails (the section is left out rather than the page broken).
func (u *UI) releaseRollout(ctx context.Context, rel *library.Release) *library.RolloutView {
	if rel.ReleasedAt == nil {
		return nil
	}
	v, err := u.lib.Rollout(ctx, rel.Product, rel.Version)
	if err != nil {
		return nil
	}
	return v
}
