package library

import (
	"fmt"
	"slices"
	"testing"

	"github.com/Masterminds/semver/v3"
	"github.com/google/go-cmp/cmp"
	"pgregory.net/rapid"
)

// currentReference says which versions of set are current under p, straight
// from the wording of DESIGN.md §1, sharing no code with Supersession.
func currentReference(set []*semver.Version, p Policy) map[string]bool {
	var rel []*semver.Version
	for _, v := range set {
		if v.Prerelease() == "" {
			rel = append(rel, v)
		}
	}
	// newerMajors counts the distinct majors above m; newerMinors the distinct
	// minors above n within major m.
	newerMajors := func(m uint64) int {
		seen := map[uint64]bool{}
		for _, u := range rel {
			if u.Major() > m {
				seen[u.Major()] = true
			}
		}
		return len(seen)
	}
	newerMinors := func(m, n uint64) int {
		seen := map[uint64]bool{}
		for _, u := range rel {
			if u.Major() == m && u.Minor() > n {
				seen[u.Minor()] = true
			}
		}
		return len(seen)
	}
	cur := map[string]bool{}
	for _, v := range rel {
		highest := true
		for _, u := range rel {
			if u.Major() == v.Major() && u.Minor() == v.Minor() && u.GreaterThan(v) {
				highest = false
			}
		}
		if highest && newerMajors(v.Major()) < p.SupportedMajors && newerMinors(v.Major(), v.Minor()) < p.SupportedMinors {
			cur[v.String()] = true
		}
	}
	return cur
}

// supersededByReference is the definition taken literally: for each released
// v, the lowest released w > v such that v is not current in {u : u <= w}.
// Slow on purpose; tests compare Supersession against it.
func supersededByReference(released []*semver.Version, p Policy) map[string]string {
	ascending := slices.SortedFunc(slices.Values(released), func(a, b *semver.Version) int { return a.Compare(b) })
	out := map[string]string{}
	for _, v := range released {
		if v.Prerelease() != "" {
			continue
		}
		out[v.String()] = ""
		for _, w := range ascending {
			if w.Prerelease() != "" || !w.GreaterThan(v) {
				continue
			}
			var upToW []*semver.Version
			for _, u := range released {
				if !u.GreaterThan(w) {
					upToW = append(upToW, u)
				}
			}
			if !currentReference(upToW, p)[v.String()] {
				out[v.String()] = w.String()
				break
			}
		}
	}
	return out
}

// genVersion draws small version numbers so that lines collide often, and
// sometimes a prerelease. Strings keep rapid's logs readable.
func genVersion() *rapid.Generator[string] {
	return rapid.Custom(func(t *rapid.T) string {
		v := fmt.Sprintf("%d.%d.%d", rapid.IntRange(0, 3).Draw(t, "major"),
			rapid.IntRange(0, 3).Draw(t, "minor"), rapid.IntRange(0, 3).Draw(t, "patch"))
		if pre := rapid.SampledFrom([]string{"", "", "", "", "rc.1", "alpha"}).Draw(t, "pre"); pre != "" {
			v += "-" + pre
		}
		return v
	})
}

func genReleased(t *rapid.T) []*semver.Version {
	// Drawing the length first spreads sizes evenly; rapid otherwise favours
	// short slices.
	n := rapid.IntRange(0, 30).Draw(t, "n")
	return versions(rapid.SliceOfN(genVersion(), n, n).Draw(t, "released")...)
}

func genPolicy(t *rapid.T) Policy {
	p := DefaultPolicy()
	p.SupportedMajors = rapid.IntRange(1, 3).Draw(t, "supported_majors")
	p.SupportedMinors = rapid.IntRange(1, 3).Draw(t, "supported_minors")
	return p
}

func versions(ss ...string) []*semver.Version {
	vs := make([]*semver.Version, len(ss))
	for i, s := range ss {
		vs[i] = semver.MustParse(s)
	}
	return vs
}

