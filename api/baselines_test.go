package api_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/reliquary/reliquary/internal/library"
	"github.com/reliquary/reliquary/internal/manifest"
	"github.com/reliquary/reliquary/internal/testenv"
)

// cmdbEnv is a server with several products and the people who act on
// them: CI publishes and seals, a release manager approves and releases,
// an installer records deployments.
type cmdbEnv struct {
	t                          *testing.T
	srv                        *testenv.Server
	admin, ci, rm, dep, reader *client
}

func newCMDBEnv(t *testing.T, products ...string) *cmdbEnv {
	t.Helper()
	srv := testenv.StartServer(t, testenv.ServerOptions{})
	e := &cmdbEnv{t: t, srv: srv, admin: newClient(t, srv, srv.AdminToken)}
	e.ci = e.token("ci", "publisher")
	e.rm = e.token("alice", "release-manager")
	e.dep = e.token("installer", "deployer")
	e.reader = e.token("auditor", "reader")
	for _, p := range products {
		e.admin.json("POST", "/products", map[string]any{"name": p, "ci_id": "CI-" + p}).must(t, 201)
	}
	return e
}

// token makes a client with a new token; products scopes it.
func (e *cmdbEnv) token(name, role string, products ...string) *client {
	e.t.Helper()
	var v struct{ Secret string }
	e.admin.json("POST", "/tokens", map[string]any{"name": name, "role": role, "products": products}).must(e.t, 201).decode(e.t, &v)
	return newClient(e.t, e.srv, v.Secret)
}

// draft creates a draft with one artifact; extra fields go into the body.
func (e *cmdbEnv) draft(product, version string, extra map[string]any) {
	e.t.Helper()
	body := map[string]any{"version": version}
	for k, v := range extra {
		body[k] = v
	}
	e.ci.json("POST", "/products/"+product+"/releases", body).must(e.t, 201)
	e.ci.put("/products/"+product+"/releases/"+version+"/artifacts/"+product+".tar.gz", upload{size: 512, seed: 3}).must(e.t, 201)
}

// sealed makes a candidate.
func (e *cmdbEnv) sealed(product, version string, extra map[string]any) {
	e.t.Helper()
	e.draft(product, version, extra)
	e.ci.json("POST", "/products/"+product+"/releases/"+version+"/seal", nil).must(e.t, 200)
}

// released walks a release to released.
func (e *cmdbEnv) released(product, version string, extra map[string]any) {
	e.t.Helper()
	e.sealed(product, version, extra)
	path := "/products/" + product + "/releases/" + version
	e.rm.json("POST", path+"/approvals", nil).must(e.t, 200)
	e.rm.json("POST", path+"/promote", map[string]string{"to": "released", "change_id": "CHG-" + product + "-" + version}).must(e.t, 200)
}

func (e *cmdbEnv) withdraw(product, version, reason string) {
	e.t.Helper()
	e.rm.json("POST", "/products/"+product+"/releases/"+version+"/withdraw", map[string]string{"reason": reason, "change_id": "CHG-backout"}).must(e.t, 200)
}

// events returns the journal's events of one type, read from the index.
func (e *cmdbEnv) events(typ string) []map[string]any {
	e.t.Helper()
	var out []map[string]any
	err := e.srv.Index.View(func(tx library.ReadTx) error {
		evs, err := tx.Events(0, 0)
		for _, ev := range evs {
			if ev.Type == typ {
				var data map[string]any
				if err := json.Unmarshal(ev.Data, &data); err != nil {
					return err
				}
				data["_seq"] = float64(ev.Seq)
				out = append(out, data)
			}
		}
		return err
	})
	if err != nil {
		e.t.Fatal(err)
	}
	return out
}

func members(b library.BaselineView) []library.BaselineMember {
	var out []library.BaselineMember
	for _, m := range b.Releases {
		out = append(out, m.BaselineMember)
	}
	return out
}

