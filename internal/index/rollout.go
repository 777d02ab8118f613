package index

import (
	"github.com/reliquary/reliquary/internal/library"
)

// RolloutPilot implements library.ReadTx: one Get.
func (t *tx) RolloutPilot(product, version, target string) (bool, error) {
	vk, err := versionKeyOf(version)
	if err != nil {
		return false, err
	}
	return t.b(bucketRolloutPilots).Get(append(rolloutPilotPrefix(product, vk), target...)) != nil, nil
}

// RolloutPilots implements library.ReadTx: the pilots in key order, which
// is byte order of the targets.
func (t *tx) RolloutPilots(product, version string) ([]string, error) {
	vk, err := versionKeyOf(version)
	if err != nil {
		return nil, err
	}
	prefix := rolloutPilotPrefix(product, vk)
	out := []string{}
	c := t.b(bucketRolloutPilots).Cursor()
	for k, _ := c.Seek(prefix); k != nil && hasPrefix(k, prefix); k, _ = c.Next() {
		out = append(out, string(k[len(prefix):]))
	}
	return out, nil
}

// SetRolloutPilots implements library.WriteTx: it replaces the release's
// pilots, writing only the differences.
func (t *tx) SetRolloutPilots(product, version string, pilots []string) error {
	vk, err := versionKeyOf(version)
	if err != nil {
		return err
	}
	old, err := t.RolloutPilots(product, version)
	if err != nil {
		return err
	}
	keep := make(map[string]bool, len(pilots))
	for _, p := range pilots {
		keep[p] = true
	}
	prefix := rolloutPilotPrefix(product, vk)
	had := make(map[string]bool, len(old))
	for _, p := range old {
		had[p] = true
		if !keep[p] {
			if err := t.del(bucketRolloutPilots, append(clone(prefix), p...)); err != nil {
				return err
			}
		}
	}
	for _, p := range pilots {
		if !had[p] {
			if err := t.put(bucketRolloutPilots, append(clone(prefix), p...), indexEntry); err != nil {
				return err
			}
			had[p] = true
		}
	}
	return nil
}

// RolloutCounts implements library.ReadTx.
func (t *tx) RolloutCounts(product, version string) (*library.RolloutCounts, error) {
	vk, err := versionKeyOf(version)
	if err != nil {
		return nil, err
	}
	return getJSON[library.RolloutCounts](t.b(bucketRolloutCounts), releaseKey(product, vk))
}

// PutRolloutCounts implements library.WriteTx.
func (t *tx) PutRolloutCounts(product, version string, c *library.RolloutCounts) error {
	vk, err := versionKeyOf(version)
	if err != nil {
		return err
	}
	return t.putJSON(bucketRolloutCounts, releaseKey(product, vk), c)
}

var _ library.WriteTx = (*tx)(nil)
