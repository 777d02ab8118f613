package fsck

import (
	"strings"

	"github.com/reliquary/reliquary/internal/library"
	"github.com/reliquary/reliquary/storage"
)

// orphanPrefixes are the folders searched for orphans.
var orphanPrefixes = []string{"products/", "baselines/"}

// addBaselines adds the baseline manifests the index names.
func addBaselines(repo library.Repo, want map[string]expected) error {
	return repo.View(func(tx library.ReadTx) error {
		return tx.Baselines(func(b *library.Baseline) bool {
			want[storage.BaselineManifestKey(b.Name)] = expected{size: -1, sha256: strings.TrimPrefix(b.ManifestDigest, "sha256:")}
			want[storage.BaselineManifestSigKey(b.Name)] = expected{size: -1}
			return true
		})
	})
}
