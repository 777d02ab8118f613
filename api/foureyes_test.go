package api_test

import "testing"

// TestFourEyesExcludesUploaders: someone who only uploaded one artifact of
// a release (neither its creator nor its sealer) cannot approve it
// (DESIGN §1); a release manager who put no content in can.
func TestFourEyesExcludesUploaders(t *testing.T) {
	e := newLifecycleEnv(t)
	e.ci.json("POST", "/products/hr/releases", map[string]any{"version": "1.0.0"}).must(t, 201)
	e.ci.put("/products/hr/releases/1.0.0/artifacts/a.tar.gz", upload{size: 100, seed: 1}).must(t, 201)
	e.rm2.put("/products/hr/releases/1.0.0/artifacts/b.tar.gz", upload{size: 100, seed: 2}).must(t, 201)
	e.ci.json("POST", "/products/hr/releases/1.0.0/seal", nil).must(t, 200)

	r := e.rm2.json("POST", "/products/hr/releases/1.0.0/approvals", map[string]string{"comment": "mine"})
	if r.status != 403 {
		t.Fatalf("uploader approves: status %d, want 403", r.status)
	}
	if code := r.errCode(); code != "FOUR_EYES" {
		t.Fatalf("uploader approves: code %s, want FOUR_EYES", code)
	}
	if st := e.get("1.0.0").State; st != "candidate" {
		t.Fatalf("state after the refused approval: %s", st)
	}
	e.rm1.json("POST", "/products/hr/releases/1.0.0/approvals", map[string]string{"comment": "ok"}).must(t, 200)
	if st := e.get("1.0.0").State; st != "approved" {
		t.Fatalf("state after an outsider's approval: %s", st)
	}
}
