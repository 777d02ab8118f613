package library

import (
	"fmt"
	"slices"
)

// fourEyes refuses an approval by anyone who put content into the release
// (DESIGN §1): its creator, the uploader of any of its artifacts, its
// sealer.
func fourEyes(by string, r *Release, uploaders []string) error {
	var role string
	switch {
	case by == r.CreatedBy:
		role = "created"
	case slices.Contains(uploaders, by):
		role = "uploaded an artifact of"
	case by == r.SealedBy:
		role = "sealed"
	default:
		return nil
	}
	uploaders = slices.Sorted(slices.Values(uploaders))
	return withDetails(ErrFourEyes, fmt.Sprintf("%s %s %s@%s and cannot approve it (four-eyes policy)", by, role, r.Product, r.Version),
		map[string]any{"created_by": r.CreatedBy, "uploaded_by": uploaders, "sealed_by": r.SealedBy})
}
