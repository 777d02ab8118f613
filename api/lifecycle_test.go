package api_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/reliquary/reliquary/internal/library"
	"github.com/reliquary/reliquary/internal/testenv"
)

type lifecycleEnv struct {
	t                   *testing.T
	admin, ci, rm1, rm2 *client
}

func newLifecycleEnv(t *testing.T) *lifecycleEnv {
	srv := testenv.StartServer(t, testenv.ServerOptions{})
	admin := newClient(t, srv, srv.AdminToken)
	tok := func(name, role string) *client {
		var v struct{ Secret string }
		admin.json("POST", "/tokens", map[string]any{"name": name, "role": role}).must(t, 201).decode(t, &v)
		return newClient(t, srv, v.Secret)
	}
	e := &lifecycleEnv{t: t, admin: admin, ci: tok("ci", "publisher"), rm1: tok("alice", "release-manager"), rm2: tok("bob", "release-manager")}
	admin.json("POST", "/products", map[string]any{"name": "hr"}).must(t, 201)
	return e
}

// sealed creates a release with one artifact and seals it as CI would.
func (e *lifecycleEnv) sealed(version string) { e.sealedBy(e.ci, version) }

func (e *lifecycleEnv) sealedBy(c *client, version string) {
	e.t.Helper()
	c.json("POST", "/products/hr/releases", map[string]any{"version": version}).must(e.t, 201)
	c.put("/products/hr/releases/"+version+"/artifacts/hr.tar.gz?os=linux&arch=amd64", upload{size: 1000, seed: 7}).must(e.t, 201)
	c.json("POST", "/products/hr/releases/"+version+"/seal", nil).must(e.t, 200)
}

func (e *lifecycleEnv) release(version string) {
	e.t.Helper()
	e.sealed(version)
	e.rm1.json("POST", "/products/hr/releases/"+version+"/approvals", map[string]string{"comment": "ok"}).must(e.t, 200)
	e.rm1.json("POST", "/products/hr/releases/"+version+"/promote", map[string]string{"to": "released", "change_id": "CHG-" + version}).must(e.t, 200)
}

func (e *lifecycleEnv) get(version string) library.Release {
	var r library.Release
	e.admin.json("GET", "/products/hr/releases/"+version, nil).must(e.t, 200).decode(e.t, &r)
	return r
}

func (e *lifecycleEnv) resolve(query string) (int, string) {
	r := e.admin.json("GET", "/products/hr/resolve?"+query, nil)
	var v struct{ Release struct{ Version string } }
	if r.status == 200 {
		r.decode(e.t, &v)
	}
	return r.status, v.Release.Version
}

