package main

import (
	"strings"
	"testing"

	"github.com/reliquary/reliquary/api/client"
	"github.com/reliquary/reliquary/internal/testenv"
)

// TestBaselineAndDeployCommands: a release manager freezes baselines and
// diffs them; an installer records deployments and asks what runs where.
func TestBaselineAndDeployCommands(t *testing.T) {
	srv := testenv.StartServer(t, testenv.ServerOptions{})
	tm := newTeam(t, srv, "hr")
	tm.release(t, srv, "hr", "1.0.0", "a.tar.gz", []byte("one"))
	rm := newMachine(t, srv.URL, tm.alice)
	var b client.Baseline
	rm.jsonOut(&b, "baseline", "create", "prod-1", "--from-current", "--change-id", "CHG-9")
	if len(b.Releases) != 1 || b.Releases[0].Version != "1.0.0" {
		t.Fatalf("baseline %+v", b)
	}
	tm.release(t, srv, "hr", "1.1.0", "a.tar.gz", []byte("two"))
	rm.ok("baseline", "create", "prod-2", "hr@1.1.0", "--description", "after the upgrade")
	rm.expect(2, "baseline", "create", "prod-3")
	rm.expect(2, "baseline", "create", "prod-3", "--from-current", "hr@1.1.0")
	if r := rm.ok("baseline", "diff", "prod-1", "prod-2"); !strings.Contains(r.stdout, "upgraded") {
		t.Fatalf("diff: %s", r)
	}
	if r := rm.ok("baseline", "list"); !strings.Contains(r.stdout, "prod-1") || !strings.Contains(r.stdout, "prod-2") {
		t.Fatalf("list: %s", r)
	}
	rm.ok("withdraw", "hr@1.0.0", "--reason", "bad", "--change-id", "CHG-5")
	if r := rm.ok("baseline", "show", "prod-1"); !strings.Contains(r.stdout, "WITHDRAWN") {
		t.Fatalf("show: %s", r)
	}
	rm.expect(4, "baseline", "show", "nope")

	robot, err := tm.admin.CreateToken(t.Context(), client.TokenInput{Name: "robot", Role: client.RoleDeployer})
	if err != nil {
		t.Fatal(err)
	}
	inst := newMachine(t, srv.URL, robot.Secret)
	var d client.Deployment
	inst.jsonOut(&d, "deploy", "record", "hr@1.1.0", "--env", "production", "--target", "web-1", "--status", "succeeded", "--details", `{"job":7}`)
	if d.ID == 0 || d.RecordedBy != "robot" {
		t.Fatalf("deployment %+v", d)
	}
	inst.expect(2, "deploy", "record", "hr@1.1.0", "--env", "production", "--target", "web-1", "--status", "maybe")
	if r := inst.ok("deploy", "list", "--product", "hr", "--version", "1.1.0"); !strings.Contains(r.stdout, "web-1") {
		t.Fatalf("deploy list: %s", r)
	}
	if r := inst.ok("deploy", "env", "production"); !strings.Contains(r.stdout, "1.1.0") {
		t.Fatalf("deploy env: %s", r)
	}
	inst.expect(4, "deploy", "env", "staging")
}