func TestBaselineFromCurrent(t *testing.T) {
	e := newCMDBEnv(t, "crm", "hr", "web", "empty")
	e.released("hr", "1.0.0", nil)
	e.released("hr", "1.1.0", nil)
	e.released("crm", "2.0.0", nil)
	e.sealed("crm", "2.1.0", nil) // a candidate is never current
	// web keeps two majors open: 2.4.0 and 3.0.0 are both current; the
	// baseline takes the highest.
	e.admin.json("PUT", "/products/web/policy", map[string]any{"supported_majors": 2}).must(t, 200)
	e.released("web", "2.4.0", nil)
	e.released("web", "3.0.0", nil)
	e.draft("web", "3.1.0", nil)

	var b library.BaselineView
	r := e.rm.json("POST", "/baselines", map[string]any{"name": "prod-2026-01", "from": "current", "change_id": "CHG-B1",
		"description": "production, January"}).must(t, 201)
	r.decode(t, &b)
	if r.header.Get("Location") != "/api/v1/baselines/prod-2026-01" {
		t.Errorf("Location %q", r.header.Get("Location"))
	}
	want := []library.BaselineMember{
		{Product: "crm", Version: "2.0.0", Type: library.TypeMajor},
		{Product: "hr", Version: "1.1.0", Type: library.TypeMinor},
		{Product: "web", Version: "3.0.0", Type: library.TypeMajor},
	}
	if d := cmp.Diff(want, members(b)); d != "" {
		t.Errorf("members (-want +got):\n%s", d)
	}
	if b.From != "current" || b.CreatedBy != "alice" || b.ChangeID != "CHG-B1" || b.KeyID == "" {
		t.Errorf("baseline = %+v", b)
	}

	// Read back, listed, and immutable.
	var got library.BaselineView
	e.reader.json("GET", "/baselines/prod-2026-01", nil).must(t, 200).decode(t, &got)
	if d := cmp.Diff(b, got); d != "" {
		t.Errorf("GET differs from the creation answer:\n%s", d)
	}
	var list struct{ Baselines []library.Baseline }
	e.reader.json("GET", "/baselines", nil).must(t, 200).decode(t, &list)
	if len(list.Baselines) != 1 || list.Baselines[0].Name != "prod-2026-01" || len(list.Baselines[0].Releases) != 3 {
		t.Errorf("list = %+v", list)
	}
	if r := e.rm.json("POST", "/baselines", map[string]any{"name": "prod-2026-01", "from": "current"}); r.status != 409 || r.errCode() != "BASELINE_EXISTS" {
		t.Errorf("same name again: %d %s", r.status, r.body)
	}

	// The manifest: canonical, the recorded digest, verified with crypto/ecdsa alone.
	mbytes := e.reader.do("GET", "/baselines/prod-2026-01/manifest", nil).must(t, 200).body
	sig := e.reader.do("GET", "/baselines/prod-2026-01/manifest/signature", nil).must(t, 200).body
	key := e.reader.do("GET", "/signing/key", nil).must(t, 200).body
	verifyECDSA(t, key, mbytes, sig)
	if sum := sha256.Sum256(mbytes); "sha256:"+hex.EncodeToString(sum[:]) != b.ManifestDigest {
		t.Error("manifest bytes do not match manifest_digest")
	}
	m, err := manifest.ParseBaselineManifest(mbytes)
	if err != nil {
		t.Fatalf("stored manifest is not canonical: %v", err)
	}
	if m.Name != "prod-2026-01" || m.ChangeID != "CHG-B1" || m.CreatedBy != "alice" || len(m.Releases) != 3 || m.Releases[2] != (manifest.BaselineMember{Product: "web", Version: "3.0.0", Type: "major"}) {
		t.Errorf("manifest = %+v", m)
	}
	if got := e.srv.Objects(t, "baselines/"); !slices.Equal(got, []string{"baselines/prod-2026-01/manifest.json", "baselines/prod-2026-01/manifest.json.sig"}) {
		t.Errorf("store holds %q", got)
	}
	// Journalled, with the index change in the same event.
	evs := e.events(library.EvBaselineCreated)
	if len(evs) != 1 || !bytes.Contains(mustJSON(t, evs[0]["changes"]), []byte(`"bucket":"baselines"`)) {
		t.Errorf("baseline.created events: %v", evs)
	}
}

