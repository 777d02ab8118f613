package api_test

import (
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/reliquary/reliquary/internal/library"
)

// Rollout over HTTP (DESIGN.md §14): every exchange is validated against
// openapi.yaml by the test transport.

func (e *cmdbEnv) resolveFor(product, query string) (version string, required bool) {
	e.t.Helper()
	var v struct {
		Release  struct{ Version string }
		Required bool
	}
	e.reader.json("GET", "/products/"+product+"/resolve?"+query, nil).must(e.t, 200).decode(e.t, &v)
	return v.Release.Version, v.Required
}

func bucket(product, target string) int {
	sum := sha256.Sum256([]byte(product + "/" + target))
	return int(binary.BigEndian.Uint16(sum[:2]) % 100)
}

func TestRolloutHTTP(t *testing.T) {
	e := newCMDBEnv(t, "hr")
	e.admin.json("PUT", "/products/hr/policy", map[string]any{"rollout_halt_failure_ratio": 0.4}).must(t, 200)
	e.released("hr", "1.0.0", nil)
	e.sealed("hr", "1.1.0", nil)
	e.rm.json("POST", "/products/hr/releases/1.1.0/approvals", nil).must(t, 200)
	var rel library.Release
	e.rm.json("POST", "/products/hr/releases/1.1.0/promote", map[string]any{"to": "released", "change_id": "CHG-11",
		"rollout": map[string]any{"percent": 20, "pilots": []string{"pilot-1"}, "environments": []string{"staging"}}}).must(t, 200).decode(t, &rel)
	if rel.Rollout == nil || rel.Rollout.Percent != 20 || rel.State != library.StateReleased {
		t.Fatalf("promoted with a rollout: %+v", rel.Rollout)
	}
	// A promote without a rollout is fully rolled out.
	var view library.RolloutView
	e.reader.json("GET", "/products/hr/releases/1.0.0/rollout", nil).must(t, 200).decode(t, &view)
	if view.Percent != 100 || !view.FullyRolledOut {
		t.Errorf("1.0.0 rollout = %+v", view)
	}

	in, out := "", ""
	for i := 0; in == "" || out == ""; i++ {
		tg := fmt.Sprintf("node-%d", i)
		if bucket("hr", tg) < 20 {
			in = tg
		} else {
			out = tg
		}
	}
	for q, want := range map[string]string{
		"target=pilot-1": "1.1.0", "target=" + in: "1.1.0", "target=" + out: "1.0.0", "": "1.0.0",
		"target=" + out + "&environment=staging": "1.1.0", "environment=production&target=" + out: "1.0.0",
		"target=" + out + "&current=true": "1.0.0",
	} {
		if v, _ := e.resolveFor("hr", q); v != want {
			t.Errorf("resolve?%s = %s, want %s", q, v, want)
		}
	}

	// What production is made of: a release in rollout is not current.
	var b struct {
		Releases []struct{ Product, Version string }
	}
	e.rm.json("POST", "/baselines", map[string]any{"name": "during-rollout", "from": "current"}).must(t, 201).decode(t, &b)
	if len(b.Releases) != 1 || b.Releases[0].Version != "1.0.0" {
		t.Errorf("baseline from current during the rollout: %+v", b.Releases)
	}

	// Widen to 100% with a deadline in the past: everyone gets it, required.
	past := time.Now().Add(-time.Minute).UTC().Format(time.RFC3339)
	e.rm.json("PUT", "/products/hr/releases/1.1.0/rollout", map[string]any{"percent": 100, "required_after": past}).must(t, 200).decode(t, &view)
	if !view.FullyRolledOut || view.RequiredAfter == nil {
		t.Errorf("at 100%%: %+v", view)
	}
	if v, req := e.resolveFor("hr", "target="+out); v != "1.1.0" || !req {
		t.Errorf("after the deadline: %s required %v", v, req)
	}
	e.deploy("hr", "1.1.0", "production", out, "succeeded")
	if v, req := e.resolveFor("hr", "target="+out); v != "1.1.0" || req {
		t.Errorf("a target running 1.1.0: %s required %v", v, req)
	}
	var r100 library.Release
	e.reader.json("GET", "/products/hr/releases/1.0.0", nil).must(t, 200).decode(t, &r100)
	if r100.SupersededBy != "1.1.0" {
		t.Errorf("1.0.0 superseded_by %q at 100%%", r100.SupersededBy)
	}

	// Back to 20%, then failures halt it: non-pilots get 1.0.0 again.
	e.rm.json("PUT", "/products/hr/releases/1.1.0/rollout", map[string]any{"percent": 20, "pilots": []string{"pilot-1"}}).must(t, 200)
	for i := range 4 {
		e.deploy("hr", "1.1.0", "staging", fmt.Sprintf("s-%d", i), []string{"failed", "rolled_back", "failed", "succeeded"}[i])
	}
	e.reader.json("GET", "/products/hr/releases/1.1.0/rollout", nil).must(t, 200).decode(t, &view)
	if view.Percent != 0 || view.Halted == nil || view.Halted.Deployments != 5 || view.Halted.Failed != 2 || view.Halted.PreviousPercent != 20 {
		t.Fatalf("not halted after 2 of 5 failed at ratio 0.4: %+v (%+v)", view, view.Halted)
	}
	if got := view.Deployments["staging"]; got != (library.RolloutCounts{Succeeded: 1, Failed: 2, RolledBack: 1}) {
		t.Errorf("staging counts = %+v", got)
	}
	if got := view.Deployments["production"]; got != (library.RolloutCounts{Succeeded: 1}) || view.Totals.Total() != 5 {
		t.Errorf("production counts = %+v, totals %+v", got, view.Totals)
	}
	if v, _ := e.resolveFor("hr", "target="+in); v != "1.0.0" {
		t.Errorf("halted: %s gets %s", in, v)
	}
	if v, _ := e.resolveFor("hr", "target=pilot-1"); v != "1.1.0" {
		t.Errorf("halted: the pilot gets %s", v)
	}
	for typ, n := range map[string]int{library.EvRolloutChanged: 2, library.EvRolloutHalted: 1} {
		if got := len(e.events(typ)); got != n {
			t.Errorf("%d %s events, want %d", got, typ, n)
		}
	}

	// Refusals.
	e.draft("hr", "2.0.0", nil)
	hostile := e.rm.hostileClient()
	for _, c := range []struct {
		name   string
		c      *client
		path   string
		body   any
		status int
		code   string
	}{
		{"percent 101", hostile, "1.1.0", map[string]any{"percent": 101}, 400, "INVALID_INPUT"},
		{"percent -1", hostile, "1.1.0", map[string]any{"percent": -1}, 400, "INVALID_INPUT"},
		{"percent a string", hostile, "1.1.0", map[string]any{"percent": "50"}, 400, "INVALID_JSON"},
		{"1001 pilots", hostile, "1.1.0", map[string]any{"percent": 1, "pilots": strings.Split(strings.Repeat("h,", 1000)+"h", ",")}, 400, "INVALID_INPUT"},
		{"bad deadline", hostile, "1.1.0", map[string]any{"required_after": "next week"}, 400, "INVALID_INPUT"},
		{"unknown field", hostile, "1.1.0", map[string]any{"percentage": 5}, 400, "INVALID_JSON"},
		{"a draft", e.rm, "2.0.0", map[string]any{"percent": 5}, 409, "INVALID_STATE"},
		{"no such release", e.rm, "9.9.9", map[string]any{"percent": 5}, 404, "RELEASE_NOT_FOUND"},
		{"a deployer", e.dep, "1.1.0", map[string]any{"percent": 5}, 403, "FORBIDDEN"},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := c.c.json("PUT", "/products/hr/releases/"+c.path+"/rollout", c.body)
			if r.status != c.status || r.errCode() != c.code {
				t.Errorf("%d %s, want %d %s: %s", r.status, r.errCode(), c.status, c.code, r.body)
			}
		})
	}
	if r := e.reader.json("GET", "/products/hr/releases/2.0.0/rollout", nil); r.status != 409 || r.errCode() != "INVALID_STATE" {
		t.Errorf("GET rollout of a draft: %d %s", r.status, r.errCode())
	}
	for _, q := range []string{"target=a%20b", "environment=Prod", "target=" + strings.Repeat("x", 300)} {
		if r := e.reader.hostileClient().json("GET", "/products/hr/resolve?"+q, nil); r.status != 400 {
			t.Errorf("resolve?%s: %d %s", q, r.status, r.body)
		}
	}
	// Unknown environment names are allowed.
	e.rm.json("PUT", "/products/hr/releases/1.1.0/rollout", map[string]any{"percent": 0, "environments": []string{"never-seen"}}).must(t, 200)
	if v, _ := e.resolveFor("hr", "environment=never-seen"); v != "1.1.0" {
		t.Errorf("environment never-seen gets %s", v)
	}
}
