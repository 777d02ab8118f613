package library

import (
	"fmt"
	"testing"

	"github.com/Masterminds/semver/v3"
	"github.com/google/go-cmp/cmp"
	"pgregory.net/rapid"
)

// constraint parses s for a *testing.T or a *rapid.T.
func constraint(t interface {
	Helper()
	Fatalf(string, ...any)
}, s string) *semver.Constraints {
	t.Helper()
	c, err := semver.NewConstraint(s)
	if err != nil {
		t.Fatalf("constraint %q: %v", s, err)
	}
	return c
}

func TestEligible(t *testing.T) {
	rel := func(v string, s State, by string) *Release {
		return &Release{Version: v, State: s, SupersededBy: by}
	}
	released, approved := ResolveQuery{MinState: StateReleased}, ResolveQuery{MinState: StateApproved}
	with := func(q ResolveQuery, c string) ResolveQuery {
		q.Constraint = constraint(t, c)
		return q
	}
	current := func(q ResolveQuery) ResolveQuery {
		q.Current = true
		return q
	}
	tests := []struct {
		name string
		r    *Release
		q    ResolveQuery
		want bool
	}{
		{"nil release", nil, approved, false},
		{"draft never", rel("1.0.0", StateDraft, ""), approved, false},
		{"candidate never", rel("1.0.0", StateCandidate, ""), approved, false},
		{"withdrawn never", rel("1.0.0", StateWithdrawn, ""), approved, false},
		{"withdrawn never, even by exact constraint", rel("1.0.0", StateWithdrawn, ""), with(released, "=1.0.0"), false},
		{"released for min_state released", rel("1.0.0", StateReleased, ""), released, true},
		{"released for min_state approved", rel("1.0.0", StateReleased, ""), approved, true},
		{"approved not for min_state released", rel("1.0.0", StateApproved, ""), released, false},
		{"approved not for empty min_state", rel("1.0.0", StateApproved, ""), ResolveQuery{}, false},
		{"released for empty min_state", rel("1.0.0", StateReleased, ""), ResolveQuery{}, true},
		{"approved for min_state approved", rel("1.0.0", StateApproved, ""), approved, true},
		{"constraint admits", rel("1.2.3", StateReleased, ""), with(released, "^1.2"), true},
		{"constraint rejects", rel("2.0.0", StateReleased, ""), with(released, "^1.2"), false},
		{"tilde rejects next minor", rel("1.3.0", StateReleased, ""), with(released, "~1.2"), false},
		{"range admits", rel("1.9.9", StateReleased, ""), with(released, ">=1, <2"), true},
		{"superseded without current", rel("1.0.0", StateReleased, "1.0.1"), released, true},
		{"superseded with current", rel("1.0.0", StateReleased, "1.0.1"), current(released), false},
		{"current with current", rel("1.0.1", StateReleased, ""), current(released), true},
		{"approved has no superseded_by, kept by current", rel("1.0.2", StateApproved, ""), current(approved), true},
		{"prerelease without constraint", rel("2.0.0-rc.1", StateApproved, ""), approved, false},
		{"prerelease, constraint without prerelease", rel("2.0.0-rc.1", StateApproved, ""), with(approved, ">=1.0.0"), false},
		{"prerelease, caret without prerelease", rel("2.0.0-rc.1", StateApproved, ""), with(approved, "^2"), false},
		{"prerelease, range admitting prereleases", rel("2.0.0-rc.1", StateApproved, ""), with(approved, ">=2.0.0-0"), true},
		{"prerelease, exact", rel("2.0.0-rc.1", StateApproved, ""), with(approved, "2.0.0-rc.1"), true},
		{"prerelease approved, min_state released", rel("2.0.0-rc.1", StateApproved, ""), with(released, ">=2.0.0-0"), false},
		{"unparsable version", rel("v1.0", StateReleased, ""), released, false},
		{"unknown state", rel("1.0.0", State("frozen"), ""), approved, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Eligible(tt.r, tt.q); got != tt.want {
				t.Errorf("Eligible(%+v) = %v, want %v", tt.r, got, tt.want)
			}
		})
	}
}