func strs(vs []*semver.Version) []string {
	out := make([]string, len(vs))
	for i, v := range vs {
		out[i] = v.String()
	}
	return out
}

func currentOf(m map[string]string) []string {
	var cur []string
	for v, by := range m {
		if by == "" {
			cur = append(cur, v)
		}
	}
	slices.SortFunc(cur, func(a, b string) int { return semver.MustParse(b).Compare(semver.MustParse(a)) })
	return cur
}

func TestSupersessionITIL(t *testing.T) {
	policy := func(majors, minors int) Policy {
		p := DefaultPolicy()
		p.SupportedMajors, p.SupportedMinors = majors, minors
		return p
	}
	tests := []struct {
		name     string
		released []string
		policy   Policy
		want     map[string]string
	}{
		{"nothing released", nil, DefaultPolicy(), map[string]string{}},
		{"one release is current", []string{"1.0.0"}, DefaultPolicy(), map[string]string{"1.0.0": ""}},
		{"emergency fix supersedes earlier fixes of its minor",
			[]string{"1.2.1", "1.2.3", "1.2.2"}, DefaultPolicy(),
			map[string]string{"1.2.1": "1.2.2", "1.2.2": "1.2.3", "1.2.3": ""}},
		{"minor supersedes the earlier minor and its fixes",
			[]string{"1.2.0", "1.2.1", "1.2.2", "1.3.0"}, DefaultPolicy(),
			map[string]string{"1.2.0": "1.2.1", "1.2.1": "1.2.2", "1.2.2": "1.3.0", "1.3.0": ""}},
		{"major supersedes the earlier major",
			[]string{"1.0.0", "1.2.2", "1.3.0", "2.0.0"}, DefaultPolicy(),
			map[string]string{"1.0.0": "1.2.2", "1.2.2": "1.3.0", "1.3.0": "2.0.0", "2.0.0": ""}},
		{"superseded_by names the release that closed the line, not the newest",
			[]string{"1.2.1", "1.3.0", "2.0.0", "2.1.0"}, DefaultPolicy(),
			map[string]string{"1.2.1": "1.3.0", "1.3.0": "2.0.0", "2.0.0": "2.1.0", "2.1.0": ""}},
		{"supported_majors=2 keeps 1.x's highest current next to 2.0.0",
			[]string{"1.2.0", "1.2.5", "1.3.1", "2.0.0"}, policy(2, 1),
			map[string]string{"1.2.0": "1.2.5", "1.2.5": "1.3.1", "1.3.1": "", "2.0.0": ""}},
		{"supported_majors=2 closes 1.x at 3.0.0",
			[]string{"1.3.1", "2.0.0", "2.0.1", "3.0.0", "3.1.0"}, policy(2, 1),
			map[string]string{"1.3.1": "3.0.0", "2.0.0": "2.0.1", "2.0.1": "", "3.0.0": "3.1.0", "3.1.0": ""}},
		{"supported_minors=2 keeps 1.2.x and 1.3.x highest current",
			[]string{"1.1.0", "1.2.0", "1.2.1", "1.3.0", "1.3.1"}, policy(1, 2),
			map[string]string{"1.1.0": "1.3.0", "1.2.0": "1.2.1", "1.2.1": "", "1.3.0": "1.3.1", "1.3.1": ""}},
		{"supported_minors=2 opens no minor of a closed major",
			[]string{"1.2.1", "1.3.0", "2.0.0"}, policy(1, 2),
			map[string]string{"1.2.1": "2.0.0", "1.3.0": "2.0.0", "2.0.0": ""}},
		{"prereleases never supersede and are never current",
			[]string{"1.2.0", "1.3.0-rc.1", "2.0.0-alpha"}, DefaultPolicy(),
			map[string]string{"1.2.0": ""}},
		{"duplicates count once",
			[]string{"1.0.0", "1.0.1", "1.0.1"}, DefaultPolicy(),
			map[string]string{"1.0.0": "1.0.1", "1.0.1": ""}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rel := versions(tt.released...)
			got := Supersession(rel, tt.policy)
			if d := cmp.Diff(tt.want, got); d != "" {
				t.Errorf("Supersession(%v) (-want +got):\n%s", tt.released, d)
			}
			if d := cmp.Diff(tt.want, supersededByReference(rel, tt.policy)); d != "" {
				t.Errorf("supersededByReference(%v) (-want +got):\n%s", tt.released, d)
			}
			if want, got := currentOf(tt.want), strs(Current(rel, tt.policy)); !slices.Equal(want, got) {
				t.Errorf("Current(%v) = %v, want %v", tt.released, got, want)
			}
		})
	}
}

