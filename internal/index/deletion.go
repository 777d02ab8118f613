package index

import (
	"fmt"

	"github.com/reliquary/reliquary/internal/library"
)

// DeleteRelease implements library.WriteTx: the release record, its CMDB
// link entries and every artifact record go in this transaction, each write
// travelling in the event's changes like any other. The blobs are the
// caller's to remove after the commit.
func (t *tx) DeleteRelease(product, version string) error {
	vk, err := versionKeyOf(version)
	if err != nil {
		return err
	}
	old, err := getJSON[library.Release](t.b(bucketReleases), releaseKey(product, vk))
	if err != nil {
		return err
	}
	if old == nil {
		return notFound(library.ErrReleaseNotFound, fmt.Sprintf("release %s@%s not found", product, version))
	}
	if err := t.syncEntries(releaseLinks(old, vk), nil); err != nil {
		return err
	}
	// Every per-release record keyed under "<product> 0x00 <semver key> 0x00".
	for _, b := range [][]byte{bucketArtifacts, bucketAttestations, bucketIdxAttestationType} {
		if err := t.deletePrefix(b, artifactPrefix(product, vk)); err != nil {
			return err
		}
	}
	return t.del(bucketReleases, releaseKey(product, vk))
}

// deletePrefix deletes every key of bucket that starts with prefix.
func (t *tx) deletePrefix(bucket, prefix []byte) error {
	var keys [][]byte
	c := t.b(bucket).Cursor()
	for k, _ := c.Seek(prefix); k != nil && hasPrefix(k, prefix); k, _ = c.Next() {
		keys = append(keys, clone(k))
	}
	for _, k := range keys {
		if err := t.del(bucket, k); err != nil {
			return err
		}
	}
	return nil
}
