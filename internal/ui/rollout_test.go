package ui_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/reliquary/reliquary/internal/library"
)

// section returns the page's <section data-section="name">, or "".
func section(page, name string) string {
	i := strings.Index(page, `data-section="`+name+`"`)
	if i < 0 {
		return ""
	}
	s := page[i:]
	if j := strings.Index(s, "</section>"); j > 0 {
		s = s[:j]
	}
	return s
}

// TestUIReleaseRollout: the release page shows a rollout's progress, its
// deployment counts per environment and an automatic halt (DESIGN.md §14).
func TestUIReleaseRollout(t *testing.T) {
	st := setup(t, 0)
	ctx := context.Background()
	lib := st.srv.Lib
	rm := library.Principal{Name: "bob", Role: library.RoleReleaseManager}
	thirty := 30
	if _, err := lib.SetRollout(ctx, rm, "hr", "1.1.0", library.RolloutInput{Percent: &thirty, Pilots: []string{"pilot-1"}, Environments: []string{"staging"}}); err != nil {
		t.Fatal(err)
	}
	c := newFormClient(t, st.srv.URL)
	c.login(st.bob)
	_, _, page := c.get("/ui/products/hr/releases/1.1.0")
	ro := section(page, "rollout")
	for _, want := range []string{`data-percent="30"`, "30% of targets", "1 pilot(s)", "environments staging", "pilot-1", ">production<"} {
		if !strings.Contains(ro, want) {
			t.Errorf("rollout section lacks %q:\n%s", want, ro)
		}
	}
	if !strings.Contains(page, "rolling out · 30%") || strings.Contains(page, `badge current`) {
		t.Errorf("header does not say rolling out")
	}

	dep := library.Principal{Name: "installer", Role: library.RoleDeployer}
	for i := range 4 {
		if _, err := lib.RecordDeployment(ctx, dep, library.DeploymentInput{Product: "hr", Version: "1.1.0", Environment: "staging",
			Target: fmt.Sprintf("s-%d", i), Status: library.DeployFailed}); err != nil {
			t.Fatal(err)
		}
	}
	_, _, page = c.get("/ui/products/hr/releases/1.1.0")
	ro = section(page, "rollout")
	for _, want := range []string{`data-percent="0"`, `data-halted="true"`, "4 of 5 deployments failed", "it was at 30%",
		`<th scope="row">staging</th><td>0</td><td>4</td><td>0</td>`, `<th scope="row">Total</th><td>1</td><td>4</td><td>0</td>`} {
		if !strings.Contains(ro, want) {
			t.Errorf("halted rollout section lacks %q:\n%s", want, ro)
		}
	}

	_, _, page = c.get("/ui/products/hr/releases/1.0.1")
	if ro := section(page, "rollout"); !strings.Contains(ro, "Fully rolled out") {
		t.Errorf("1.0.1 rollout section: %q", ro)
	}
	_, _, page = c.get("/ui/products/hr/releases/1.2.0")
	if section(page, "rollout") != "" {
		t.Error("a draft has a rollout section")
	}
}
