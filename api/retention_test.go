package api_test

import (
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/reliquary/reliquary/internal/library"
	"github.com/reliquary/reliquary/internal/testenv"
)

// testClock is a library clock the test moves.
type testClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *testClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *testClock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = t
}

type retentionEnv struct {
	t                   *testing.T
	srv                 *testenv.Server
	clock               *testClock
	admin, ci, rm1, rm2 *client
}

func newRetentionEnv(t *testing.T, store string) *retentionEnv {
	clock := &testClock{t: time.Date(2026, 10, 1, 9, 0, 0, 0, time.UTC)}
	srv := testenv.StartServer(t, testenv.ServerOptions{Store: store, Now: clock.Now})
	admin := newClient(t, srv, srv.AdminToken)
	tok := func(name, role string, products ...string) *client {
		var v struct{ Secret string }
		body := map[string]any{"name": name, "role": role}
		if len(products) > 0 {
			body["products"] = products
		}
		admin.json("POST", "/tokens", body).must(t, 201).decode(t, &v)
		return newClient(t, srv, v.Secret)
	}
	e := &retentionEnv{t: t, srv: srv, clock: clock, admin: admin,
		ci: tok("ci", "publisher"), rm1: tok("alice", "release-manager"), rm2: tok("bob", "release-manager")}
	admin.json("POST", "/products", map[string]any{"name": "hr"}).must(t, 201)
	return e
}

func (e *retentionEnv) draft(version string, size int64) {
	e.t.Helper()
	e.ci.json("POST", "/products/hr/releases", map[string]any{"version": version}).must(e.t, 201)
	e.ci.put("/products/hr/releases/"+version+"/artifacts/hr.tar.gz", upload{size: size, seed: int64(len(version))}).must(e.t, 201)
	e.ci.put("/products/hr/releases/"+version+"/artifacts/notes.txt", upload{size: 100, seed: 3}).must(e.t, 201)
}

func (e *retentionEnv) candidate(version string, size int64) {
	e.t.Helper()
	e.draft(version, size)
	e.ci.json("POST", "/products/hr/releases/"+version+"/seal", nil).must(e.t, 200)
}

func (e *retentionEnv) approved(version string) {
	e.t.Helper()
	e.candidate(version, 1000)
	e.rm1.json("POST", "/products/hr/releases/"+version+"/approvals", map[string]string{"comment": "ok"}).must(e.t, 200)
}

func (e *retentionEnv) released(version string) {
	e.t.Helper()
	e.approved(version)
	e.rm1.json("POST", "/products/hr/releases/"+version+"/promote", map[string]string{"to": "released", "change_id": "CHG-" + version}).must(e.t, 200)
}

func (e *retentionEnv) run(dry bool) library.RetentionReport {
	e.t.Helper()
	var rep library.RetentionReport
	e.admin.json("POST", fmt.Sprintf("/retention/run?dry_run=%t", dry), nil).must(e.t, 200).decode(e.t, &rep)
	return rep
}

// decisions are a report's items as "version state reason|rule".
func decisions(items []library.RetentionItem) []string {
	var out []string
	for _, it := range items {
		out = append(out, it.Version+" "+string(it.State)+" "+it.Reason+it.Rule)
	}
	slices.Sort(out)
	return out
}

