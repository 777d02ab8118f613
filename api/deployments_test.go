package api_test

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/reliquary/reliquary/internal/library"
)

// deploy records a deployment as the installer.
func (e *cmdbEnv) deploy(product, version, env, target, status string) library.Deployment {
	e.t.Helper()
	var d library.Deployment
	e.dep.json("POST", "/deployments", map[string]any{"product": product, "version": version, "environment": env, "target": target,
		"status": status, "change_id": "CHG-dep", "details": map[string]any{"pipeline": "deploy-42", "attempt": 1}}).must(e.t, 201).decode(e.t, &d)
	return d
}

// install is the part of an environment entry a test compares.
type install struct {
	Product, Target, Version, Status, State, SupersededBy string
	Superseded, Withdrawn                                 bool
	Reason, LastAttempt                                   string
}

func installs(v library.EnvironmentView) []install {
	var out []install
	for _, in := range v.Installs {
		x := install{Product: in.Product, Target: in.Target, Version: in.Version, Status: string(in.Status), State: string(in.State),
			SupersededBy: in.SupersededBy, Superseded: in.Superseded, Withdrawn: in.Withdrawn}
		if in.Withdrawal != nil {
			x.Reason = in.Withdrawal.Reason
		}
		if in.LastAttempt != nil {
			x.LastAttempt = in.LastAttempt.Version + " " + string(in.LastAttempt.Status)
		}
		out = append(out, x)
	}
	return out
}

// GET /environments/production after several versions, a failure and a
// rollback shows what runs where, and names installs of withdrawn releases.
func TestEnvironmentPicture(t *testing.T) {
	e := newCMDBEnv(t, "hr", "crm")
	for _, v := range []string{"1.0.0", "1.1.0", "1.2.0", "1.3.0"} {
		e.released("hr", v, nil)
	}
	e.released("crm", "2.0.0", nil)
	e.sealed("crm", "2.1.0", nil) // a candidate, piloted on one host
	e.draft("crm", "2.2.0", nil)

	e.deploy("hr", "1.0.0", "production", "web-1", "succeeded")
	e.deploy("hr", "1.1.0", "production", "web-1", "succeeded")
	e.deploy("hr", "1.2.0", "production", "web-1", "failed") // web-1 keeps 1.1.0
	e.deploy("hr", "1.2.0", "production", "web-2", "succeeded")
	e.deploy("hr", "1.3.0", "production", "web-2", "succeeded")
	e.deploy("hr", "1.3.0", "production", "web-3", "succeeded")
	e.deploy("hr", "1.2.0", "production", "web-3", "rolled_back") // web-3 back on 1.2.0
	e.deploy("hr", "1.3.0", "staging", "stg-1", "succeeded")
	e.deploy("crm", "2.1.0", "production", "db-1", "succeeded")
	e.deploy("crm", "2.0.0", "production", "db-2", "failed") // nothing ever ran on db-2
	// 1.3.0 is backed out after the fact: web-2 still runs it.
	e.withdraw("hr", "1.3.0", "memory leak")

	if r := e.dep.json("POST", "/deployments", map[string]any{"product": "crm", "version": "2.2.0", "environment": "production",
		"target": "db-1", "status": "succeeded"}); r.status != 409 || r.errCode() != "INVALID_STATE" {
		t.Errorf("deployment of a draft: %d %s", r.status, r.body)
	}

	var v library.EnvironmentView
	e.reader.json("GET", "/environments/production", nil).must(t, 200).decode(t, &v)
	want := []install{
		{Product: "crm", Target: "db-1", Version: "2.1.0", Status: "succeeded", State: "candidate"},
		{Product: "hr", Target: "web-1", Version: "1.1.0", Status: "succeeded", State: "released", Superseded: true, SupersededBy: "1.2.0", LastAttempt: "1.2.0 failed"},
		{Product: "hr", Target: "web-2", Version: "1.3.0", Status: "succeeded", State: "withdrawn", Withdrawn: true, Reason: "memory leak"},
		{Product: "hr", Target: "web-3", Version: "1.2.0", Status: "rolled_back", State: "released"},
	}
	if d := cmp.Diff(want, installs(v)); d != "" {
		t.Errorf("production (-want +got):\n%s", d)
	}
	var stg library.EnvironmentView
	e.reader.json("GET", "/environments/staging", nil).must(t, 200).decode(t, &stg)
	if d := cmp.Diff([]install{{Product: "hr", Target: "stg-1", Version: "1.3.0", Status: "succeeded", State: "withdrawn", Withdrawn: true, Reason: "memory leak"}}, installs(stg)); d != "" {
		t.Errorf("staging:\n%s", d)
	}
	if r := e.reader.json("GET", "/environments/nowhere", nil); r.status != 404 || r.errCode() != "ENVIRONMENT_NOT_FOUND" {
		t.Errorf("unknown environment: %d %s", r.status, r.body)
	}

	// "Where is hr 1.2.0 installed?" newest first, paged.
	var page struct {
		Deployments []library.Deployment
		NextCursor  string `json:"next_cursor"`
	}
	e.reader.json("GET", "/deployments?product=hr&version=1.2.0&limit=2", nil).must(t, 200).decode(t, &page)
	got := []string{}
	for _, d := range page.Deployments {
		got = append(got, d.Target+" "+string(d.Status))
	}
	cursor := page.NextCursor
	if cursor == "" {
		t.Fatal("no next_cursor after a full page")
	}
	page.NextCursor = ""
	e.reader.json("GET", "/deployments?product=hr&version=1.2.0&limit=2&cursor="+cursor, nil).must(t, 200).decode(t, &page)
	for _, d := range page.Deployments {
		got = append(got, d.Target+" "+string(d.Status))
	}
	if d := cmp.Diff([]string{"web-3 rolled_back", "web-2 succeeded", "web-1 failed"}, got); d != "" || page.NextCursor != "" {
		t.Errorf("hr 1.2.0 deployments (-want +got):\n%s next %q", d, page.NextCursor)
	}
	for q, n := range map[string]int{
		"":                                       10,
		"?environment=production":                9,
		"?environment=production&target=web-1":   3,
		"?target=web-3":                          2,
		"?product=crm":                           2,
		"?product=hr&environment=staging":        1,
		"?product=hr&version=1.3.0&target=web-2": 1,
	} {
		e.reader.json("GET", "/deployments"+q, nil).must(t, 200).decode(t, &page)
		if len(page.Deployments) != n {
			t.Errorf("GET /deployments%s: %d records, want %d", q, len(page.Deployments), n)
		}
		for i := 1; i < len(page.Deployments); i++ {
			if page.Deployments[i].ID >= page.Deployments[i-1].ID {
				t.Errorf("GET /deployments%s is not newest first", q)
			}
		}
	}
	// Records are journalled and numbered 1, 2, … in order: the tenth is 10.
	evs := e.events(library.EvDeploymentRecorded)
	if len(evs) != 10 {
		t.Fatalf("%d deployment.recorded events", len(evs))
	}
	for i, ev := range evs {
		if dep, _ := ev["deployment"].(map[string]any); dep["id"] != float64(i+1) {
			t.Errorf("deployment event %d has id %v, want %d", i, dep["id"], i+1)
		}
	}
	last := evs[len(evs)-1]
	if dep, _ := last["deployment"].(map[string]any); dep["target"] != "db-2" {
		t.Errorf("last deployment event: %v", last)
	}
}

