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
	return t.putJSON(bucketBaselines, []byte(b.Name), b)
}