func TestTransitionRefusals(t *testing.T) {
	e := newLifecycleEnv(t)
	e.ci.json("POST", "/products/hr/releases", map[string]any{"version": "0.9.0"}).must(t, 201)
	e.sealedBy(e.rm2, "1.0.0")
	e.sealed("2.0.0-rc.1")
	cases := []struct {
		name   string
		c      *client
		path   string
		body   any
		status int
		code   string
	}{
		{"approve a draft", e.rm1, "0.9.0/approvals", nil, 409, "INVALID_STATE"},
		{"promote a draft", e.rm1, "0.9.0/promote", map[string]string{"to": "released", "change_id": "C"}, 409, "INVALID_STATE"},
		{"withdraw a draft", e.rm1, "0.9.0/withdraw", map[string]string{"reason": "r", "change_id": "C"}, 409, "INVALID_STATE"},
		{"publisher approves", e.ci, "1.0.0/approvals", nil, 403, "FORBIDDEN"},
		{"creator approves (four eyes)", e.rm2, "1.0.0/approvals", nil, 403, "FOUR_EYES"},
		{"promote a candidate", e.rm1, "1.0.0/promote", map[string]string{"to": "released", "change_id": "C"}, 409, "INVALID_STATE"},
		{"approve", e.rm1, "1.0.0/approvals", map[string]string{"comment": "lgtm"}, 200, ""},
		{"approve twice", e.rm1, "1.0.0/approvals", nil, 409, "ALREADY_APPROVED"},
		{"promote to elsewhere", e.rm1, "1.0.0/promote", map[string]string{"to": "production", "change_id": "C"}, 400, "INVALID_INPUT"},
		{"promote without change", e.rm1, "1.0.0/promote", map[string]string{"to": "released"}, 400, "CHANGE_ID_REQUIRED"},
		{"promote", e.rm2, "1.0.0/promote", map[string]string{"to": "released", "change_id": "CHG-1"}, 200, ""},
		{"approve the prerelease", e.rm1, "2.0.0-rc.1/approvals", nil, 200, ""},
		{"release a prerelease", e.rm1, "2.0.0-rc.1/promote", map[string]string{"to": "released", "change_id": "C"}, 409, "PRERELEASE_NOT_RELEASABLE"},
		{"withdraw without reason", e.rm1, "1.0.0/withdraw", map[string]string{"change_id": "C"}, 400, "REASON_REQUIRED"},
		{"withdraw without change", e.rm1, "1.0.0/withdraw", map[string]string{"reason": "broken"}, 400, "CHANGE_ID_REQUIRED"},
		{"withdraw", e.rm1, "1.0.0/withdraw", map[string]string{"reason": "broken", "change_id": "CHG-2"}, 200, ""},
		{"withdraw again", e.rm1, "1.0.0/withdraw", map[string]string{"reason": "r", "change_id": "C"}, 409, "INVALID_STATE"},
		{"approve withdrawn", e.rm2, "1.0.0/approvals", nil, 409, "INVALID_STATE"},
		{"promote withdrawn", e.rm2, "1.0.0/promote", map[string]string{"to": "released", "change_id": "C"}, 409, "INVALID_STATE"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := tc.c.hostileClient().json("POST", "/products/hr/releases/"+tc.path, tc.body)
			if r.status != tc.status || r.errCode() != tc.code {
				t.Errorf("POST %s: %d %s, want %d %s", tc.path, r.status, r.body, tc.status, tc.code)
			}
		})
	}
	r := e.get("1.0.0")
	if r.State != library.StateWithdrawn || r.Withdrawn == nil || r.Withdrawn.Reason != "broken" || len(r.History) != 5 {
		t.Errorf("withdrawn release: %+v", r)
	}
	for i, want := range []library.State{library.StateDraft, library.StateCandidate, library.StateApproved, library.StateReleased, library.StateWithdrawn} {
		if i < len(r.History) && (r.History[i].To != want || r.History[i].Actor == "") {
			t.Errorf("history[%d] = %+v, want to %s", i, r.History[i], want)
		}
	}
}

func TestPolicyRules(t *testing.T) {
	e := newLifecycleEnv(t)
	e.admin.json("PUT", "/products/hr/policy", map[string]any{"required_approvals": 2, "require_change_id": false}).must(t, 200)
	e.sealed("1.0.0")
	e.rm1.json("POST", "/products/hr/releases/1.0.0/approvals", nil).must(t, 200)
	if r := e.get("1.0.0"); r.State != library.StateCandidate {
		t.Errorf("after 1 of 2 approvals: %s", r.State)
	}
	e.rm2.json("POST", "/products/hr/releases/1.0.0/approvals", nil).must(t, 200)
	if r := e.get("1.0.0"); r.State != library.StateApproved || len(r.Approvals) != 2 {
		t.Errorf("after 2 of 2 approvals: %s, %d approvals", r.State, len(r.Approvals))
	}
	e.rm1.json("POST", "/products/hr/releases/1.0.0/promote", map[string]string{"to": "released"}).must(t, 200)

	// A freeze: only emergency fixes may be created or released.
	e.admin.json("PUT", "/products/hr/policy", map[string]any{"allowed_types": []string{"emergency"}, "four_eyes": false}).must(t, 200)
	if r := e.ci.json("POST", "/products/hr/releases", map[string]any{"version": "1.1.0"}); r.status != 409 || r.errCode() != "TYPE_NOT_ALLOWED" {
		t.Errorf("minor during a freeze: %d %s", r.status, r.body)
	}
	e.sealedBy(e.rm2, "1.0.1")
	e.rm2.json("POST", "/products/hr/releases/1.0.1/approvals", nil).must(t, 200) // four_eyes off: the creator may approve
}