func TestMatchArtifacts(t *testing.T) {
	arts := []Artifact{
		{Name: "app-linux-amd64", OS: "linux", Arch: "amd64"},
		{Name: "app-linux-arm64", OS: "linux", Arch: "arm64"},
		{Name: "app-darwin-arm64", OS: "darwin", Arch: "arm64"},
		{Name: "app-windows", OS: "windows"},
		{Name: "app-any-arm64", Arch: "arm64"},
		{Name: "SHA256SUMS"},
	}
	tests := []struct {
		os, arch string
		want     []string
	}{
		{"", "", []string{"app-linux-amd64", "app-linux-arm64", "app-darwin-arm64", "app-windows", "app-any-arm64", "SHA256SUMS"}},
		{"linux", "amd64", []string{"app-linux-amd64", "SHA256SUMS"}},
		{"linux", "arm64", []string{"app-linux-arm64", "app-any-arm64", "SHA256SUMS"}},
		{"linux", "", []string{"app-linux-amd64", "app-linux-arm64", "app-any-arm64", "SHA256SUMS"}},
		{"", "arm64", []string{"app-linux-arm64", "app-darwin-arm64", "app-windows", "app-any-arm64", "SHA256SUMS"}},
		{"windows", "amd64", []string{"app-windows", "SHA256SUMS"}},
		{"freebsd", "riscv64", []string{"SHA256SUMS"}},
	}
	for _, tt := range tests {
		t.Run(tt.os+"/"+tt.arch, func(t *testing.T) {
			var got []string
			for _, a := range MatchArtifacts(arts, tt.os, tt.arch) {
				got = append(got, a.Name)
			}
			if d := cmp.Diff(tt.want, got); d != "" {
				t.Errorf("MatchArtifacts(%q, %q) (-want +got):\n%s", tt.os, tt.arch, d)
			}
		})
	}
	if got := MatchArtifacts(arts[:1], "darwin", ""); got != nil {
		t.Errorf("no match: got %v, want nil", got)
	}
}

func TestResolveBrute(t *testing.T) {
	linux := []Artifact{{Name: "app", OS: "linux", Arch: "amd64"}}
	neutral := []Artifact{{Name: "app.jar"}}
	releases := []*Release{
		{Version: "1.0.0", State: StateReleased, SupersededBy: "1.1.0", Artifacts: linux},
		{Version: "1.1.0", State: StateReleased, SupersededBy: "1.2.0", Artifacts: neutral},
		{Version: "1.2.0", State: StateReleased, SupersededBy: "", Artifacts: []Artifact{{Name: "app", OS: "darwin", Arch: "arm64"}}},
		{Version: "1.3.0", State: StateWithdrawn, Artifacts: linux},
		{Version: "1.4.0", State: StateApproved, Artifacts: linux},
		{Version: "2.0.0-rc.1", State: StateApproved, Artifacts: linux},
		{Version: "2.0.0", State: StateCandidate, Artifacts: linux},
		{Version: "3.0.0", State: StateDraft, Artifacts: linux},
	}
	tests := []struct {
		name string
		q    ResolveQuery
		want string // "" for nil
	}{
		{"highest released", ResolveQuery{}, "1.2.0"},
		{"platform without a build skips to a lower release", ResolveQuery{OS: "linux", Arch: "amd64"}, "1.1.0"},
		{"neutral artifact serves every platform", ResolveQuery{OS: "windows"}, "1.1.0"},
		{"platform build", ResolveQuery{OS: "darwin", Arch: "arm64"}, "1.2.0"},
		{"current only, no build for the platform", ResolveQuery{OS: "linux", Arch: "amd64", Current: true}, ""},
		{"constraint", ResolveQuery{Constraint: constraint(t, "~1.0")}, "1.0.0"},
		{"approved for pilots", ResolveQuery{MinState: StateApproved}, "1.4.0"},
		{"approved prerelease for pilots", ResolveQuery{MinState: StateApproved, Constraint: constraint(t, ">=2.0.0-0")}, "2.0.0-rc.1"},
		{"prerelease not released", ResolveQuery{Constraint: constraint(t, ">=2.0.0-0")}, ""},
		{"nothing matches", ResolveQuery{Constraint: constraint(t, "^5")}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := ResolveBrute(releases, tt.q)
			switch {
			case got == nil && tt.want != "":
				t.Errorf("ResolveBrute = nil, want %s", tt.want)
			case got != nil && got.Version != tt.want:
				t.Errorf("ResolveBrute = %s, want %q", got.Version, tt.want)
			}
		})
	}
	if got := ResolveBrute(nil, ResolveQuery{}); got != nil {
		t.Errorf("ResolveBrute(nil) = %s, want nil", got.Version)
	}
}

