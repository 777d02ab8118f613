package library

import (
	"encoding/json"
	"errors"
	"reflect"
	"testing"
	"time"
)

var smNow = time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)

// candidate is a sealed release created by ci and sealed by bot.
func candidate(state State, approvedBy ...string) *Release {
	r := &Release{Product: "hr", Version: "1.4.0", Type: TypeMinor, State: state, CreatedBy: "ci", SealedBy: "bot"}
	for _, a := range approvedBy {
		r.Approvals = append(r.Approvals, Approval{By: a, At: smNow.Add(-time.Hour)})
	}
	return r
}

func basePolicy() Policy {
	return Policy{RequiredApprovals: 2, FourEyes: true, AllowedTypes: []ReleaseType{TypeMajor, TypeMinor, TypeEmergency}}
}

// deepCopy copies a release through JSON, to check a refusal leaves it untouched.
func deepCopy(t *testing.T, r *Release) *Release {
	t.Helper()
	b, err := json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	var c Release
	if err := json.Unmarshal(b, &c); err != nil {
		t.Fatal(err)
	}
	return &c
}

// checkRefusal asserts err is want and the release did not change.
func checkRefusal(t *testing.T, name string, before, after *Release, ev Event, err, want error) {
	t.Helper()
	if !errors.Is(err, want) {
		t.Errorf("%s: err %v, want %v", name, err, want)
	}
	if ev.Type != "" {
		t.Errorf("%s: refused but returned event %+v", name, ev)
	}
	if got := deepCopy(t, after); !reflect.DeepEqual(got, before) {
		t.Errorf("%s: a refusal changed the release:\n%+v\nwas\n%+v", name, got, before)
	}
}

// TestApproveRules: every refusal of an approval, in the order the API
// reports them, and the count that turns a candidate into approved.
func TestApproveRules(t *testing.T) {
	for _, tc := range []struct {
		name   string
		r      *Release
		by     string
		policy func(*Policy)
		facts  Facts
		want   error
	}{
		{"draft", candidate(StateDraft), "rm1", nil, Facts{}, ErrInvalidState},
		{"released", candidate(StateReleased, "rm1", "rm2"), "rm3", nil, Facts{}, ErrInvalidState},
		{"state before four-eyes", candidate(StateWithdrawn), "ci", nil, Facts{}, ErrInvalidState},
		{"creator", candidate(StateCandidate), "ci", nil, Facts{}, ErrFourEyes},
		{"sealer", candidate(StateCandidate), "bot", nil, Facts{}, ErrFourEyes},
		{"uploader", candidate(StateCandidate), "dev", nil, Facts{Uploaders: []string{"ci", "dev"}}, ErrFourEyes},
		{"twice", candidate(StateCandidate, "rm1"), "rm1", nil, Facts{}, ErrAlreadyApproved},
		{"four-eyes before twice", candidate(StateCandidate, "ci"), "ci", nil, Facts{}, ErrFourEyes},
		{"evidence", candidate(StateCandidate), "rm1", func(p *Policy) { p.RequiredAttestations = []string{"slsa"} }, Facts{MissingEvidence: []string{"slsa"}}, ErrEvidenceMissing},
		{"twice before evidence", candidate(StateCandidate, "rm1"), "rm1", nil, Facts{MissingEvidence: []string{"slsa"}}, ErrAlreadyApproved},
	} {
		p := basePolicy()
		if tc.policy != nil {
			tc.policy(&p)
		}
		before := deepCopy(t, tc.r)
		ev, err := tc.r.Approve(tc.by, "ok", p, tc.facts, smNow)
		checkRefusal(t, tc.name, before, tc.r, ev, err, tc.want)
	}

	// With four_eyes off the creator may approve.
	p := basePolicy()
	p.FourEyes = false
	if _, err := candidate(StateCandidate).Approve("ci", "", p, Facts{Uploaders: []string{"ci"}}, smNow); err != nil {
		t.Errorf("four_eyes off: %v", err)
	}

	// The first of two approvals keeps the release a candidate; the second approves it.
	r := candidate(StateCandidate)
	ev, err := r.Approve("rm1", "first", basePolicy(), Facts{}, smNow)
	if err != nil || r.State != StateCandidate || len(r.Approvals) != 1 || len(r.History) != 0 {
		t.Fatalf("first approval: %v, state %s, %d approvals, %d transitions", err, r.State, len(r.Approvals), len(r.History))
	}
	if ev.Type != EvReleaseApproved || ev.Actor != "rm1" || ev.Subject != "hr@1.4.0" || !ev.Time.Equal(smNow) {
		t.Errorf("first approval event %+v", ev)
	}
	ev, err = r.Approve("rm2", "second", basePolicy(), Facts{}, smNow)
	if err != nil || r.State != StateApproved || len(r.History) != 1 {
		t.Fatalf("second approval: %v, state %s, history %+v", err, r.State, r.History)
	}
	want := Transition{From: StateCandidate, To: StateApproved, Actor: "rm2", Time: smNow, Comment: "second"}
	if r.History[0] != want {
		t.Errorf("transition %+v, want %+v", r.History[0], want)
	}
	if d := ev.Data.(map[string]any); d["approvals"] != 2 || d["required"] != 2 || d["state"] != StateApproved {
		t.Errorf("event data %v", d)
	}
	// A third approval of an approved release is recorded without a transition.
	if _, err := r.Approve("rm3", "", basePolicy(), Facts{}, smNow); err != nil || len(r.Approvals) != 3 || len(r.History) != 1 {
		t.Errorf("third approval: %v, %d approvals, %d transitions", err, len(r.Approvals), len(r.History))
	}
}