// Promotion supersedes, withdrawal rolls back, resolution follows.
func TestSupersessionAndRollback(t *testing.T) {
	e := newLifecycleEnv(t)
	for _, v := range []string{"1.2.0", "1.2.1", "1.3.0", "2.0.0"} {
		e.release(v)
	}
	e.sealed("2.1.0") // candidate: never resolved at released
	for v, want := range map[string]string{"1.2.0": "1.2.1", "1.2.1": "1.3.0", "1.3.0": "2.0.0", "2.0.0": ""} {
		if got := e.get(v).SupersededBy; got != want {
			t.Errorf("%s superseded_by %q, want %q", v, got, want)
		}
	}
	for _, c := range []struct{ q, want string }{
		{"constraint=^1", "1.3.0"}, {"constraint=%5E1.2", "1.3.0"}, {"constraint=~1.2", "1.2.1"},
		{"constraint=^2", "2.0.0"}, {"", "2.0.0"}, {"constraint=^1&current=true", ""},
		{"constraint=^2&os=linux&arch=amd64", "2.0.0"}, {"constraint=^2&os=windows", ""},
	} {
		status, got := e.resolve(c.q)
		if got != c.want || (c.want == "" && status != 404) {
			t.Errorf("resolve %q = %d %q, want %q", c.q, status, got, c.want)
		}
	}
	// Back out 2.0.0: 1.3.0 is current again and ^2 has nothing.
	e.rm1.json("POST", "/products/hr/releases/2.0.0/withdraw", map[string]string{"reason": "data loss", "change_id": "CHG-9"}).must(t, 200)
	if got := e.get("1.3.0").SupersededBy; got != "" {
		t.Errorf("after withdrawing 2.0.0, 1.3.0 superseded_by %q", got)
	}
	if status, got := e.resolve("current=true"); got != "1.3.0" {
		t.Errorf("resolve after rollback = %d %q, want 1.3.0", status, got)
	}
	r := e.admin.json("GET", "/products/hr/resolve?constraint=%5E2", nil)
	if r.status != 404 || r.errCode() != "NO_MATCH" || !strings.Contains(string(r.body), `"^2"`) {
		t.Errorf("resolve ^2 after withdrawal: %d %s", r.status, r.body)
	}
	// The withdrawn and the superseded stay downloadable, with warnings.
	for v, want := range map[string]string{"2.0.0": "withdrawn", "1.2.0": "superseded by 1.2.1"} {
		r := e.admin.do("GET", "/products/hr/releases/"+v+"/artifacts/hr.tar.gz", nil)
		if r.status != 200 || !strings.Contains(r.header.Get("Warning"), want) || r.header.Get("Deprecation") == "" {
			t.Errorf("download %s: %d, Warning %q", v, r.status, r.header.Get("Warning"))
		}
	}
	// Pilots may take approved prereleases.
	e.sealed("3.0.0-beta.1")
	e.rm1.json("POST", "/products/hr/releases/3.0.0-beta.1/approvals", nil).must(t, 200)
	if _, got := e.resolve("constraint=" + "%3E%3D3.0.0-0" + "&min_state=approved"); got != "3.0.0-beta.1" {
		t.Errorf("pilot resolve = %q", got)
	}
	if _, got := e.resolve("constraint=%3E%3D3.0.0-0"); got != "" {
		t.Errorf("released-only resolve returned the prerelease %q", got)
	}
	_ = fmt.Sprint
}