func TestSupersessionMatchesReference(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		rel, p := genReleased(t), genPolicy(t)
		if d := cmp.Diff(supersededByReference(rel, p), Supersession(rel, p)); d != "" {
			t.Fatalf("Supersession disagrees with the definition (-reference +got):\n%s", d)
		}
	})
}

func TestSupersessionCurrentMatchesMap(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		rel, p := genReleased(t), genPolicy(t)
		want := currentOf(Supersession(rel, p))
		if got := strs(Current(rel, p)); !slices.Equal(want, got) {
			t.Fatalf("Current = %v, Supersession's current versions = %v", got, want)
		}
	})
}

func TestSupersessionDefaultPolicyOneCurrent(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		rel := genReleased(t)
		var highest *semver.Version
		for _, v := range rel {
			if v.Prerelease() == "" && (highest == nil || v.GreaterThan(highest)) {
				highest = v
			}
		}
		cur := currentOf(Supersession(rel, DefaultPolicy()))
		switch {
		case highest == nil && len(cur) != 0:
			t.Fatalf("no release but current %v", cur)
		case highest != nil && !slices.Equal(cur, []string{highest.String()}):
			t.Fatalf("current = %v, want only the highest %s", cur, highest)
		}
	})
}

func TestSupersessionBounds(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		rel, p := genReleased(t), genPolicy(t)
		m := Supersession(rel, p)
		cur := currentOf(m)
		if len(cur) > p.SupportedMajors*p.SupportedMinors {
			t.Fatalf("%d current versions %v, policy allows %d", len(cur), cur, p.SupportedMajors*p.SupportedMinors)
		}
		majors := map[uint64]bool{}
		for _, v := range cur {
			majors[semver.MustParse(v).Major()] = true
		}
		if len(majors) > p.SupportedMajors {
			t.Fatalf("current %v spans %d majors, policy allows %d", cur, len(majors), p.SupportedMajors)
		}
	})
}

func TestSupersessionSupersededByIsAHigherRelease(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		rel, p := genReleased(t), genPolicy(t)
		m := Supersession(rel, p)
		for _, v := range rel {
			if _, ok := m[v.String()]; ok == (v.Prerelease() != "") {
				t.Fatalf("key %s present=%v, want every release and no prerelease", v, ok)
			}
		}
		for v, by := range m {
			if by == "" {
				continue
			}
			if _, ok := m[by]; !ok {
				t.Fatalf("%s is superseded by %s, which is not released", v, by)
			}
			if !semver.MustParse(by).GreaterThan(semver.MustParse(v)) {
				t.Fatalf("%s is superseded by lower %s", v, by)
			}
		}
	})
}

func TestSupersessionIgnoresOrderAndPrereleases(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		rel, p := genReleased(t), genPolicy(t)
		want := Supersession(rel, p)
		shuffled := rapid.Permutation(rel).Draw(t, "shuffled")
		if d := cmp.Diff(want, Supersession(shuffled, p)); d != "" {
			t.Fatalf("order changed the result (-sorted +shuffled):\n%s", d)
		}
		stable := slices.DeleteFunc(slices.Clone(rel), func(v *semver.Version) bool { return v.Prerelease() != "" })
		if d := cmp.Diff(want, Supersession(stable, p)); d != "" {
			t.Fatalf("prereleases changed the result (-with +without):\n%s", d)
		}
	})
}

