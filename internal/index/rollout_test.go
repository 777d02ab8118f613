package index

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/Masterminds/semver/v3"
	"github.com/google/go-cmp/cmp"
	"pgregory.net/rapid"

	"github.com/reliquary/reliquary/internal/journal"
	"github.com/reliquary/reliquary/internal/library"
	"github.com/reliquary/reliquary/storage"
	"github.com/reliquary/reliquary/storage/fs"
)

// Rollout (DESIGN.md §14) through the real library on a real bbolt file.

var (
	rm       = library.Principal{Name: "rm", Role: library.RoleReleaseManager}
	deployer = library.Principal{Name: "installer", Role: library.RoleDeployer}
)

// rolloutEnv is a library over a fresh index with a settable clock.
type rolloutEnv struct {
	t   testing.TB
	ix  *Index
	lib *library.Service
	now time.Time
}

func newRolloutEnv(t testing.TB) *rolloutEnv {
	t.Helper()
	ix, err := Open(filepath.Join(t.TempDir(), "index.db"), Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ix.Close() })
	e := &rolloutEnv{t: t, ix: ix, now: time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)}
	e.lib = library.New(library.Config{Repo: ix, Now: func() time.Time { return e.now }})
	return e
}

// product creates a product whose policy halts rollouts at ratio.
func (e *rolloutEnv) product(name string, ratio float64) {
	e.t.Helper()
	if _, err := e.lib.CreateProduct(context.Background(), library.Principal{Name: "admin", Role: library.RoleAdmin},
		library.ProductInput{Name: name, Policy: &library.PolicyInput{RolloutHaltFailureRatio: &ratio}}); err != nil {
		e.t.Fatal(err)
	}
}

// release puts an approved release with one artifact into the index and
// promotes it through the library, with the rollout plan when given.
func (e *rolloutEnv) release(product, version string, plan *library.RolloutInput) {
	e.t.Helper()
	v := semver.MustParse(version)
	err := e.ix.Update(func(tx library.WriteTx) error {
		r := &library.Release{Product: product, Version: version, Type: library.TypeOf(v), State: library.StateApproved,
			CreatedBy: "ci", CreatedAt: e.now}
		if err := tx.PutRelease(r); err != nil {
			return err
		}
		if err := tx.PutArtifact(product, version, &library.Artifact{Name: "app.tar.gz", Size: 1, SHA256: strings.Repeat("0", 64)}); err != nil {
			return err
		}
		_, err := tx.Record(library.Event{Time: e.now, Actor: "ci", Type: "test.approved", Subject: product + "@" + version})
		return err
	})
	if err != nil {
		e.t.Fatal(err)
	}
	if _, err := e.lib.Promote(context.Background(), rm, product, version,
		library.PromoteInput{To: "released", ChangeID: "CHG-1", Rollout: plan}); err != nil {
		e.t.Fatal(err)
	}
}

func (e *rolloutEnv) setRollout(product, version string, in library.RolloutInput) *library.RolloutView {
	e.t.Helper()
	v, err := e.lib.SetRollout(context.Background(), rm, product, version, in)
	if err != nil {
		e.t.Fatal(err)
	}
	return v
}

// resolve returns the version resolve answers target in env, and required.
func (e *rolloutEnv) resolve(product, target, env string, current bool) (string, bool) {
	e.t.Helper()
	res, err := e.lib.Resolve(context.Background(), product, library.ResolveRequest{Target: target, Environment: env, Current: current})
	if err != nil {
		e.t.Fatalf("resolve %s target=%q env=%q: %v", product, target, env, err)
	}
	return res.Release.Version, res.Required
}

func (e *rolloutEnv) deploy(product, version, env, target string, status library.DeploymentStatus) *library.Deployment {
	e.t.Helper()
	d, err := e.lib.RecordDeployment(context.Background(), deployer, library.DeploymentInput{Product: product, Version: version,
		Environment: env, Target: target, Status: status})
	if err != nil {
		e.t.Fatal(err)
	}
	return d
}

