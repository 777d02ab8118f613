package index

import (
	"encoding/json"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/reliquary/reliquary/internal/library"
)

func openTest(t *testing.T) *Index {
	t.Helper()
	ix, err := Open(filepath.Join(t.TempDir(), "index.db"), Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ix.Close() })
	return ix
}

// update runs fn and records an event, as every library mutation does.
func update(t *testing.T, ix *Index, fn func(library.WriteTx) error) {
	t.Helper()
	err := ix.Update(func(tx library.WriteTx) error {
		if err := fn(tx); err != nil {
			return err
		}
		_, err := tx.Record(library.Event{Time: time.Now(), Actor: "t", Type: "test"})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
}

func rel(product, version, change string, cis []string, labels map[string]string) *library.Release {
	return &library.Release{Product: product, Version: version, State: library.StateDraft, ChangeID: change, CIIDs: cis, Labels: labels}
}

func byLink(t *testing.T, ix *Index, q library.LinkQuery) (refs []string, scanned int) {
	t.Helper()
	q.Scanned = &scanned
	err := ix.View(func(tx library.ReadTx) error {
		list, err := tx.ReleasesByLink(q)
		for _, r := range list {
			refs = append(refs, r.Product+"@"+r.Version)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return refs, scanned
}

func TestReleaseLinks(t *testing.T) {
	ix := openTest(t)
	update(t, ix, func(tx library.WriteTx) error {
		// Product names that are prefixes of each other, prereleases, and
		// many releases the links do not name.
		for i := range 50 {
			if err := tx.PutRelease(rel("hr", fmt.Sprintf("0.%d.0", i), "CHG-other", nil, nil)); err != nil {
				return err
			}
		}
		for _, r := range []*library.Release{
			rel("hr", "1.0.0", "CHG-1", []string{"CI-A"}, map[string]string{"train": "q3"}),
			rel("hr", "1.1.0-rc.1", "CHG-1", []string{"CI-A", "CI-A"}, nil),
			rel("hr", "1.1.0", "CHG-1", nil, map[string]string{"train": "q3:late"}),
			rel("hr2", "3.0.0", "CHG-1", []string{"CI-A"}, nil),
			rel("h", "9.0.0", "CHG-1", nil, nil),
			rel("crm", "2.0.0", "CHG-10", []string{"CI-AB"}, map[string]string{"train": "q3"}),
		} {
			if err := tx.PutRelease(r); err != nil {
				return err
			}
		}
		return nil
	})
	all := []string{"h@9.0.0", "hr@1.1.0", "hr@1.1.0-rc.1", "hr@1.0.0", "hr2@3.0.0"}
	got, scanned := byLink(t, ix, library.LinkQuery{Kind: library.LinkChangeID, Value: "CHG-1"})
	if !cmp.Equal(got, all) || scanned != len(all) {
		t.Errorf("CHG-1 = %v (%d scanned), want %v: no other release looked at", got, scanned, all)
	}
	// Every page size and cursor gives the same sequence.
	for limit := 1; limit <= len(all); limit++ {
		var pages []string
		var after *library.ReleaseRef
		for {
			page, _ := byLink(t, ix, library.LinkQuery{Kind: library.LinkChangeID, Value: "CHG-1", Limit: limit, After: after})
			pages = append(pages, page...)
			if len(page) < limit {
				break
			}
			last := page[len(page)-1]
			p, v, _ := cut(last)
			after = &library.ReleaseRef{Product: p, Version: v}
		}
		if !cmp.Equal(pages, all) {
			t.Errorf("pages of %d = %v", limit, pages)
		}
	}
	for _, c := range []struct {
		q    library.LinkQuery
		want []string
	}{
		{library.LinkQuery{Kind: library.LinkCIID, Value: "CI-A"}, []string{"hr@1.1.0-rc.1", "hr@1.0.0", "hr2@3.0.0"}},
		{library.LinkQuery{Kind: library.LinkCIID, Value: "CI-AB"}, []string{"crm@2.0.0"}},
		{library.LinkQuery{Kind: library.LinkLabel, Key: "train", Value: "q3"}, []string{"crm@2.0.0", "hr@1.0.0"}},
		{library.LinkQuery{Kind: library.LinkLabel, Key: "train", Value: "q3:late"}, []string{"hr@1.1.0"}},
		{library.LinkQuery{Kind: library.LinkChangeID, Value: "CHG"}, nil},
		{library.LinkQuery{Kind: library.LinkChangeID, Value: "CHG-1", After: &library.ReleaseRef{Product: "hr", Version: "1.0.0"}}, []string{"hr2@3.0.0"}},
		{library.LinkQuery{Kind: library.LinkChangeID, Value: "CHG-1", After: &library.ReleaseRef{Product: "hq", Version: "1.0.0"}}, []string{"hr@1.1.0", "hr@1.1.0-rc.1", "hr@1.0.0", "hr2@3.0.0"}},
	} {
		if got, _ := byLink(t, ix, c.q); !cmp.Equal(got, c.want) {
			t.Errorf("%+v = %v, want %v", c.q, got, c.want)
		}
	}

	// A changed release moves its entries; the stale ones are deleted in
	// the same journaled transaction.
	update(t, ix, func(tx library.WriteTx) error {
		return tx.PutRelease(rel("hr", "1.0.0", "CHG-2", []string{"CI-B"}, map[string]string{"train": "q4"}))
	})
	for _, c := range []struct {
		q    library.LinkQuery
		want []string
	}{
		{library.LinkQuery{Kind: library.LinkChangeID, Value: "CHG-2"}, []string{"hr@1.0.0"}},
		{library.LinkQuery{Kind: library.LinkCIID, Value: "CI-A"}, []string{"hr@1.1.0-rc.1", "hr2@3.0.0"}},
		{library.LinkQuery{Kind: library.LinkLabel, Key: "train", Value: "q3"}, []string{"crm@2.0.0"}},
		{library.LinkQuery{Kind: library.LinkLabel, Key: "train", Value: "q4"}, []string{"hr@1.0.0"}},
	} {
		if got, _ := byLink(t, ix, c.q); !cmp.Equal(got, c.want) {
			t.Errorf("after the change %+v = %v, want %v", c.q, got, c.want)
		}
	}
	deleted, put := lastChanges(t, ix)
	if !cmp.Equal(deleted, []string{"idx_change_id", "idx_ci_id", "idx_label"}) || !cmp.Equal(put, []string{"idx_change_id", "idx_ci_id", "idx_label", "releases"}) {
		t.Errorf("journaled changes: deleted %v, put %v", deleted, put)
	}
	// A put of an unchanged release (a state change) writes no index entry.
	update(t, ix, func(tx library.WriteTx) error {
		r := rel("hr", "1.0.0", "CHG-2", []string{"CI-B"}, map[string]string{"train": "q4"})
		r.State = library.StateCandidate
		return tx.PutRelease(r)
	})
	if deleted, put := lastChanges(t, ix); len(deleted) != 0 || !cmp.Equal(put, []string{"releases"}) {
		t.Errorf("journaled changes of an unchanged put: deleted %v, put %v", deleted, put)
	}
}

// lastChanges lists the buckets the last event's changes delete and put.
func lastChanges(t *testing.T, ix *Index) (deleted, put []string) {
	t.Helper()
	err := ix.View(func(tx library.ReadTx) error {
		evs, err := tx.Events(0, 0)
		if err != nil {
			return err
		}
		var changes struct{ Changes []Change }
		if err := json.Unmarshal(evs[len(evs)-1].Data, &changes); err != nil {
			return err
		}
		for _, c := range changes.Changes {
			if c.Delete {
				deleted = append(deleted, c.Bucket)
			} else {
				put = append(put, c.Bucket)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return deleted, put
}

func cut(ref string) (string, string, bool) {
	for i := range ref {
		if ref[i] == '@' {
			return ref[:i], ref[i+1:], true
		}
	}
	return ref, "", false
}

func TestDeploymentIndex(t *testing.T) {
	ix := openTest(t)
	type dep struct{ product, version, env, target string }
	recs := []dep{
		{"hr", "1.0.0", "production", "web-1"},
		{"hr", "1.0.0-rc.1", "staging", "web-1"},
		{"hr", "1.1.0", "production", "web-2"},
		{"hr2", "1.0.0", "production", "web-1"},
		{"crm", "1.0.0", "prod", "db-1"},
		{"hr", "1.1.0", "production", "web-1"},
	}
	for i, r := range recs {
		update(t, ix, func(tx library.WriteTx) error {
			return tx.PutDeployment(&library.Deployment{ID: uint64(i + 1), Product: r.product, Version: r.version, Environment: r.env,
				Target: r.target, Status: library.DeploySucceeded, Details: json.RawMessage(`{}`)})
		})
	}
	ids := func(q library.DeploymentQuery) (out []uint64, scanned int) {
		q.Scanned = &scanned
		err := ix.View(func(tx library.ReadTx) error {
			list, err := tx.Deployments(q)
			for _, d := range list {
				out = append(out, d.ID)
			}
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		return out, scanned
	}
	for _, c := range []struct {
		q       library.DeploymentQuery
		want    []uint64
		scanned int
	}{
		{library.DeploymentQuery{}, []uint64{6, 5, 4, 3, 2, 1}, 6},
		{library.DeploymentQuery{Before: 4}, []uint64{3, 2, 1}, 3},
		{library.DeploymentQuery{Product: "hr"}, []uint64{6, 3, 2, 1}, 4},
		{library.DeploymentQuery{Product: "hr", Version: "1.0.0"}, []uint64{1}, 1},
		{library.DeploymentQuery{Product: "hr", Version: "1.1.0"}, []uint64{6, 3}, 2},
		{library.DeploymentQuery{Environment: "prod"}, []uint64{5}, 1},
		{library.DeploymentQuery{Environment: "production"}, []uint64{6, 4, 3, 1}, 4},
		{library.DeploymentQuery{Environment: "production", Target: "web-1"}, []uint64{6, 4, 1}, 4},
		{library.DeploymentQuery{Environment: "production", Target: "web-1", Before: 6, Limit: 1}, []uint64{4}, 1},
		{library.DeploymentQuery{Product: "hr", Environment: "production", Target: "web-1"}, []uint64{6, 1}, 4},
	} {
		got, scanned := ids(c.q)
		if !cmp.Equal(got, c.want) || scanned != c.scanned {
			t.Errorf("%+v = %v (%d scanned), want %v (%d)", c.q, got, scanned, c.want, c.scanned)
		}
	}
	// Environment slots: by product, then target, within one environment.
	update(t, ix, func(tx library.WriteTx) error {
		for _, s := range []library.EnvironmentSlot{
			{Environment: "production", Product: "hr", Target: "web-2", Running: 3, Last: 3},
			{Environment: "production", Product: "hr", Target: "web-1", Running: 6, Last: 6},
			{Environment: "production", Product: "hr2", Target: "web-1", Running: 4, Last: 4},
			{Environment: "production-eu", Product: "hr", Target: "web-9", Running: 0, Last: 2},
		} {
			if err := tx.PutEnvironmentSlot(&s); err != nil {
				return err
			}
		}
		return nil
	})
	err := ix.View(func(tx library.ReadTx) error {
		slots, err := tx.EnvironmentSlots("production")
		if err != nil {
			return err
		}
		var got []string
		for _, s := range slots {
			got = append(got, s.Product+"/"+s.Target)
		}
		if !cmp.Equal(got, []string{"hr/web-1", "hr/web-2", "hr2/web-1"}) {
			t.Errorf("slots = %v", got)
		}
		if s, err := tx.EnvironmentSlot("production", "hr", "web-3"); s != nil || err != nil {
			t.Errorf("missing slot = %v, %v", s, err)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