func mustJSON(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestBaselineDiff(t *testing.T) {
	e := newCMDBEnv(t, "hr", "crm", "web", "erp", "db")
	e.released("hr", "1.3.0", nil)
	e.released("crm", "2.1.0", nil)
	e.released("web", "1.0.0", nil)
	e.released("db", "5.0.0", nil)
	e.rm.json("POST", "/baselines", map[string]any{"name": "q1", "releases": []map[string]string{
		{"product": "hr", "version": "1.3.0"}, {"product": "crm", "version": "2.1.0"},
		{"product": "web", "version": "1.0.0"}, {"product": "db", "version": "5.0.0"},
	}}).must(t, 201)

	e.released("hr", "2.0.0", nil)  // a major upgrade
	e.released("crm", "2.1.1", nil) // an emergency fix
	e.released("erp", "1.0.0", nil) // a product added; web is left out
	e.rm.json("POST", "/baselines", map[string]any{"name": "q2", "releases": []map[string]string{
		{"product": "hr", "version": "2.0.0"}, {"product": "crm", "version": "2.1.1"},
		{"product": "erp", "version": "1.0.0"}, {"product": "db", "version": "5.0.0"},
	}}).must(t, 201)

	var d library.BaselineDiff
	e.reader.json("GET", "/baselines/q1/diff/q2", nil).must(t, 200).decode(t, &d)
	want := library.BaselineDiff{From: "q1", To: "q2", Changes: []library.ProductChange{
		{Product: "crm", Change: library.ChangeUpgraded, From: "2.1.0", To: "2.1.1", Type: library.TypeEmergency},
		{Product: "db", Change: library.ChangeUnchanged, From: "5.0.0", To: "5.0.0", Type: library.TypeMajor},
		{Product: "erp", Change: library.ChangeAdded, To: "1.0.0", Type: library.TypeMajor},
		{Product: "hr", Change: library.ChangeUpgraded, From: "1.3.0", To: "2.0.0", Type: library.TypeMajor},
		{Product: "web", Change: library.ChangeRemoved, From: "1.0.0"},
	}}
	if diff := cmp.Diff(want, d); diff != "" {
		t.Errorf("q1 → q2 (-want +got):\n%s", diff)
	}
	// Backwards: the steps reverse, typed by their target.
	e.reader.json("GET", "/baselines/q2/diff/q1", nil).must(t, 200).decode(t, &d)
	back := map[string]library.ProductChange{}
	for _, c := range d.Changes {
		back[c.Product] = c
	}
	if c := back["hr"]; c.Change != library.ChangeDowngraded || c.From != "2.0.0" || c.To != "1.3.0" || c.Type != library.TypeMinor {
		t.Errorf("hr backwards: %+v", c)
	}
	if back["erp"].Change != library.ChangeRemoved || back["web"].Change != library.ChangeAdded || back["crm"].Change != library.ChangeDowngraded {
		t.Errorf("backwards: %+v", d.Changes)
	}
	// The older baseline still reads the same; its hr member is now superseded.
	var q1 library.BaselineView
	e.reader.json("GET", "/baselines/q1", nil).must(t, 200).decode(t, &q1)
	if q1.Releases[2].Product != "hr" || q1.Releases[2].Version != "1.3.0" || q1.Releases[2].SupersededBy != "2.0.0" || q1.Releases[2].Withdrawn {
		t.Errorf("q1 hr member: %+v", q1.Releases[2])
	}
	if r := e.reader.json("GET", "/baselines/q1/diff/q9", nil); r.status != 404 || r.errCode() != "BASELINE_NOT_FOUND" {
		t.Errorf("diff with a missing baseline: %d %s", r.status, r.body)
	}
}

func TestBaselineRefusals(t *testing.T) {
	e := newCMDBEnv(t, "hr", "crm")
	e.released("hr", "1.0.0", nil)
	e.released("hr", "1.1.0", nil)
	e.withdraw("hr", "1.1.0", "corrupts payroll")
	e.draft("crm", "1.0.0", nil)
	e.sealed("crm", "1.1.0", nil)
	e.released("crm", "2.0.0", nil)
	scoped := e.token("hr-rm", "release-manager", "hr")
	one := func(p, v string) map[string]any {
		return map[string]any{"name": "b1", "releases": []map[string]string{{"product": "hr", "version": "1.0.0"}, {"product": p, "version": v}}}
	}
	cases := []struct {
		name   string
		c      *client
		body   any
		status int
		code   string
	}{
		{"draft member", e.rm, one("crm", "1.0.0"), 409, "MEMBER_NOT_RELEASED"},
		{"candidate member", e.rm, one("crm", "1.1.0"), 409, "MEMBER_NOT_RELEASED"},
		{"withdrawn member", e.rm, map[string]any{"name": "b1", "releases": []map[string]string{{"product": "hr", "version": "1.1.0"}}}, 409, "MEMBER_NOT_RELEASED"},
		{"unknown release", e.rm, one("crm", "9.9.9"), 404, "RELEASE_NOT_FOUND"},
		{"unknown product", e.rm, one("nope", "1.0.0"), 404, "PRODUCT_NOT_FOUND"},
		{"product twice", e.rm, one("hr", "1.1.0"), 400, "INVALID_INPUT"},
		{"no members", e.rm, map[string]any{"name": "b1"}, 400, "INVALID_INPUT"},
		{"both list and current", e.rm, map[string]any{"name": "b1", "from": "current", "releases": []map[string]string{{"product": "hr", "version": "1.0.0"}}}, 400, "INVALID_INPUT"},
		{"from latest", e.rm, map[string]any{"name": "b1", "from": "latest"}, 400, "INVALID_INPUT"},
		{"bad name", e.rm, map[string]any{"name": "Prod 1", "from": "current"}, 400, "INVALID_NAME"},
		{"publisher", e.ci, map[string]any{"name": "b1", "from": "current"}, 403, "FORBIDDEN"},
		{"member outside scope", scoped, one("crm", "2.0.0"), 403, "FORBIDDEN"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := tc.c.hostileClient().json("POST", "/baselines", tc.body)
			if r.status != tc.status || r.errCode() != tc.code {
				t.Errorf("%d %s, want %d %s", r.status, r.body, tc.status, tc.code)
			}
		})
	}
	r := e.rm.json("POST", "/baselines", one("crm", "1.0.0"))
	var env struct {
		Error struct{ Details map[string]any }
	}
	r.decode(t, &env)
	if env.Error.Details["product"] != "crm" || env.Error.Details["version"] != "1.0.0" || env.Error.Details["state"] != "draft" {
		t.Errorf("MEMBER_NOT_RELEASED details: %v", env.Error.Details)
	}
	if got := e.srv.Objects(t, "baselines/"); len(got) != 0 {
		t.Errorf("refused baselines left %q in the store", got)
	}
	// A scoped release manager's "current" baseline holds only its products.
	var b library.BaselineView
	scoped.json("POST", "/baselines", map[string]any{"name": "hr-only", "from": "current"}).must(t, 201).decode(t, &b)
	if d := cmp.Diff([]library.BaselineMember{{Product: "hr", Version: "1.0.0", Type: library.TypeMajor}}, members(b)); d != "" {
		t.Errorf("scoped current baseline:\n%s", d)
	}
	// Nothing current at all.
	e.admin.json("POST", "/products", map[string]any{"name": "fresh"}).must(t, 201)
	fresh := e.token("fresh-rm", "release-manager", "fresh")
	if r := fresh.json("POST", "/baselines", map[string]any{"name": "nothing", "from": "current"}); r.status != 409 || r.errCode() != "EMPTY_BASELINE" {
		t.Errorf("empty current baseline: %d %s", r.status, r.body)
	}
	if r := e.reader.json("GET", "/baselines/nothing", nil); r.status != 404 || r.errCode() != "BASELINE_NOT_FOUND" {
		t.Errorf("GET a refused baseline: %d %s", r.status, r.body)
	}
}

