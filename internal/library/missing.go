package library

import (
	"errors"
	"fmt"

	"github.com/reliquary/reliquary/storage"
)

// openArtifactError classifies a failed open of an artifact's bytes. A
// draft's artifact may be deleted between the index read and the open (a
// download racing a delete): that is a plain not-found. A sealed release's
// bytes never go away, so their absence is an integrity failure.
func openArtifactError(ref *ArtifactRef, key string, err error) error {
	if errors.Is(err, storage.ErrNotFound) {
		if ref.Release.State == StateDraft {
			return withDetails(ErrArtifactNotFound, fmt.Sprintf("artifact %s of %s@%s was deleted", ref.Artifact.Name, ref.Release.Product, ref.Release.Version),
				map[string]any{"name": ref.Artifact.Name})
		}
		return fmt.Errorf("%w: open %s: %w", ErrIntegrity, key, err)
	}
	return fmt.Errorf("open %s: %w", key, err)
}
