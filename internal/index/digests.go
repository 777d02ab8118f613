package index

import (
	"encoding/json"
	"fmt"

	"github.com/reliquary/reliquary/internal/library"
)

// The artifact digest index answers "which release contains this file?"
// (GET /releases?sha256=): one entry per (digest, release), kept by the
// puts and deletes of artifacts (buckets.go: idx_sha256).

func digestLink(sha256, product string, vk []byte) []byte {
	return linkKey(valuePrefix(sha256), product, vk)
}

// putDigestLink indexes an artifact being put under its digest.
func (t *tx) putDigestLink(product string, vk []byte, a *library.Artifact) error {
	if a.SHA256 == "" {
		return nil
	}
	k := digestLink(a.SHA256, product, vk)
	if t.b(bucketIdxSHA256).Get(k) != nil {
		return nil
	}
	return t.put(bucketIdxSHA256, k, indexEntry)
}

// dropDigestLink removes the digest entry of an artifact being deleted,
// unless another artifact of the release has the same bytes.
func (t *tx) dropDigestLink(product string, vk []byte, name string) error {
	v := t.b(bucketArtifacts).Get(artifactKey(product, vk, name))
	if v == nil {
		return nil
	}
	var gone library.Artifact
	if err := json.Unmarshal(v, &gone); err != nil {
		return fmt.Errorf("index artifact %s: %w", name, err)
	}
	if gone.SHA256 == "" {
		return nil
	}
	prefix := artifactPrefix(product, vk)
	c := t.b(bucketArtifacts).Cursor()
	for k, v := c.Seek(prefix); k != nil && hasPrefix(k, prefix); k, v = c.Next() {
		if string(k[len(prefix):]) == name {
			continue
		}
		var a library.Artifact
		if err := json.Unmarshal(v, &a); err == nil && a.SHA256 == gone.SHA256 {
			return nil // still contained in the release
		}
	}
	k := digestLink(gone.SHA256, product, vk)
	if t.b(bucketIdxSHA256).Get(k) == nil {
		return nil
	}
	return t.del(bucketIdxSHA256, k)
}
