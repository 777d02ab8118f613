package library

import (
	"fmt"
	"testing"

	"github.com/google/go-cmp/cmp"
	"pgregory.net/rapid"
)

func TestDiffMembers(t *testing.T) {
	m := func(p, v string) BaselineMember {
		mv, err := ParseVersion(v)
		if err != nil {
			t.Fatal(err)
		}
		return BaselineMember{Product: p, Version: v, Type: TypeOf(mv)}
	}
	from := []BaselineMember{m("hr", "1.3.0"), m("crm", "2.1.0"), m("web", "1.0.0"), m("db", "5.0.0"), m("ops", "2.0.0")}
	to := []BaselineMember{m("erp", "1.0.0"), m("hr", "2.0.0"), m("crm", "2.1.1"), m("db", "5.0.0"), m("ops", "1.9.0-rc.1")}
	want := []ProductChange{
		{Product: "crm", Change: ChangeUpgraded, From: "2.1.0", To: "2.1.1", Type: TypeEmergency},
		{Product: "db", Change: ChangeUnchanged, From: "5.0.0", To: "5.0.0", Type: TypeMajor},
		{Product: "erp", Change: ChangeAdded, To: "1.0.0", Type: TypeMajor},
		{Product: "hr", Change: ChangeUpgraded, From: "1.3.0", To: "2.0.0", Type: TypeMajor},
		{Product: "ops", Change: ChangeDowngraded, From: "2.0.0", To: "1.9.0-rc.1", Type: TypeMinor},
		{Product: "web", Change: ChangeRemoved, From: "1.0.0"},
	}
	if d := cmp.Diff(want, DiffMembers(from, to)); d != "" {
		t.Errorf("(-want +got):\n%s", d)
	}
	if got := DiffMembers(nil, nil); got == nil || len(got) != 0 {
		t.Errorf("empty diff = %#v, want []", got)
	}
}

// Comparing the other way round mirrors every line: added and removed,
// upgraded and downgraded swap, unchanged stays, the versions swap.
func TestDiffMembersMirror(t *testing.T) {
	mirror := map[ChangeKind]ChangeKind{ChangeAdded: ChangeRemoved, ChangeRemoved: ChangeAdded,
		ChangeUpgraded: ChangeDowngraded, ChangeDowngraded: ChangeUpgraded, ChangeUnchanged: ChangeUnchanged}
	rapid.Check(t, func(t *rapid.T) {
		gen := func(label string) []BaselineMember {
			var out []BaselineMember
			for p := range 6 {
				if rapid.Bool().Draw(t, fmt.Sprintf("%s-has-%d", label, p)) {
					v := fmt.Sprintf("%d.%d.%d", rapid.IntRange(0, 2).Draw(t, "maj"), rapid.IntRange(0, 2).Draw(t, "min"), rapid.IntRange(0, 2).Draw(t, "pat"))
					out = append(out, BaselineMember{Product: fmt.Sprintf("p%d", p), Version: v})
				}
			}
			return out
		}
		a, b := gen("a"), gen("b")
		ab, ba := DiffMembers(a, b), DiffMembers(b, a)
		if len(ab) != len(ba) {
			t.Fatalf("%d lines one way, %d the other", len(ab), len(ba))
		}
		for i := range ab {
			x, y := ab[i], ba[i]
			if x.Product != y.Product || mirror[x.Change] != y.Change || x.From != y.To || x.To != y.From {
				t.Fatalf("%+v does not mirror %+v", x, y)
			}
		}
	})
}