func (e *rolloutEnv) supersededBy(product, version string) string {
	e.t.Helper()
	var by string
	err := e.ix.View(func(tx library.ReadTx) error {
		r, err := tx.Release(product, version)
		if err == nil {
			by = r.SupersededBy
		}
		return err
	})
	if err != nil {
		e.t.Fatal(err)
	}
	return by
}

func pct(n int) *int { return &n }

// bucketOf is the DESIGN.md §14 bucket, written out independently of
// library.RolloutBucket.
func bucketOf(product, target string) int {
	sum := sha256.Sum256([]byte(product + "/" + target))
	return int(binary.BigEndian.Uint16(sum[:2])) % 100
}

func TestRolloutPilotsAndEnvironmentsAlwaysGetIt(t *testing.T) {
	e := newRolloutEnv(t)
	e.product("hr", 0.2)
	e.release("hr", "1.0.0", nil)
	e.release("hr", "1.1.0", &library.RolloutInput{Percent: pct(0), Pilots: []string{"pilot-1", "pilot-2"}, Environments: []string{"staging"}})

	// A target at 0% that is no pilot: find one whose bucket is anything.
	for _, c := range []struct {
		target, env, want string
		current           bool
	}{
		{"pilot-1", "", "1.1.0", false},
		{"pilot-2", "production", "1.1.0", false},
		{"pilot-1", "", "1.1.0", true},
		{"web-7", "staging", "1.1.0", false},
		{"", "staging", "1.1.0", false},
		{"web-7", "", "1.0.0", false},
		{"web-7", "production", "1.0.0", false},
		{"web-7", "", "1.0.0", true},
		{"", "", "1.0.0", false},
		{"", "", "1.0.0", true},
		{"PILOT-1", "", "1.0.0", false}, // targets are compared exactly
	} {
		if got, _ := e.resolve("hr", c.target, c.env, c.current); got != c.want {
			t.Errorf("resolve target=%q env=%q current=%v = %s, want %s", c.target, c.env, c.current, got, c.want)
		}
	}
	// Supersession counts only fully rolled-out releases: 1.0.0 stays
	// current while 1.1.0 rolls out, is superseded at 100%, and is current
	// again when the rollout is taken back below 100%.
	if by := e.supersededBy("hr", "1.0.0"); by != "" {
		t.Errorf("1.0.0 superseded_by %q during the rollout of 1.1.0", by)
	}
	e.setRollout("hr", "1.1.0", library.RolloutInput{Percent: pct(100)})
	if by := e.supersededBy("hr", "1.0.0"); by != "1.1.0" {
		t.Errorf("1.0.0 superseded_by %q once 1.1.0 is at 100%%, want 1.1.0", by)
	}
	if got, _ := e.resolve("hr", "web-7", "", true); got != "1.1.0" {
		t.Errorf("at 100%% a current resolve gives %s", got)
	}
	e.setRollout("hr", "1.1.0", library.RolloutInput{Percent: pct(0), Pilots: []string{"pilot-1"}})
	if by := e.supersededBy("hr", "1.0.0"); by != "" {
		t.Errorf("1.0.0 superseded_by %q after 1.1.0 went back to 0%%", by)
	}
	if got, _ := e.resolve("hr", "pilot-2", "", false); got != "1.0.0" {
		t.Errorf("a pilot dropped from the plan still gets %s", got)
	}
}