// TestPromoteRules: only an approved, non-prerelease release with its
// evidence, a change ID when the policy wants one and an allowed type is
// released.
func TestPromoteRules(t *testing.T) {
	prerelease := candidate(StateApproved, "rm1", "rm2")
	prerelease.Prerelease = true
	emergency := candidate(StateApproved, "rm1", "rm2")
	emergency.Type = TypeEmergency
	for _, tc := range []struct {
		name   string
		r      *Release
		in     PromoteInput
		policy func(*Policy)
		facts  Facts
		want   error
	}{
		{"candidate", candidate(StateCandidate, "rm1"), PromoteInput{}, nil, Facts{}, ErrInvalidState},
		{"released", candidate(StateReleased), PromoteInput{}, nil, Facts{}, ErrInvalidState},
		{"prerelease", prerelease, PromoteInput{}, nil, Facts{}, ErrPrerelease},
		{"evidence", candidate(StateApproved), PromoteInput{}, nil, Facts{MissingEvidence: []string{"b", "a"}}, ErrEvidenceMissing},
		{"change id", candidate(StateApproved), PromoteInput{}, func(p *Policy) { p.RequireChangeID = true }, Facts{}, ErrChangeIDRequired},
		{"type", emergency, PromoteInput{ChangeID: "CHG-1"}, func(p *Policy) { p.AllowedTypes = []ReleaseType{TypeMinor} }, Facts{}, ErrTypeNotAllowed},
	} {
		p := basePolicy()
		if tc.policy != nil {
			tc.policy(&p)
		}
		before := deepCopy(t, tc.r)
		ev, err := tc.r.Promote("rm", tc.in, nil, nil, p, tc.facts, smNow)
		checkRefusal(t, tc.name, before, tc.r, ev, err, tc.want)
	}
	var de *DetailedError
	if _, err := candidate(StateApproved).Promote("rm", PromoteInput{}, nil, nil, basePolicy(), Facts{MissingEvidence: []string{"b", "a"}}, smNow); !errors.As(err, &de) ||
		!reflect.DeepEqual(de.Details["missing"], []string{"a", "b"}) {
		t.Errorf("missing evidence details: %v", err)
	}

	r := candidate(StateApproved, "rm1", "rm2")
	plan := &Rollout{Percent: 10}
	p := basePolicy()
	p.RequireChangeID = true
	ev, err := r.Promote("rm", PromoteInput{To: "released", ChangeID: "CHG-7", Comment: "go"}, plan, []string{"pc1"}, p, Facts{}, smNow)
	if err != nil || r.State != StateReleased || r.ReleasedBy != "rm" || r.ReleasedAt == nil || !r.ReleasedAt.Equal(smNow) || r.Rollout != plan {
		t.Fatalf("promote: %v %+v", err, r)
	}
	if h := r.History[len(r.History)-1]; h != (Transition{From: StateApproved, To: StateReleased, Actor: "rm", Time: smNow, ChangeID: "CHG-7", Comment: "go"}) {
		t.Errorf("transition %+v", h)
	}
	if d := ev.Data.(map[string]any); ev.Type != EvReleaseReleased || d["change_id"] != "CHG-7" || d["rollout"] != plan || !reflect.DeepEqual(d["pilots"], []string{"pc1"}) {
		t.Errorf("event %+v", ev)
	}
	// Without a plan the event names none.
	ev, _ = candidate(StateApproved).Promote("rm", PromoteInput{}, nil, []string{"x"}, basePolicy(), Facts{}, smNow)
	if _, ok := ev.Data.(map[string]any)["pilots"]; ok {
		t.Errorf("event of a full rollout names pilots: %v", ev.Data)
	}
}

// TestWithdrawRules: a candidate, approved or released release can be
// withdrawn (with a change ID when the policy wants one); a draft or an
// already withdrawn one cannot.
func TestWithdrawRules(t *testing.T) {
	for _, tc := range []struct {
		name   string
		r      *Release
		in     WithdrawInput
		policy func(*Policy)
		want   error
	}{
		{"draft", candidate(StateDraft), WithdrawInput{Reason: "x"}, nil, ErrInvalidState},
		{"withdrawn", candidate(StateWithdrawn), WithdrawInput{Reason: "x"}, nil, ErrInvalidState},
		{"change id", candidate(StateReleased), WithdrawInput{Reason: "x"}, func(p *Policy) { p.RequireChangeID = true }, ErrChangeIDRequired},
	} {
		p := basePolicy()
		if tc.policy != nil {
			tc.policy(&p)
		}
		before := deepCopy(t, tc.r)
		ev, err := tc.r.Withdraw("rm", tc.in, p, smNow)
		checkRefusal(t, tc.name, before, tc.r, ev, err, tc.want)
	}
	for _, from := range []State{StateCandidate, StateApproved, StateReleased} {
		r := candidate(from)
		r.SupersededBy = "1.5.0"
		ev, err := r.Withdraw("rm", WithdrawInput{Reason: "CVE", ChangeID: "CHG-9"}, basePolicy(), smNow)
		if err != nil || r.State != StateWithdrawn || r.SupersededBy != "" ||
			r.Withdrawn == nil || *r.Withdrawn != (Withdrawal{By: "rm", At: smNow, Reason: "CVE", ChangeID: "CHG-9"}) {
			t.Fatalf("withdraw from %s: %v %+v", from, err, r)
		}
		if d := ev.Data.(map[string]any); ev.Type != EvReleaseWithdrawn || d["from"] != from || d["reason"] != "CVE" {
			t.Errorf("withdraw from %s: event %+v", from, ev)
		}
	}
}
