package index

import (
	"encoding/json"
	"fmt"

	"github.com/reliquary/reliquary/internal/library"
)

// deploymentEntries are the secondary index entries of a record.
func deploymentEntries(d *library.Deployment) ([]entryRef, error) {
	vk, err := versionKeyOf(d.Version)
	if err != nil {
		return nil, err
	}
	out := []entryRef{
		{bucketIdxDeployProduct, deployIndexKey(valuePrefix(d.Product), d.ID)},
		{bucketIdxDeployRelease, deployIndexKey(deployReleasePrefix(d.Product, vk), d.ID)},
		{bucketIdxDeployEnv, deployIndexKey(valuePrefix(d.Environment), d.ID)},
		{bucketIdxDeployTarget, deployIndexKey(valuePrefix(d.Target), d.ID)},
	}
	// The change a deployment was made under links the deployed release.
	if d.ChangeID != "" {
		out = append(out, entryRef{bucketIdxChangeID, linkKey(valuePrefix(d.ChangeID), d.Product, vk)})
	}
	return out, nil
}

// PutDeployment implements library.WriteTx.
func (t *tx) PutDeployment(d *library.Deployment) error {
	if d.ID == 0 {
		return fmt.Errorf("index: deployment without an id")
	}
	cur, err := deploymentEntries(d)
	if err != nil {
		return err
	}
	old, err := getJSON[library.Deployment](t.b(bucketDeployments), seqKey(d.ID))
	if err != nil {
		return err
	}
	var before []entryRef
	if old != nil {
		if before, err = deploymentEntries(old); err != nil {
			return err
		}
	}
	if err := t.syncEntries(before, cur); err != nil {
		return err
	}
	return t.putJSON(bucketDeployments, seqKey(d.ID), d)
}

// Deployment implements library.ReadTx.
func (t *tx) Deployment(id uint64) (*library.Deployment, error) {
	d, err := getJSON[library.Deployment](t.b(bucketDeployments), seqKey(id))
	if err == nil && d == nil {
		err = fmt.Errorf("deployment %d is named by the index but missing: %w", id, library.ErrIntegrity)
	}
	return d, err
}

// Deployments implements library.ReadTx: records newest first, walking the
// most selective index the query allows.
func (t *tx) Deployments(q library.DeploymentQuery) ([]*library.Deployment, error) {
	var bucket, prefix []byte
	switch {
	case q.Product != "" && q.Version != "":
		vk, err := versionKeyOf(q.Version)
		if err != nil {
			return nil, err
		}
		bucket, prefix = bucketIdxDeployRelease, deployReleasePrefix(q.Product, vk)
	case q.Target != "":
		bucket, prefix = bucketIdxDeployTarget, valuePrefix(q.Target)
	case q.Environment != "":
		bucket, prefix = bucketIdxDeployEnv, valuePrefix(q.Environment)
	case q.Product != "":
		bucket, prefix = bucketIdxDeployProduct, valuePrefix(q.Product)
	default:
		bucket = bucketDeployments
	}
	c := t.b(bucket).Cursor()
	var k, v []byte
	switch {
	case q.Before > 0:
		k = lastBelow(c, append(clone(prefix), seqKey(q.Before)...))
	case prefix == nil:
		k, _ = c.Last()
	default:
		k = lastBelow(c, prefixEnd(prefix))
	}
	var out []*library.Deployment
	for ; k != nil && hasPrefix(k, prefix); k, _ = c.Prev() {
		idKey := k[len(prefix):]
		if len(idKey) != 8 {
			return nil, fmt.Errorf("index %s: malformed key %q", bucket, k)
		}
		if v = t.b(bucketDeployments).Get(idKey); v == nil {
			continue
		}
		var d library.Deployment
		if err := json.Unmarshal(v, &d); err != nil {
			return nil, fmt.Errorf("index deployment %d: %w", seqFromKey(idKey), err)
		}
		if q.Scanned != nil {
			*q.Scanned++
		}
		if (q.Product != "" && d.Product != q.Product) || (q.Version != "" && d.Version != q.Version) ||
			(q.Environment != "" && d.Environment != q.Environment) || (q.Target != "" && d.Target != q.Target) {
			continue
		}
		if q.Match != nil && !q.Match(&d) {
			continue
		}
		out = append(out, &d)
		if q.Limit > 0 && len(out) >= q.Limit {
			break
		}
	}
	return out, nil
}

// EnvironmentSlot implements library.ReadTx.
func (t *tx) EnvironmentSlot(env, product, target string) (*library.EnvironmentSlot, error) {
	return getJSON[library.EnvironmentSlot](t.b(bucketEnvironments), environmentKey(env, product, target))
}

// EnvironmentSlots implements library.ReadTx: by product, then target.
func (t *tx) EnvironmentSlots(env string) ([]*library.EnvironmentSlot, error) {
	prefix := valuePrefix(env)
	var out []*library.EnvironmentSlot
	c := t.b(bucketEnvironments).Cursor()
	for k, v := c.Seek(prefix); k != nil && hasPrefix(k, prefix); k, v = c.Next() {
		var s library.EnvironmentSlot
		if err := json.Unmarshal(v, &s); err != nil {
			return nil, fmt.Errorf("index environment slot %q: %w", k, err)
		}
		out = append(out, &s)
	}
	return out, nil
}

// PutEnvironmentSlot implements library.WriteTx.
func (t *tx) PutEnvironmentSlot(s *library.EnvironmentSlot) error {
	return t.putJSON(bucketEnvironments, environmentKey(s.Environment, s.Product, s.Target), s)
}