func TestRolloutShareOf1000Targets(t *testing.T) {
	e := newRolloutEnv(t)
	e.product("fleet", 0)
	e.release("fleet", "2.0.0", nil)
	e.release("fleet", "2.1.0", &library.RolloutInput{Percent: pct(0)})
	for _, p := range []int{1, 10, 37, 50, 90, 99} {
		e.setRollout("fleet", "2.1.0", library.RolloutInput{Percent: pct(p)})
		got := 0
		for i := range 1000 {
			target := fmt.Sprintf("host-%04d.example.net", i)
			v, _ := e.resolve("fleet", target, "production", false)
			predicted := bucketOf("fleet", target) < p
			if (v == "2.1.0") != predicted {
				t.Fatalf("at %d%% %s (bucket %d) got %s", p, target, bucketOf("fleet", target), v)
			}
			if library.RolloutBucket("fleet", target) != bucketOf("fleet", target) {
				t.Fatalf("RolloutBucket(%s) = %d, want %d", target, library.RolloutBucket("fleet", target), bucketOf("fleet", target))
			}
			if v == "2.1.0" {
				got++
			}
		}
		if got < 10*p-30 || got > 10*p+30 {
			t.Errorf("at %d%% %d of 1000 targets got the release, want %d±30", p, got, 10*p)
		}
	}
}

// TestRolloutRaisingOnlyAddsTargets: whatever the targets and however the
// percentage is raised, every target that had the release keeps it.
func TestRolloutRaisingOnlyAddsTargets(t *testing.T) {
	e := newRolloutEnv(t)
	n := 0
	rapid.Check(t, func(rt *rapid.T) {
		n++
		product := fmt.Sprintf("p%d", n)
		e.product(product, 0)
		e.release(product, "1.0.0", nil)
		e.release(product, "1.1.0", &library.RolloutInput{Percent: pct(0)})
		targets := rapid.SliceOfNDistinct(rapid.StringMatching(`[a-z0-9][a-z0-9.-]{0,20}`), 1, 40, rapid.ID[string]).Draw(rt, "targets")
		steps := rapid.SliceOfN(rapid.IntRange(0, 100), 1, 4).Draw(rt, "raises")
		had := map[string]bool{}
		p := 0
		for _, step := range steps {
			p = min(100, p+step)
			e.setRollout(product, "1.1.0", library.RolloutInput{Percent: pct(p)})
			for _, tg := range targets {
				v, _ := e.resolve(product, tg, "", false)
				has := v == "1.1.0"
				if had[tg] && !has {
					rt.Fatalf("raising to %d%% took 1.1.0 away from %s", p, tg)
				}
				if has != (p == 100 || bucketOf(product, tg) < p) {
					rt.Fatalf("at %d%% %s (bucket %d) got %s", p, tg, bucketOf(product, tg), v)
				}
				had[tg] = has
			}
		}
	})
}

func TestRolloutRequired(t *testing.T) {
	e := newRolloutEnv(t)
	e.product("hr", 0)
	e.release("hr", "1.0.0", nil)
	deadline := e.now.Add(time.Hour)
	e.release("hr", "1.1.0", &library.RolloutInput{Percent: pct(100), RequiredAfter: deadline.Format(time.RFC3339)})
	e.deploy("hr", "1.0.0", "production", "old-host", library.DeploySucceeded)
	e.deploy("hr", "1.1.0", "production", "new-host", library.DeploySucceeded)
	e.deploy("hr", "1.1.0", "production", "failed-host", library.DeployFailed)
	e.deploy("hr", "1.0.0", "production", "failed-host", library.DeploySucceeded)

	check := func(when string, cases map[[2]string]bool) {
		t.Helper()
		for k, want := range cases {
			v, req := e.resolve("hr", k[0], k[1], false)
			if v != "1.1.0" || req != want {
				t.Errorf("%s: resolve target=%q env=%q = %s required %v, want 1.1.0 required %v", when, k[0], k[1], v, req, want)
			}
		}
	}
	check("before the deadline", map[[2]string]bool{{"old-host", ""}: false, {"", ""}: false, {"fresh", ""}: false})
	e.now = deadline.Add(time.Second)
	check("after the deadline", map[[2]string]bool{
		{"old-host", ""}:              true,  // runs 1.0.0
		{"old-host", "production"}:    true,  // the same, by its environment slot
		{"new-host", ""}:              false, // already runs 1.1.0
		{"new-host", "production"}:    false,
		{"new-host", "staging"}:       true, // nothing runs there in staging
		{"failed-host", "production"}: true, // 1.1.0 failed; 1.0.0 still runs
		{"fresh", ""}:                 true, // never deployed
		{"", ""}:                      true, // no target: the deadline passed
	})
	// The view shows the deadline and counts per environment.
	v, err := e.lib.Rollout(context.Background(), "hr", "1.1.0")
	if err != nil {
		t.Fatal(err)
	}
	if v.RequiredAfter == nil || !v.RequiredAfter.Equal(deadline) || !v.FullyRolledOut ||
		v.Deployments["production"] != (library.RolloutCounts{Succeeded: 1, Failed: 1}) || v.Totals.Total() != 2 {
		t.Errorf("rollout view = %+v", v)
	}
}