func TestDeploymentRefusalsAndScope(t *testing.T) {
	e := newCMDBEnv(t, "hr", "crm")
	e.released("hr", "1.0.0", nil)
	e.released("crm", "1.0.0", nil)
	crmDeployer := e.token("crm-installer", "deployer", "crm")
	crmReader := e.token("crm-auditor", "reader", "crm")
	ok := map[string]any{"product": "hr", "version": "1.0.0", "environment": "production", "target": "web-1", "status": "succeeded"}
	with := func(k string, v any) map[string]any {
		m := map[string]any{}
		for k2, v2 := range ok {
			m[k2] = v2
		}
		m[k] = v
		return m
	}
	cases := []struct {
		name   string
		c      *client
		body   any
		status int
		code   string
	}{
		{"reader", e.reader, ok, 403, "FORBIDDEN"},
		{"outside scope", crmDeployer, ok, 403, "FORBIDDEN"},
		{"unknown release", e.dep, with("version", "9.0.0"), 404, "RELEASE_NOT_FOUND"},
		{"unknown product", e.dep, with("product", "nope"), 404, "PRODUCT_NOT_FOUND"},
		{"bad status", e.dep, with("status", "ok"), 400, "INVALID_INPUT"},
		{"bad environment", e.dep, with("environment", "Prod!"), 400, "INVALID_NAME"},
		{"bad target", e.dep, with("target", "web 1"), 400, "INVALID_INPUT"},
		{"long target", e.dep, with("target", strings.Repeat("a", 300)), 400, "INVALID_INPUT"},
		{"details not an object", e.dep, with("details", []int{1}), 400, "INVALID_INPUT"},
		{"details too large", e.dep, with("details", map[string]string{"log": strings.Repeat("x", 17<<10)}), 400, "INVALID_INPUT"},
		{"unknown field", e.dep, with("host", "x"), 400, "INVALID_JSON"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := tc.c.hostileClient().json("POST", "/deployments", tc.body)
			if r.status != tc.status || r.errCode() != tc.code {
				t.Errorf("%d %s, want %d %s", r.status, r.body, tc.status, tc.code)
			}
		})
	}
	if r := e.dep.json("POST", "/baselines", map[string]any{"name": "b", "from": "current"}); r.status != 403 {
		t.Errorf("deployer creates a baseline: %d", r.status)
	}
	if r := e.reader.hostileClient().json("GET", "/deployments?version=1.0.0", nil); r.status != 400 || r.errCode() != "INVALID_INPUT" {
		t.Errorf("version without product: %d %s", r.status, r.body)
	}

	// Accepted: details stored as sent (compacted), absent details are {}.
	var d library.Deployment
	e.dep.json("POST", "/deployments", with("details", map[string]any{"by": "ansible", "hosts": []string{"a", "b"}})).must(t, 201).decode(t, &d)
	if string(d.Details) != `{"by":"ansible","hosts":["a","b"]}` || d.RecordedBy != "installer" || d.Type != library.TypeMajor {
		t.Errorf("record = %+v (details %s)", d, d.Details)
	}
	crmDeployer.json("POST", "/deployments", map[string]any{"product": "crm", "version": "1.0.0", "environment": "production", "target": "db-1", "status": "succeeded"}).must(t, 201).decode(t, &d)
	if string(d.Details) != `{}` {
		t.Errorf("absent details = %s", d.Details)
	}
	// Scoped readers see only their products.
	var v library.EnvironmentView
	crmReader.json("GET", "/environments/production", nil).must(t, 200).decode(t, &v)
	if len(v.Installs) != 1 || v.Installs[0].Product != "crm" {
		t.Errorf("scoped environment view: %+v", v.Installs)
	}
	var page struct{ Deployments []library.Deployment }
	crmReader.json("GET", "/deployments", nil).must(t, 200).decode(t, &page)
	if len(page.Deployments) != 1 || page.Deployments[0].Product != "crm" {
		t.Errorf("scoped deployment list: %+v", page.Deployments)
	}
}