// A release withdrawn after a baseline was frozen is flagged when the
// baseline is read; the baseline and its signed bytes never change.
func TestBaselineFlagsLaterWithdrawal(t *testing.T) {
	e := newCMDBEnv(t, "hr", "crm")
	e.released("hr", "1.0.0", nil)
	e.released("crm", "3.2.1", nil)
	e.rm.json("POST", "/baselines", map[string]any{"name": "before-incident", "from": "current"}).must(t, 201)
	before := e.reader.do("GET", "/baselines/before-incident/manifest", nil).must(t, 200).body

	e.withdraw("hr", "1.0.0", "data loss on upgrade")

	var b library.BaselineView
	e.reader.json("GET", "/baselines/before-incident", nil).must(t, 200).decode(t, &b)
	if len(b.Releases) != 2 {
		t.Fatalf("members: %+v", b.Releases)
	}
	crm, hr := b.Releases[0], b.Releases[1]
	if !hr.Withdrawn || hr.State != library.StateWithdrawn || hr.Withdrawal == nil || hr.Withdrawal.Reason != "data loss on upgrade" || hr.Version != "1.0.0" {
		t.Errorf("hr member after withdrawal: %+v", hr)
	}
	if crm.Withdrawn || crm.Withdrawal != nil || crm.State != library.StateReleased {
		t.Errorf("crm member: %+v", crm)
	}
	after := e.reader.do("GET", "/baselines/before-incident/manifest", nil).must(t, 200).body
	if !bytes.Equal(before, after) {
		t.Error("the baseline's manifest changed after a withdrawal")
	}
	verifyECDSA(t, e.reader.do("GET", "/signing/key", nil).body, after, e.reader.do("GET", "/baselines/before-incident/manifest/signature", nil).must(t, 200).body)
	// A new baseline can no longer take the withdrawn release.
	r := e.rm.json("POST", "/baselines", map[string]any{"name": "after", "releases": []map[string]string{{"product": "hr", "version": "1.0.0"}}})
	if r.status != 409 || r.errCode() != "MEMBER_NOT_RELEASED" {
		t.Errorf("baseline of a withdrawn release: %d %s", r.status, r.body)
	}
}