func TestRolloutHaltOnFailuresReturnsThePreviousRelease(t *testing.T) {
	e := newRolloutEnv(t)
	e.product("hr", 0.2)
	e.release("hr", "1.0.0", nil)
	e.release("hr", "1.1.0", &library.RolloutInput{Percent: pct(60), Pilots: []string{"pilot"}, Environments: []string{"canary"}})
	var inRollout []string
	for i := 0; len(inRollout) < 20; i++ {
		tg := fmt.Sprintf("web-%d", i)
		if v, _ := e.resolve("hr", tg, "", false); v == "1.1.0" {
			inRollout = append(inRollout, tg)
		}
	}
	// Four failures: fewer than 5 records never halt.
	for _, tg := range inRollout[:4] {
		e.deploy("hr", "1.1.0", "production", tg, library.DeployFailed)
	}
	if v, _ := e.resolve("hr", inRollout[10], "", false); v != "1.1.0" {
		t.Fatalf("halted after 4 records: %s", v)
	}
	// A fifth record, a success: 4 of 5 failed ≥ 0.2 halts, in the
	// transaction of that record.
	var head uint64
	if err := e.ix.View(func(tx library.ReadTx) (err error) { head, _, err = tx.Head(); return }); err != nil {
		t.Fatal(err)
	}
	d := e.deploy("hr", "1.1.0", "production", inRollout[4], library.DeploySucceeded)
	var evs []*journal.Event
	if err := e.ix.View(func(tx library.ReadTx) (err error) { evs, err = tx.Events(head, 0); return }); err != nil {
		t.Fatal(err)
	}
	if len(evs) != 2 || evs[0].Type != library.EvDeploymentRecorded || evs[1].Type != library.EvRolloutHalted || evs[1].Subject != "hr@1.1.0" {
		t.Fatalf("events of the deployment: %v", evs)
	}
	view, err := e.lib.Rollout(context.Background(), "hr", "1.1.0")
	if err != nil {
		t.Fatal(err)
	}
	if view.Percent != 0 || view.Halted == nil || view.Halted.Failed != 4 || view.Halted.Deployments != 5 || view.Halted.PreviousPercent != 60 || view.Halted.DeploymentID != d.ID {
		t.Fatalf("after the halt: %+v halted %+v", view, view.Halted)
	}
	for _, tg := range inRollout {
		if v, _ := e.resolve("hr", tg, "", false); v != "1.0.0" {
			t.Errorf("halted: %s still gets %s", tg, v)
		}
	}
	if v, _ := e.resolve("hr", "", "", true); v != "1.0.0" {
		t.Errorf("halted: a current resolve gives %s", v)
	}
	if v, _ := e.resolve("hr", "pilot", "", false); v != "1.1.0" {
		t.Errorf("halted: the pilot gets %s, want 1.1.0", v)
	}
	if v, _ := e.resolve("hr", "web-x", "canary", false); v != "1.1.0" {
		t.Errorf("halted: the canary environment gets %s, want 1.1.0", v)
	}
	// More records never halt twice; a new plan clears the halt.
	e.deploy("hr", "1.1.0", "production", inRollout[5], library.DeployFailed)
	if err := e.ix.View(func(tx library.ReadTx) (err error) { evs, err = tx.Events(head, 0); return }); err != nil {
		t.Fatal(err)
	}
	if n := countType(evs, library.EvRolloutHalted); n != 1 {
		t.Errorf("%d halt events", n)
	}
	if v := e.setRollout("hr", "1.1.0", library.RolloutInput{Percent: pct(10)}); v.Halted != nil {
		t.Errorf("a new plan kept the halt: %+v", v.Halted)
	}
}