// TestRetention: every protection rule of DESIGN §13 holds, a dry run
// lists exactly what the real run then deletes, and the deleted releases'
// objects are gone from the store.
func TestRetention(t *testing.T) {
	stores(t, func(t *testing.T, store string) {
		e := newRetentionEnv(t, store)
		t0 := e.clock.Now()
		e.admin.json("PUT", "/products/hr/policy", map[string]any{"retention": map[string]int{"drafts_days": 7, "candidates_keep": 1}}).must(t, 200)

		e.released("1.0.0")              // released
		e.released("1.1.0")              // withdrawn below
		e.approved("1.2.0-rc.1")         // newest of 1.2: kept
		e.candidate("1.3.0-rc.1", 40000) // beyond the newest 1 of 1.3: deleted
		e.candidate("1.3.0-rc.2", 1000)  // deployed: kept
		e.candidate("1.3.0-rc.3", 1000)  // newest of 1.3: kept
		e.draft("2.0.0", 50000)          // untouched 8 days: deleted
		e.rm1.json("POST", "/products/hr/releases/1.1.0/withdraw", map[string]string{"reason": "bad", "change_id": "CHG-9"}).must(t, 200)
		e.rm1.json("POST", "/baselines", map[string]any{"name": "prod", "change_id": "CHG-1", "releases": []map[string]string{{"product": "hr", "version": "1.0.0"}}}).must(t, 201)
		e.admin.json("POST", "/deployments", map[string]any{"product": "hr", "version": "1.3.0-rc.2", "environment": "staging", "target": "web-1", "status": "succeeded"}).must(t, 201)

		e.clock.Set(t0.Add(6 * 24 * time.Hour))
		e.draft("2.1.0", 1000) // touched two days before the run: kept
		e.clock.Set(t0.Add(8*24*time.Hour - time.Hour))
		e.draft("2.2.0", 1000)          // younger than a day: kept
		e.candidate("1.3.0-rc.0", 1000) // beyond the newest of 1.3 but young: kept
		e.clock.Set(t0.Add(8 * 24 * time.Hour))

		dry := e.run(true)
		wantDeleted := []string{"1.3.0-rc.1 candidate beyond_newest_of_minor_line", "2.0.0 draft draft_untouched"}
		wantKept := []string{
			"1.0.0 released released", "1.1.0 withdrawn withdrawn", "1.2.0-rc.1 approved newest_of_minor_line",
			"1.3.0-rc.0 candidate younger_than_a_day", "1.3.0-rc.2 candidate deployed", "1.3.0-rc.3 candidate newest_of_minor_line",
			"2.1.0 draft draft_recently_touched", "2.2.0 draft younger_than_a_day",
		}
		if diff := cmp.Diff(wantDeleted, decisions(dry.Deleted)); diff != "" {
			t.Errorf("dry run deletes (-want +got):\n%s", diff)
		}
		if diff := cmp.Diff(wantKept, decisions(dry.Kept)); diff != "" {
			t.Errorf("dry run keeps (-want +got):\n%s", diff)
		}
		if want := int64(40000 + 100 + 50000 + 100); dry.BytesFreed != want {
			t.Errorf("dry run bytes_freed = %d, want %d", dry.BytesFreed, want)
		}
		// The dry run changed nothing.
		e.admin.json("GET", "/products/hr/releases/2.0.0", nil).must(t, 200)
		if len(e.srv.Objects(t, "products/hr/releases/2.0.0/")) == 0 {
			t.Fatal("a dry run removed objects")
		}

		real := e.run(false)
		if diff := cmp.Diff(dry.Deleted, real.Deleted); diff != "" {
			t.Errorf("real run deleted other than the dry run listed (-dry +real):\n%s", diff)
		}
		if diff := cmp.Diff(dry.Kept, real.Kept); diff != "" {
			t.Errorf("real run kept other than the dry run listed (-dry +real):\n%s", diff)
		}
		if real.DryRun || real.BytesFreed != dry.BytesFreed {
			t.Errorf("real run: dry_run=%t bytes_freed=%d", real.DryRun, real.BytesFreed)
		}
		for _, v := range []string{"1.3.0-rc.1", "2.0.0"} {
			e.admin.json("GET", "/products/hr/releases/"+v, nil).must(t, 404)
			if left := e.srv.Objects(t, "products/hr/releases/"+v+"/"); len(left) > 0 {
				t.Errorf("objects of deleted %s left in the store: %v", v, left)
			}
		}
		for _, v := range []string{"1.0.0", "1.1.0", "1.2.0-rc.1", "1.3.0-rc.0", "1.3.0-rc.2", "1.3.0-rc.3", "2.1.0", "2.2.0"} {
			e.admin.json("GET", "/products/hr/releases/"+v+"/artifacts/hr.tar.gz", nil).must(t, 200)
		}
		metrics := string(e.admin.do("GET", "/metrics", nil).must(t, 200).body)
		if !strings.Contains(metrics, fmt.Sprintf("reliquary_retention_bytes_freed_total %d", dry.BytesFreed)) ||
			!strings.Contains(metrics, "reliquary_retention_releases_deleted_total 2") {
			t.Errorf("retention metrics missing or wrong:\n%s", grepLines(metrics, "reliquary_retention"))
		}
		// A second run finds nothing more to do.
		if again := e.run(false); len(again.Deleted) != 0 {
			t.Errorf("second run deleted %v", decisions(again.Deleted))
		}
		// The journal says what went and why.
		var feed struct {
			Events []struct{ Type, Actor, Subject string }
		}
		e.admin.json("GET", "/events?limit=1000", nil).must(t, 200).decode(t, &feed)
		var deleted []string
		for _, ev := range feed.Events {
			if ev.Type == library.EvReleaseDeleted {
				deleted = append(deleted, ev.Subject)
			}
		}
		slices.Sort(deleted)
		if diff := cmp.Diff([]string{"hr@1.3.0-rc.1", "hr@2.0.0"}, deleted); diff != "" {
			t.Errorf("release.deleted events (-want +got):\n%s", diff)
		}
	})
}