// TestSupersessionWithdrawRollsBack is the rollback path by example: 1.3.0
// is withdrawn, so 1.2.2, which it had superseded, is current again.
func TestSupersessionWithdrawRollsBack(t *testing.T) {
	before := Supersession(versions("1.2.1", "1.2.2", "1.3.0"), DefaultPolicy())
	if before["1.2.2"] != "1.3.0" || before["1.3.0"] != "" {
		t.Fatalf("before withdrawal: %v", before)
	}
	after := Supersession(versions("1.2.1", "1.2.2"), DefaultPolicy())
	want := map[string]string{"1.2.1": "1.2.2", "1.2.2": ""}
	if d := cmp.Diff(want, after); d != "" {
		t.Fatalf("after withdrawing 1.3.0 (-want +got):\n%s", d)
	}
}

// TestSupersessionRollback proves the rollback path: withdrawing the highest
// release leaves every other answer alone and makes current again exactly the
// versions it had superseded.
func TestSupersessionRollback(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		rel, p := genReleased(t), genPolicy(t)
		before := Supersession(rel, p)
		if len(before) == 0 {
			return
		}
		top := semver.MustParse(currentOf(before)[0])
		rest := slices.DeleteFunc(slices.Clone(rel), top.Equal)

		want := map[string]string{}
		for v, by := range before {
			if v == top.String() {
				continue
			}
			if by == top.String() {
				by = ""
			}
			want[v] = by
		}
		after := Supersession(rest, p)
		if d := cmp.Diff(want, after); d != "" {
			t.Fatalf("withdrawing %s (-want +got):\n%s", top, d)
		}
		if p.SupportedMajors == 1 && p.SupportedMinors == 1 && len(after) > 0 {
			next := currentOf(after)
			var below *semver.Version
			for _, v := range rest {
				if v.Prerelease() == "" && (below == nil || v.GreaterThan(below)) {
					below = v
				}
			}
			if !slices.Equal(next, []string{below.String()}) {
				t.Fatalf("after withdrawing %s current = %v, want the next highest %s", top, next, below)
			}
		}
	})
}

// TestSupersessionWithdrawAnyCurrent withdraws any current release: no other
// current release stops being current, and the highest remaining release of
// the withdrawn one's line becomes current.
func TestSupersessionWithdrawAnyCurrent(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		rel, p := genReleased(t), genPolicy(t)
		cur := Current(rel, p)
		if len(cur) == 0 {
			return
		}
		gone := rapid.SampledFrom(cur).Draw(t, "withdrawn")
		rest := slices.DeleteFunc(slices.Clone(rel), gone.Equal)
		after := Supersession(rest, p)
		for _, c := range cur {
			if !c.Equal(gone) && after[c.String()] != "" {
				t.Fatalf("withdrawing %s closed %s (now superseded by %s)", gone, c, after[c.String()])
			}
		}
		var back *semver.Version
		for _, v := range rest {
			if v.Prerelease() == "" && v.Major() == gone.Major() && v.Minor() == gone.Minor() && (back == nil || v.GreaterThan(back)) {
				back = v
			}
		}
		if back != nil && after[back.String()] != "" {
			t.Fatalf("withdrawing %s: %s should be current again, is superseded by %s", gone, back, after[back.String()])
		}
	})
}

func ExampleSupersession() {
	m := Supersession(versions("1.2.1", "1.2.2", "1.3.0", "2.0.0"), DefaultPolicy())
	for _, v := range []string{"1.2.1", "1.2.2", "1.3.0", "2.0.0"} {
		fmt.Printf("%s superseded_by=%q\n", v, m[v])
	}
	// Output:
	// 1.2.1 superseded_by="1.2.2"
	// 1.2.2 superseded_by="1.3.0"
	// 1.3.0 superseded_by="2.0.0"
	// 2.0.0 superseded_by=""
}