func TestRolloutHaltNeedsTheRatio(t *testing.T) {
	for _, c := range []struct {
		name           string
		ratio          float64
		failed, passed int
		halted         bool
	}{
		{"below the ratio", 0.2, 1, 9, false},
		{"at the ratio", 0.2, 2, 8, true},
		{"ratio 0 never halts", 0, 10, 0, false},
		{"ratio 1 needs all failed", 1, 5, 0, true},
		{"ratio 1 with a success", 1, 6, 1, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			e := newRolloutEnv(t)
			e.product("hr", c.ratio)
			e.release("hr", "1.0.0", nil)
			e.release("hr", "1.1.0", &library.RolloutInput{Percent: pct(50)})
			for i := range c.passed {
				e.deploy("hr", "1.1.0", "production", fmt.Sprintf("ok-%d", i), library.DeploySucceeded)
			}
			for i := range c.failed {
				e.deploy("hr", "1.1.0", "production", fmt.Sprintf("bad-%d", i), library.DeployFailed)
			}
			v, err := e.lib.Rollout(context.Background(), "hr", "1.1.0")
			if err != nil {
				t.Fatal(err)
			}
			if (v.Halted != nil) != c.halted || (c.halted && v.Percent != 0) || (!c.halted && v.Percent != 50) {
				t.Errorf("halted %+v percent %d, want halted %v", v.Halted, v.Percent, c.halted)
			}
		})
	}
	// A fully rolled-out release is not in rollout: never halted.
	e := newRolloutEnv(t)
	e.product("hr", 0.2)
	e.release("hr", "1.0.0", nil)
	for i := range 6 {
		e.deploy("hr", "1.0.0", "production", fmt.Sprintf("bad-%d", i), library.DeployFailed)
	}
	if v, err := e.lib.Rollout(context.Background(), "hr", "1.0.0"); err != nil || v.Halted != nil || v.Percent != 100 {
		t.Errorf("fully rolled out release: %+v, %v", v, err)
	}
}

func countType(evs []*journal.Event, typ string) int {
	n := 0
	for _, e := range evs {
		if e.Type == typ {
			n++
		}
	}
	return n
}

