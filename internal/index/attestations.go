package index

import (
	"encoding/json"
	"fmt"

	"github.com/reliquary/reliquary/internal/library"
)

// Attestations implements library.ReadTx: a release's attestations by digest.
func (t *tx) Attestations(product, version string) ([]library.Attestation, error) {
	vk, err := versionKeyOf(version)
	if err != nil {
		return nil, err
	}
	prefix := attestationPrefix(product, vk)
	out := []library.Attestation{}
	c := t.b(bucketAttestations).Cursor()
	for k, v := c.Seek(prefix); k != nil && hasPrefix(k, prefix); k, v = c.Next() {
		var a library.Attestation
		if err := json.Unmarshal(v, &a); err != nil {
			return nil, fmt.Errorf("index attestation %q: %w", k, err)
		}
		out = append(out, a)
	}
	return out, nil
}

// Attestation implements library.ReadTx.
func (t *tx) Attestation(product, version, digest string) (*library.Attestation, error) {
	vk, err := versionKeyOf(version)
	if err != nil {
		return nil, err
	}
	a, err := getJSON[library.Attestation](t.b(bucketAttestations), attestationKey(product, vk, digest))
	if err == nil && a == nil {
		err = notFound(library.ErrAttestationNotFound, fmt.Sprintf("attestation %s not found in %s@%s", digest, product, version))
	}
	return a, err
}

// HasAttestationType implements library.ReadTx with one seek in the
// predicate type index.
func (t *tx) HasAttestationType(product, version, predicateType string) (bool, error) {
	vk, err := versionKeyOf(version)
	if err != nil {
		return false, err
	}
	prefix := attestationTypePrefix(product, vk, predicateType)
	k, _ := t.b(bucketIdxAttestationType).Cursor().Seek(prefix)
	return k != nil && hasPrefix(k, prefix), nil
}

// PutAttestation implements library.WriteTx: the record and its predicate
// type index entry, in the same transaction.
func (t *tx) PutAttestation(product, version string, a *library.Attestation) error {
	vk, err := versionKeyOf(version)
	if err != nil {
		return err
	}
	if err := t.put(bucketIdxAttestationType, append(attestationTypePrefix(product, vk, a.PredicateType), a.Digest...), indexEntry); err != nil {
		return err
	}
	return t.putJSON(bucketAttestations, attestationKey(product, vk, a.Digest), a)
}
