package main

import (
	"bytes"
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/reliquary/reliquary/api/client"
	"github.com/reliquary/reliquary/internal/testenv"
)

// TestRolloutCommands: a release manager promotes to a pilot first, widens
// the rollout; installers get what the plan gives their target.
func TestRolloutCommands(t *testing.T) {
	srv := testenv.StartServer(t, testenv.ServerOptions{})
	tm := newTeam(t, srv, "hr")
	tm.release(t, srv, "hr", "1.0.0", "a.tar.gz", []byte("one"))

	ctx := context.Background()
	ci := client.New(srv.URL, tm.ci)
	if _, err := ci.CreateRelease(ctx, "hr", client.ReleaseInput{Version: "1.1.0"}); err != nil {
		t.Fatal(err)
	}
	if _, _, err := ci.Upload(ctx, client.UploadInput{Product: "hr", Version: "1.1.0", Name: "a.tar.gz", Body: bytes.NewReader([]byte("two")), Size: 3}); err != nil {
		t.Fatal(err)
	}
	if _, err := ci.Seal(ctx, "hr", "1.1.0", ""); err != nil {
		t.Fatal(err)
	}
	if _, err := client.New(srv.URL, tm.alice).Approve(ctx, "hr", "1.1.0", ""); err != nil {
		t.Fatal(err)
	}
	rm := newMachine(t, srv.URL, tm.bob)
	rm.expect(2, "promote", "hr@1.1.0", "--change-id", "CHG-11", "--rollout-percent", "101")
	rm.ok("promote", "hr@1.1.0", "--change-id", "CHG-11", "--rollout-pilot", "pilot-1", "--rollout-pilot", defaultTarget())
	var v client.RolloutView
	rm.jsonOut(&v, "rollout", "show", "hr@1.1.0")
	if v.Percent != 0 || v.FullyRolledOut || len(v.Pilots) != 2 || v.PilotCount != 2 {
		t.Fatalf("after promote: %+v", v)
	}

	inst := newMachine(t, srv.URL, tm.installer)
	inst.env = []string{"CI=true"}
	get := func(want string, args ...string) {
		t.Helper()
		var got getOutput
		inst.jsonOut(&got, append([]string{"get", "hr", "-d", filepath.Join(inst.home, want+strings.Join(args, "_"))}, args...)...)
		if got.Version != want {
			t.Errorf("get %v: %s, want %s", args, got.Version, want)
		}
	}
	get("1.1.0", "--target", "pilot-1")
	get("1.0.0", "--target", "web-2")
	get("1.0.0", "--target", "")
	if defaultTarget() != "" {
		get("1.1.0") // this host's machine id (or host name) is a pilot
	}

	rm.expect(2, "rollout", "set", "hr@1.1.0", "--percent", "-5")
	rm.expect(2, "rollout", "set", "hr@1.1.0", "--required-after", "soon")
	if r := rm.ok("rollout", "set", "hr@1.1.0", "--percent", "0", "--environment", "staging"); !strings.Contains(r.stdout, "staging") {
		t.Errorf("rollout set table: %s", r)
	}
	get("1.1.0", "--target", "web-2", "--environment", "staging")
	get("1.0.0", "--target", "pilot-1") // no longer a pilot
	rm.jsonOut(&v, "rollout", "set", "hr@1.1.0", "--percent", "100", "--required-after", "-1h")
	if !v.FullyRolledOut || v.RequiredAfter == nil {
		t.Fatalf("at 100%%: %+v", v)
	}
	get("1.1.0", "--target", "web-2")
	if r := inst.ok("get", "hr", "-d", filepath.Join(inst.home, "req"), "--target", "web-9"); !strings.Contains(r.stderr, "required") {
		t.Errorf("get after the deadline does not say required: %s", r)
	}
	if r := rm.ok("rollout", "show", "hr@1.1.0"); !strings.Contains(r.stdout, "fully rolled out") {
		t.Errorf("rollout show: %s", r)
	}
	rm.expect(4, "rollout", "set", "hr@1.0.1", "--percent", "5")
}
