package library

import (
	"bytes"
	"encoding/json"
	"errors"
	"testing"
	"time"
)

// FuzzRolloutPlan: any JSON a release manager sends is either refused
// with ErrInvalidInput or becomes a plan within the limits.
func FuzzRolloutPlan(f *testing.F) {
	for _, s := range []string{`{"percent":10}`, `{"percent":101}`, `{"pilots":["a","a","b"],"environments":["staging"]}`,
		`{"required_after":"2026-12-24T00:00:00+01:00"}`, `{"required_after":"tomorrow"}`, `{"pilots":[""]}`, `{}`, `{"percent":-1}`} {
		f.Add([]byte(s))
	}
	now := time.Date(2026, 11, 30, 0, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, b []byte) {
		var in RolloutInput
		dec := json.NewDecoder(bytes.NewReader(b))
		dec.DisallowUnknownFields()
		if dec.Decode(&in) != nil {
			return
		}
		ro, pilots, err := in.plan("rm", now)
		if err != nil {
			if !errors.Is(err, ErrInvalidInput) {
				t.Fatalf("%q: %v is not invalid input", b, err)
			}
			return
		}
		if ro.Percent < 0 || ro.Percent > 100 || len(pilots) > MaxRolloutPilots || ro.PilotCount != len(pilots) || len(ro.Environments) > MaxRolloutEnvironments {
			t.Fatalf("%q: plan out of bounds: %+v", b, ro)
		}
		for _, p := range pilots {
			if ValidateTarget(p) != nil {
				t.Fatalf("%q: pilot %q accepted", b, p)
			}
		}
		for i := 1; i < len(pilots); i++ {
			if pilots[i-1] >= pilots[i] {
				t.Fatalf("%q: pilots not a sorted set: %q", b, pilots)
			}
		}
		for _, e := range ro.Environments {
			if ValidateEnvironment(e) != nil {
				t.Fatalf("%q: environment %q accepted", b, e)
			}
		}
		if ro.RequiredAfter != nil && ro.RequiredAfter.Location() != time.UTC {
			t.Fatalf("%q: deadline not in UTC", b)
		}
	})
}

func TestRolloutBucketAndReaches(t *testing.T) {
	// The index tests check the bucket against the formula over 1,000
	// targets; here: range and stability.
	for _, tg := range []string{"a", "web-1", "k8s/ns@node"} {
		b := RolloutBucket("hr", tg)
		if b < 0 || b >= 100 || b != RolloutBucket("hr", tg) {
			t.Errorf("bucket(%s) = %d", tg, b)
		}
	}
	r := &Release{State: StateReleased, Rollout: &Rollout{Percent: 0, PilotCount: 1, Environments: []string{"staging"}}}
	isPilot := func(target string) func() bool { return func() bool { return target == "p" } }
	for _, c := range []struct {
		target, env string
		want        bool
	}{{"p", "", true}, {"x", "staging", true}, {"", "staging", true}, {"x", "", false}, {"", "", false}} {
		if got := Reaches(r, "hr", c.target, c.env, isPilot(c.target)); got != c.want {
			t.Errorf("Reaches(%q, %q) = %v", c.target, c.env, got)
		}
	}
	r.Rollout.PilotCount = 0
	if Reaches(r, "hr", "p", "", isPilot("p")) {
		t.Error("a plan without pilots asked for one")
	}
	r.Rollout.Percent = 100
	if !Reaches(r, "hr", "", "", nil) || !FullyRolledOut(r) || InRollout(r) {
		t.Error("a release at 100% reaches everyone")
	}
	if !FullyRolledOut(&Release{State: StateReleased}) {
		t.Error("a release without a plan is fully rolled out")
	}
}