func grepLines(s, substr string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, substr) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

// TestDeleteRelease: who may delete what, what can never be deleted, and a
// deleted version created again.
func TestDeleteRelease(t *testing.T) {
	stores(t, func(t *testing.T, store string) {
		e := newRetentionEnv(t, store)
		e.released("1.0.0")
		e.released("1.1.0")
		e.rm1.json("POST", "/products/hr/releases/1.1.0/withdraw", map[string]string{"reason": "bad", "change_id": "CHG-9"}).must(t, 200)
		e.candidate("1.2.0", 1000)
		e.candidate("1.3.0", 1000)
		e.approved("1.4.0")
		e.draft("2.0.0", 5000)
		e.admin.json("POST", "/deployments", map[string]any{"product": "hr", "version": "1.3.0", "environment": "staging", "target": "web-1", "status": "failed"}).must(t, 201)

		cases := []struct {
			name    string
			c       *client
			version string
			status  int
			code    string
			rule    string
		}{
			{"released", e.rm1, "1.0.0", 409, "RELEASE_PROTECTED", "released"},
			{"released, by an admin", e.admin, "1.0.0", 409, "RELEASE_PROTECTED", "released"},
			{"withdrawn", e.rm1, "1.1.0", 409, "RELEASE_PROTECTED", "withdrawn"},
			{"deployed candidate", e.rm1, "1.3.0", 409, "RELEASE_PROTECTED", "deployed"},
			{"candidate by a publisher", e.ci, "1.2.0", 403, "FORBIDDEN", ""},
			{"approved by a publisher", e.ci, "1.4.0", 403, "FORBIDDEN", ""},
			{"unknown version", e.rm1, "9.9.9", 404, "RELEASE_NOT_FOUND", ""},
			{"bad version", e.rm1.hostileClient(), "1.2", 400, "INVALID_VERSION", ""},
		}
		for _, tc := range cases {
			r := tc.c.json("DELETE", "/products/hr/releases/"+tc.version, nil)
			if r.status != tc.status || r.errCode() != tc.code {
				t.Errorf("%s: %d %s, want %d %s: %s", tc.name, r.status, r.errCode(), tc.status, tc.code, r.body)
				continue
			}
			if tc.rule != "" {
				var body struct {
					Error struct{ Details struct{ Rule string } }
				}
				r.decode(t, &body)
				if body.Error.Details.Rule != tc.rule {
					t.Errorf("%s: details.rule %q, want %q", tc.name, body.Error.Details.Rule, tc.rule)
				}
			}
		}
		for _, v := range []string{"1.0.0", "1.1.0", "1.2.0", "1.3.0", "1.4.0"} {
			e.admin.json("GET", "/products/hr/releases/"+v+"/artifacts/hr.tar.gz", nil).must(t, 200)
		}

		var d library.DeletedRelease
		e.rm2.json("DELETE", "/products/hr/releases/1.2.0", nil).must(t, 200).decode(t, &d)
		if d.State != library.StateCandidate || d.Artifacts != 2 || d.Bytes != 1100 || d.Seq == 0 {
			t.Errorf("deleted candidate: %+v", d)
		}
		e.rm1.json("DELETE", "/products/hr/releases/1.4.0", nil).must(t, 200)
		e.ci.json("DELETE", "/products/hr/releases/2.0.0", nil).must(t, 200).decode(t, &d)
		if d.State != library.StateDraft || d.Bytes != 5100 {
			t.Errorf("deleted draft: %+v", d)
		}
		for _, v := range []string{"1.2.0", "1.4.0", "2.0.0"} {
			e.admin.json("GET", "/products/hr/releases/"+v, nil).must(t, 404)
			if left := e.srv.Objects(t, "products/hr/releases/"+v+"/"); len(left) > 0 {
				t.Errorf("objects of deleted %s left: %v", v, left)
			}
		}
		// Gone from lists and searches too.
		var page struct{ Releases []struct{ Version string } }
		e.admin.json("GET", "/products/hr/releases?limit=100", nil).must(t, 200).decode(t, &page)
		for _, r := range page.Releases {
			if r.Version == "1.2.0" || r.Version == "2.0.0" {
				t.Errorf("deleted %s still listed", r.Version)
			}
		}
		// The same version can be created again: a new draft, new bytes.
		e.ci.json("POST", "/products/hr/releases", map[string]any{"version": "1.2.0", "change_id": "CHG-NEW"}).must(t, 201)
		e.ci.put("/products/hr/releases/1.2.0/artifacts/hr.tar.gz", upload{size: 777, seed: 99}).must(t, 201)
		e.ci.json("POST", "/products/hr/releases/1.2.0/seal", nil).must(t, 200)
		var r library.Release
		e.admin.json("GET", "/products/hr/releases/1.2.0", nil).must(t, 200).decode(t, &r)
		if r.State != library.StateCandidate || len(r.Artifacts) != 1 || r.Artifacts[0].Size != 777 {
			t.Errorf("re-created 1.2.0: state %s, artifacts %+v", r.State, r.Artifacts)
		}
		var feed struct {
			Events []struct{ Type, Subject string }
		}
		e.admin.json("GET", "/events?limit=1000", nil).must(t, 200).decode(t, &feed)
		var story []string
		for _, ev := range feed.Events {
			if ev.Subject == "hr@1.2.0" && (ev.Type == library.EvReleaseCreated || ev.Type == library.EvReleaseDeleted) {
				story = append(story, ev.Type)
			}
		}
		if diff := cmp.Diff([]string{"release.created", "release.deleted", "release.created"}, story); diff != "" {
			t.Errorf("journal of hr@1.2.0 (-want +got):\n%s", diff)
		}
	})
}

