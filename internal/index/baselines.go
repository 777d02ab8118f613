package index

import (
	"encoding/json"
	"fmt"

	"github.com/reliquary/reliquary/internal/library"
)

// Baseline implements library.ReadTx.
func (t *tx) Baseline(name string) (*library.Baseline, error) {
	b, err := getJSON[library.Baseline](t.b(bucketBaselines), []byte(name))
	if err == nil && b == nil {
		err = notFound(library.ErrBaselineNotFound, fmt.Sprintf("baseline %q not found", name))
	}
	return b, err
}

// Baselines implements library.ReadTx: every baseline by name.
func (t *tx) Baselines(fn func(*library.Baseline) bool) error {
	c := t.b(bucketBaselines).Cursor()
	for k, v := c.First(); k != nil; k, v = c.Next() {
		var b library.Baseline
		if err := json.Unmarshal(v, &b); err != nil {
			return fmt.Errorf("index baseline %q: %w", k, err)
		}
		if !fn(&b) {
			return nil
		}
	}
	return nil
}

// PutBaseline implements library.WriteTx.
func (t *tx) PutBaseline(b *library.Baseline) error {
	// The baseline's change links each member release (links.go).
	old, err := getJSON[library.Baseline](t.b(bucketBaselines), []byte(b.Name))
	if err != nil {
		return err
	}
	cur, err := baselineLinks(b)
	if err != nil {
		return err
	}
	var before []entryRef
	if old != nil {
		if before, err = baselineLinks(old); err != nil {
			return err
		}
	}
	if err := t.syncEntries(before, cur); err != nil {
		return err
	}
	return t.putJSON(bucketBaselines, []byte(b.Name), b)
}

// baselineLinks are the change_id entries of a baseline's members.
func baselineLinks(b *library.Baseline) ([]entryRef, error) {
	if b.ChangeID == "" {
		return nil, nil
	}
	out := make([]entryRef, 0, len(b.Releases))
	for _, m := range b.Releases {
		vk, err := versionKeyOf(m.Version)
		if err != nil {
			return nil, err
		}
		out = append(out, entryRef{bucketIdxChangeID, linkKey(valuePrefix(b.ChangeID), m.Product, vk)})
	}
	return out, nil
}