func TestRolloutWithdrawal(t *testing.T) {
	e := newRolloutEnv(t)
	e.product("hr", 0.2)
	e.release("hr", "0.9.0", nil)
	e.release("hr", "1.0.0", nil)
	e.release("hr", "1.1.0", &library.RolloutInput{Percent: pct(50), Pilots: []string{"pilot"}})
	var in, out string
	for i := 0; in == "" || out == ""; i++ {
		tg := fmt.Sprintf("host-%d", i)
		if bucketOf("hr", tg) < 50 {
			in = tg
		} else {
			out = tg
		}
	}
	// Withdrawing the fully rolled-out 1.0.0 during the rollout: callers
	// outside the rollout fall back to 0.9.0, callers inside keep 1.1.0.
	if _, err := e.lib.Withdraw(context.Background(), rm, "hr", "1.0.0", library.WithdrawInput{Reason: "broken", ChangeID: "CHG-2"}); err != nil {
		t.Fatal(err)
	}
	for tg, want := range map[string]string{in: "1.1.0", out: "0.9.0", "pilot": "1.1.0", "": "0.9.0"} {
		if v, _ := e.resolve("hr", tg, "", false); v != want {
			t.Errorf("after withdrawing 1.0.0: %q gets %s, want %s", tg, v, want)
		}
	}
	if by := e.supersededBy("hr", "0.9.0"); by != "" {
		t.Errorf("0.9.0 superseded_by %q after 1.0.0 was withdrawn", by)
	}
	// Withdrawing the release in rollout: everyone, pilots too, gets 0.9.0,
	// and its plan cannot be changed any more.
	if _, err := e.lib.Withdraw(context.Background(), rm, "hr", "1.1.0", library.WithdrawInput{Reason: "canary failed", ChangeID: "CHG-3"}); err != nil {
		t.Fatal(err)
	}
	for _, tg := range []string{in, out, "pilot", ""} {
		if v, _ := e.resolve("hr", tg, "", false); v != "0.9.0" {
			t.Errorf("after withdrawing 1.1.0: %q gets %s", tg, v)
		}
	}
	if _, err := e.lib.SetRollout(context.Background(), rm, "hr", "1.1.0", library.RolloutInput{Percent: pct(100)}); !errors.Is(err, library.ErrInvalidState) {
		t.Errorf("rollout of a withdrawn release: %v, want INVALID_STATE", err)
	}
	if v, err := e.lib.Rollout(context.Background(), "hr", "1.1.0"); err != nil || v.State != library.StateWithdrawn || v.Percent != 50 {
		t.Errorf("the withdrawn release's plan: %+v, %v", v, err)
	}
}