// TestRetentionScopeAndInput: a scoped admin's run looks only at its
// products; a bad retention policy or dry_run is a 400.
func TestRetentionScopeAndInput(t *testing.T) {
	e := newRetentionEnv(t, "fs")
	e.admin.json("POST", "/products", map[string]any{"name": "crm"}).must(t, 201)
	for _, p := range []string{"hr", "crm"} {
		e.admin.json("PUT", "/products/"+p+"/policy", map[string]any{"retention": map[string]int{"drafts_days": 1}}).must(t, 200)
	}
	e.ci.json("POST", "/products/crm/releases", map[string]any{"version": "1.0.0"}).must(t, 201)
	e.draft("1.0.0", 10)
	e.clock.Set(e.clock.Now().Add(72 * time.Hour))

	var v struct{ Secret string }
	e.admin.json("POST", "/tokens", map[string]any{"name": "crm-admin", "role": "admin", "products": []string{"crm"}}).must(t, 201).decode(t, &v)
	scoped := newClient(t, e.srv, v.Secret)
	var rep library.RetentionReport
	scoped.json("POST", "/retention/run", nil).must(t, 200).decode(t, &rep)
	if diff := cmp.Diff([]string{"crm"}, rep.Products); diff != "" {
		t.Errorf("scoped run products (-want +got):\n%s", diff)
	}
	if len(rep.Deleted) != 1 || rep.Deleted[0].Product != "crm" {
		t.Errorf("scoped run deleted %+v", rep.Deleted)
	}
	e.admin.json("GET", "/products/hr/releases/1.0.0", nil).must(t, 200)
	scoped.json("DELETE", "/products/hr/releases/1.0.0", nil).must(t, 403)

	h := e.admin.hostileClient()
	for _, body := range []string{
		`{"retention": {"drafts_days": 0}}`, `{"retention": {"drafts_days": -1}}`, `{"retention": {"candidates_keep": 100000}}`,
		`{"retention": {}}`, `{"retention": {"drafts_days": "7"}}`, `{"retention": {"keep": 1}}`,
	} {
		if r := h.json("PUT", "/products/hr/policy", body); r.status != 400 {
			t.Errorf("policy %s: %d %s", body, r.status, r.body)
		}
	}
	if r := h.json("POST", "/retention/run?dry_run=maybe", nil); r.status != 400 || r.errCode() != "INVALID_INPUT" {
		t.Errorf("dry_run=maybe: %d %s", r.status, r.body)
	}
	e.ci.json("POST", "/retention/run", nil).must(t, 403)
}

// TestDeletedReleaseLosesItsStatement: an approved release has a signed
// statement; once deleted, the same version created again has none.
func TestDeletedReleaseLosesItsStatement(t *testing.T) {
	e := newRetentionEnv(t, "fs")
	e.approved("1.4.0")
	e.admin.json("GET", "/products/hr/releases/1.4.0/statement", nil).must(t, 200)
	e.rm1.json("DELETE", "/products/hr/releases/1.4.0", nil).must(t, 200)
	e.ci.json("POST", "/products/hr/releases", map[string]any{"version": "1.4.0"}).must(t, 201)
	if r := e.admin.json("GET", "/products/hr/releases/1.4.0/statement", nil); r.status != 404 || r.errCode() != "STATEMENT_NOT_FOUND" {
		t.Fatalf("statement of the re-created draft: %d %s", r.status, r.body)
	}
}