// CMDB search by change, configuration item and label across two products,
// within the token's product scope.
func TestCMDBSearch(t *testing.T) {
	e := newCMDBEnv(t, "hr", "crm")
	e.released("hr", "1.0.0", map[string]any{"change_id": "CHG-7", "ci_ids": []string{"CI-DB", "CI-HR"}})
	e.released("hr", "1.1.0", map[string]any{"change_id": "CHG-8", "labels": map[string]string{"train": "q3"}})
	e.draft("crm", "2.0.0", map[string]any{"change_id": "CHG-7", "ci_ids": []string{"CI-DB"}})
	e.sealed("crm", "2.1.0", map[string]any{"ci_ids": []string{"CI-DB"}, "labels": map[string]string{"train": "q3", "team": "sales"}})
	e.draft("crm", "2.2.0", map[string]any{"labels": map[string]string{"train": "q4"}})

	search := func(c *client, q string) (refs []string, next string) {
		t.Helper()
		var res struct {
			Releases   []library.Release
			NextCursor string `json:"next_cursor"`
		}
		c.json("GET", "/releases?"+q, nil).must(t, 200).decode(t, &res)
		for _, r := range res.Releases {
			refs = append(refs, r.Product+"@"+r.Version)
			if r.Artifacts != nil {
				t.Errorf("search lists artifacts of %s@%s", r.Product, r.Version)
			}
		}
		return refs, res.NextCursor
	}
	for q, want := range map[string][]string{
		"change_id=CHG-7":                  {"crm@2.0.0", "hr@1.0.0"},
		"ci_id=CI-DB":                      {"crm@2.1.0", "crm@2.0.0", "hr@1.0.0"},
		"ci_id=CI-DB&state=draft":          {"crm@2.0.0"},
		"ci_id=CI-DB&state=released":       {"hr@1.0.0"},
		"label=train:q3":                   {"crm@2.1.0", "hr@1.1.0"},
		"label=train:q3&ci_id=CI-DB":       {"crm@2.1.0"},
		"change_id=CHG-7&ci_id=CI-HR":      {"hr@1.0.0"},
		"label=team:sales":                 {"crm@2.1.0"},
		"change_id=CHG-404":                nil,
		"ci_id=CI-DB&label=train:q4":       nil,
		"change_id=CHG-8&label=train%3Aq3": {"hr@1.1.0"},
	} {
		if got, _ := search(e.reader, q); !cmp.Equal(got, want) {
			t.Errorf("GET /releases?%s = %v, want %v", q, got, want)
		}
	}
	// Paged across products.
	first, next := search(e.reader, "ci_id=CI-DB&limit=2")
	if !cmp.Equal(first, []string{"crm@2.1.0", "crm@2.0.0"}) || next != "crm@2.0.0" {
		t.Fatalf("first page %v, next %q", first, next)
	}
	rest, next := search(e.reader, "ci_id=CI-DB&limit=2&cursor="+next)
	if !cmp.Equal(rest, []string{"hr@1.0.0"}) || next != "" {
		t.Errorf("second page %v, next %q", rest, next)
	}
	// Product scope.
	hrOnly := e.token("hr-auditor", "reader", "hr")
	if got, _ := search(hrOnly, "ci_id=CI-DB"); !cmp.Equal(got, []string{"hr@1.0.0"}) {
		t.Errorf("scoped search = %v", got)
	}
	if got, _ := search(hrOnly, "label=train:q3"); !cmp.Equal(got, []string{"hr@1.1.0"}) {
		t.Errorf("scoped label search = %v", got)
	}
	for _, q := range []string{"", "state=released", "label=train", "cursor=nope&ci_id=CI-DB", "state=gone&ci_id=x"} {
		if r := e.reader.hostileClient().json("GET", "/releases?"+q, nil); r.status != 400 {
			t.Errorf("GET /releases?%s: %d %s", q, r.status, r.body)
		}
	}
}