func TestRolloutBadInput(t *testing.T) {
	e := newRolloutEnv(t)
	e.product("hr", 0.2)
	e.release("hr", "1.0.0", nil)
	pilots := func(n int) []string {
		out := make([]string, n)
		for i := range out {
			out[i] = fmt.Sprintf("host-%d", i)
		}
		return out
	}
	for _, c := range []struct {
		name string
		in   library.RolloutInput
		err  error
	}{
		{"percent -1", library.RolloutInput{Percent: pct(-1)}, library.ErrInvalidInput},
		{"percent 101", library.RolloutInput{Percent: pct(101)}, library.ErrInvalidInput},
		{"1001 pilots", library.RolloutInput{Percent: pct(5), Pilots: pilots(1001)}, library.ErrInvalidInput},
		{"pilot with a space", library.RolloutInput{Pilots: []string{"web 1"}}, library.ErrInvalidInput},
		{"empty pilot", library.RolloutInput{Pilots: []string{""}}, library.ErrInvalidInput},
		{"environment with a slash", library.RolloutInput{Environments: []string{"prod/eu"}}, library.ErrInvalidInput},
		{"101 environments", library.RolloutInput{Environments: pilots(101)}, library.ErrInvalidInput},
		{"required_after not RFC 3339", library.RolloutInput{RequiredAfter: "tomorrow"}, library.ErrInvalidInput},
		{"1000 pilots", library.RolloutInput{Percent: pct(5), Pilots: pilots(1000)}, nil},
		{"unknown environment names are allowed", library.RolloutInput{Percent: pct(0), Environments: []string{"never-deployed-to", "lab.3"}}, nil},
		{"percent 0 and 100", library.RolloutInput{Percent: pct(100)}, nil},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := e.lib.SetRollout(context.Background(), rm, "hr", "1.0.0", c.in)
			if !errors.Is(err, c.err) || (c.err == nil) != (err == nil) {
				t.Errorf("err = %v, want %v", err, c.err)
			}
		})
	}
	// Not released: an approved release has no rollout.
	err := e.ix.Update(func(tx library.WriteTx) error {
		if err := tx.PutRelease(&library.Release{Product: "hr", Version: "2.0.0", Type: library.TypeMajor, State: library.StateApproved}); err != nil {
			return err
		}
		_, err := tx.Record(library.Event{Time: e.now, Actor: "ci", Type: "test.approved"})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.lib.SetRollout(context.Background(), rm, "hr", "2.0.0", library.RolloutInput{Percent: pct(10)}); !errors.Is(err, library.ErrInvalidState) {
		t.Errorf("rollout of an approved release: %v", err)
	}
	if _, err := e.lib.Rollout(context.Background(), "hr", "2.0.0"); !errors.Is(err, library.ErrInvalidState) {
		t.Errorf("show the rollout of an approved release: %v", err)
	}
	if _, err := e.lib.Promote(context.Background(), rm, "hr", "2.0.0", library.PromoteInput{To: "released", ChangeID: "C",
		Rollout: &library.RolloutInput{Percent: pct(200)}}); !errors.Is(err, library.ErrInvalidInput) {
		t.Errorf("promote with a bad rollout: %v", err)
	}
	for _, q := range []library.ResolveRequest{{Target: "a b"}, {Environment: "Prod"}, {Target: strings.Repeat("a", 300)}} {
		if _, err := e.lib.Resolve(context.Background(), "hr", q); err == nil {
			t.Errorf("resolve %+v: no error", q)
		}
	}
}

// TestRolloutRebuildGivesIdenticalAnswers replays the journal, mirrored to
// a bucket, into a fresh index and compares every answer.
func TestRolloutRebuildGivesIdenticalAnswers(t *testing.T) {
	e := newRolloutEnv(t)
	e.product("hr", 0.2)
	e.product("crm", 0.5)
	for _, v := range []string{"1.0.0", "1.0.1", "1.1.0"} {
		e.release("hr", v, nil)
		e.release("crm", v, nil)
	}
	e.release("hr", "1.2.0", &library.RolloutInput{Percent: pct(30), Pilots: []string{"pilot-a"}, Environments: []string{"staging"},
		RequiredAfter: e.now.Add(time.Hour).Format(time.RFC3339)})
	e.setRollout("hr", "1.2.0", library.RolloutInput{Percent: pct(45), Pilots: []string{"pilot-b"}})
	e.release("crm", "2.0.0", &library.RolloutInput{Percent: pct(20)})
	e.setRollout("crm", "2.0.0", library.RolloutInput{Percent: pct(100), RequiredAfter: e.now.Format(time.RFC3339)})
	e.setRollout("crm", "2.0.0", library.RolloutInput{Percent: pct(70)})
	e.release("crm", "2.1.0", &library.RolloutInput{Percent: pct(50)})
	for i := range 6 { // halts crm 2.1.0
		e.deploy("crm", "2.1.0", "production", fmt.Sprintf("c-%d", i), library.DeployFailed)
	}
	for i := range 10 {
		e.deploy("hr", "1.2.0", "production", fmt.Sprintf("host-%d", i), library.DeploySucceeded)
	}
	if _, err := e.lib.Withdraw(context.Background(), rm, "hr", "1.1.0", library.WithdrawInput{Reason: "bad", ChangeID: "CHG-9"}); err != nil {
		t.Fatal(err)
	}
	e.now = e.now.Add(2 * time.Hour) // past hr 1.2.0's deadline

	store, err := fs.New(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	// The commit objects the commit path would have written (DESIGN §9).
	evs, err := e.ix.EventsAfter(0, 0)
	if err != nil {
		t.Fatal(err)
	}
	for _, ev := range evs {
		body, err := journal.EncodeObject([]*journal.Event{ev})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := store.Put(t.Context(), storage.JournalKey(ev.Seq), bytes.NewReader(body), int64(len(body)), storage.PutOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	next, err := journal.ReadMirror(t.Context(), store)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "rebuilt.db")
	if _, err := Rebuild(path, next); err != nil {
		t.Fatal(err)
	}
	rix, err := Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer rix.Close()
	rebuilt := library.New(library.Config{Repo: rix, Now: func() time.Time { return e.now }})

	type answer struct {
		Version  string
		Required bool
		Err      string
	}
	ask := func(lib *library.Service, product, target, env string, current bool) answer {
		res, err := lib.Resolve(context.Background(), product, library.ResolveRequest{Target: target, Environment: env, Current: current})
		if err != nil {
			return answer{Err: err.Error()}
		}
		return answer{Version: res.Release.Version, Required: res.Required}
	}
	seen := map[string]int{}
	for _, product := range []string{"hr", "crm"} {
		for i := range 1000 {
			target := fmt.Sprintf("host-%d", i)
			if i == 999 {
				target = "pilot-b"
			}
			for _, env := range []string{"", "staging", "production"} {
				for _, current := range []bool{false, true} {
					a, b := ask(e.lib, product, target, env, current), ask(rebuilt, product, target, env, current)
					if a != b {
						t.Fatalf("%s target=%s env=%q current=%v: live %+v, rebuilt %+v", product, target, env, current, a, b)
					}
					seen[product+"@"+a.Version]++
				}
			}
		}
		for _, v := range []string{"1.0.0", "1.0.1", "1.1.0", "1.2.0", "2.0.0", "2.1.0"} {
			live, lerr := e.lib.Rollout(context.Background(), product, v)
			again, rerr := rebuilt.Rollout(context.Background(), product, v)
			if (lerr == nil) != (rerr == nil) || !cmp.Equal(live, again) {
				t.Errorf("%s@%s rollout: live %+v (%v), rebuilt %+v (%v)", product, v, live, lerr, again, rerr)
			}
		}
	}
	// The scenario must exercise both sides of each rollout.
	for _, k := range []string{"hr@1.2.0", "hr@1.0.1", "crm@2.0.0", "crm@1.1.0"} {
		if seen[k] == 0 {
			t.Errorf("no caller got %s: %v", k, seen)
		}
	}
}

// TestRolloutCountsMatchTheRecords: the running counts the halt check
// reads always equal a walk of the release's deployment records, however
// rollouts start and stop between records (a count missing for records
// older than the rollout is computed when first needed).
func TestRolloutCountsMatchTheRecords(t *testing.T) {
	e := newRolloutEnv(t)
	e.product("hr", 1) // halts only when every record failed
	e.release("hr", "1.0.0", nil)
	e.release("hr", "1.1.0", nil)
	statuses := []library.DeploymentStatus{library.DeploySucceeded, library.DeployFailed, library.DeployRolledBack}
	kept := 0
	for i := range 60 {
		switch i % 20 {
		case 5:
			e.setRollout("hr", "1.1.0", library.RolloutInput{Percent: pct(30)})
		case 15:
			e.setRollout("hr", "1.1.0", library.RolloutInput{Percent: pct(100)})
		}
		v := []string{"1.0.0", "1.1.0"}[i%2]
		e.deploy("hr", v, []string{"production", "staging"}[i%3%2], fmt.Sprintf("t-%d", i%7), statuses[i%3])
		err := e.ix.View(func(tx library.ReadTx) error {
			for _, v := range []string{"1.0.0", "1.1.0"} {
				c, err := tx.RolloutCounts("hr", v)
				if err != nil {
					return err
				}
				if c == nil {
					continue
				}
				kept++
				var walk library.RolloutCounts
				list, err := tx.Deployments(library.DeploymentQuery{Product: "hr", Version: v})
				for _, d := range list {
					switch d.Status {
					case library.DeploySucceeded:
						walk.Succeeded++
					case library.DeployFailed:
						walk.Failed++
					default:
						walk.RolledBack++
					}
				}
				if err != nil || *c != walk {
					t.Fatalf("after record %d: %s counts %+v, the records %+v (%v)", i, v, *c, walk, err)
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	if kept == 0 {
		t.Fatal("no running count was ever kept")
	}
}