func genArtifacts(t *rapid.T) []Artifact {
	plat := func(label string) string {
		return rapid.SampledFrom([]string{"", "linux", "darwin"}).Draw(t, label)
	}
	arch := func(label string) string {
		return rapid.SampledFrom([]string{"", "amd64", "arm64"}).Draw(t, label)
	}
	n := rapid.IntRange(0, 3).Draw(t, "artifacts")
	arts := make([]Artifact, n)
	for i := range arts {
		arts[i] = Artifact{Name: fmt.Sprintf("a%d", i), OS: plat("os"), Arch: arch("arch")}
	}
	return arts
}

func genRelease(t *rapid.T) *Release {
	r := &Release{
		Version: genVersion().Draw(t, "version"),
		State:   rapid.SampledFrom([]State{StateDraft, StateCandidate, StateApproved, StateReleased, StateWithdrawn}).Draw(t, "state"),
	}
	if rapid.Bool().Draw(t, "superseded") {
		r.SupersededBy = "9.9.9"
	}
	r.Artifacts = genArtifacts(t)
	return r
}

func genQuery(t *rapid.T) ResolveQuery {
	q := ResolveQuery{
		OS:       rapid.SampledFrom([]string{"", "linux", "darwin"}).Draw(t, "q.os"),
		Arch:     rapid.SampledFrom([]string{"", "amd64", "arm64"}).Draw(t, "q.arch"),
		MinState: rapid.SampledFrom([]State{"", StateReleased, StateApproved}).Draw(t, "q.min_state"),
		Current:  rapid.Bool().Draw(t, "q.current"),
	}
	if c := rapid.SampledFrom([]string{"", "*", "^1", "~2.1", ">=1.1, <3", ">=0.0.0-0", "^2.0.0-0"}).Draw(t, "q.constraint"); c != "" {
		q.Constraint = constraint(t, c)
	}
	return q
}

// TestResolveBruteProperties: whatever the releases and the query, the
// answer is never draft, candidate or withdrawn, never approved unless
// pilots asked for it, satisfies every rule of the query, and no higher
// release qualifies.
func TestResolveBruteProperties(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		releases := rapid.SliceOfN(rapid.Custom(genRelease), 0, 12).Draw(t, "releases")
		q := genQuery(t)
		got := ResolveBrute(releases, q)
		if got == nil {
			for _, r := range releases {
				if Eligible(r, q) && ((q.OS == "" && q.Arch == "") || len(MatchArtifacts(r.Artifacts, q.OS, q.Arch)) > 0) {
					t.Fatalf("nil, but %s (%s) qualifies", r.Version, r.State)
				}
			}
			return
		}
		switch got.State {
		case StateDraft, StateCandidate, StateWithdrawn:
			t.Fatalf("returned %s in state %s", got.Version, got.State)
		case StateApproved:
			if q.MinState != StateApproved {
				t.Fatalf("returned approved %s for min_state %q", got.Version, q.MinState)
			}
		}
		v := semver.MustParse(got.Version)
		if q.Constraint != nil && !q.Constraint.Check(v) {
			t.Fatalf("returned %s outside the constraint", got.Version)
		}
		if q.Constraint == nil && v.Prerelease() != "" {
			t.Fatalf("returned prerelease %s without a constraint", got.Version)
		}
		if q.Current && got.SupersededBy != "" {
			t.Fatalf("returned superseded %s for current=true", got.Version)
		}
		if (q.OS != "" || q.Arch != "") && len(MatchArtifacts(got.Artifacts, q.OS, q.Arch)) == 0 {
			t.Fatalf("returned %s with no artifact for %s/%s", got.Version, q.OS, q.Arch)
		}
		for _, r := range releases {
			if semver.MustParse(r.Version).GreaterThan(v) && Eligible(r, q) &&
				((q.OS == "" && q.Arch == "") || len(MatchArtifacts(r.Artifacts, q.OS, q.Arch)) > 0) {
				t.Fatalf("returned %s, but higher %s qualifies", got.Version, r.Version)
			}
		}
	})
}
