package fsck

import (
	"github.com/reliquary/reliquary/internal/library"
	"github.com/reliquary/reliquary/storage"
)

// addAttestations adds the attestation files the index names: they are
// kept for good with their release, never orphans.
func addAttestations(repo library.Repo, want map[string]expected) error {
	return repo.View(func(tx library.ReadTx) error {
		var products []string
		if err := tx.Products(func(p *library.Product) bool { products = append(products, p.Name); return true }); err != nil {
			return err
		}
		for _, p := range products {
			rels, err := tx.Releases(p, library.ReleaseQuery{Match: func(r *library.Release) bool { return len(r.AttestationDigests) > 0 }})
			if err != nil {
				return err
			}
			for _, r := range rels {
				atts, err := tx.Attestations(p, r.Version)
				if err != nil {
					return err
				}
				for _, a := range atts {
					want[storage.AttestationKey(p, r.Version, a.Hex())] = expected{size: a.Size, sha256: a.Hex()}
				}
			}
		}
		return nil
	})
}
