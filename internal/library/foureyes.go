package library

import (
	"fmt"
	"slices"
)

// checkFourEyes refuses an approval by anyone who put content into the
// release (DESIGN §1): its creator, the uploader of any of its artifacts,
// its sealer.
func checkFourEyes(tx ReadTx, pr Principal, r *Release) error {
	arts, err := tx.Artifacts(r.Product, r.Version)
	if err != nil {
		return err
	}
	var uploaders []string
	for _, a := range arts {
		if !slices.Contains(uploaders, a.UploadedBy) {
			uploaders = append(uploaders, a.UploadedBy)
		}
	}
	var role string
	switch {
	case pr.Name == r.CreatedBy:
		role = "created"
	case slices.Contains(uploaders, pr.Name):
		role = "uploaded an artifact of"
	case pr.Name == r.SealedBy:
		role = "sealed"
	default:
		return nil
	}
	slices.Sort(uploaders)
	return withDetails(ErrFourEyes, fmt.Sprintf("%s %s %s@%s and cannot approve it (four-eyes policy)", pr.Name, role, r.Product, r.Version),
		map[string]any{"created_by": r.CreatedBy, "uploaded_by": uploaders, "sealed_by": r.SealedBy})
}
