package api_test

import (
	"context"
	"strings"
	"testing"

	"github.com/reliquary/reliquary/internal/library"
	"github.com/reliquary/reliquary/internal/testenv"
	"github.com/reliquary/reliquary/storage"
)

// TestResolveAgreesWithListAtTheEdges: constraints where the resolver's
// seek bounds once disagreed with Masterminds (~0.0.0 matches everything;
// a 2^64-1 part wrapped the upper bound to 0) resolve what the list shows.
func TestResolveAgreesWithListAtTheEdges(t *testing.T) {
	e := newLifecycleEnv(t)
	const huge = "18446744073709551615"
	e.release("2.0.0")
	for _, c := range []struct{ constraint, want string }{
		{"~0.0.0", "2.0.0"}, {"~>0.0.0", "2.0.0"}, {"~0.0.0-0", "2.0.0"},
	} {
		if status, got := e.resolve("constraint=" + escapeQuery(c.constraint)); got != c.want {
			t.Errorf("resolve %q = %d %q, want %q", c.constraint, status, got, c.want)
		}
		var list struct{ Releases []library.Release }
		e.admin.json("GET", "/products/hr/releases?constraint="+escapeQuery(c.constraint), nil).must(t, 200).decode(t, &list)
		if len(list.Releases) != 1 || list.Releases[0].Version != c.want {
			t.Errorf("list %q = %+v", c.constraint, list.Releases)
		}
	}
	e.release(huge + ".0.0")
	e.release("3." + huge + ".0")
	for _, c := range []struct{ constraint, want string }{
		{"^" + huge, huge + ".0.0"}, {huge + ".x", huge + ".0.0"}, {"~3." + huge, "3." + huge + ".0"},
		{"<=3." + huge, "3." + huge + ".0"}, {">=2.0.0 <3.0.0", "2.0.0"},
	} {
		if status, got := e.resolve("constraint=" + escapeQuery(c.constraint)); got != c.want {
			t.Errorf("resolve %q = %d %q, want %q", c.constraint, status, got, c.want)
		}
	}
}

func escapeQuery(s string) string {
	return strings.NewReplacer("^", "%5E", "~", "%7E", ">", "%3E", "<", "%3C", "=", "%3D", " ", "%20", "|", "%7C").Replace(s)
}

// TestPolicyChangeRecomputesSupersession: opening a second major line with
// supported_majors recomputes superseded_by at once, and closing it again
// supersedes the old line again.
func TestPolicyChangeRecomputesSupersession(t *testing.T) {
	e := newLifecycleEnv(t)
	for _, v := range []string{"1.0.0", "1.1.0", "2.0.0"} {
		e.release(v)
	}
	check := func(when string, want map[string]string) {
		t.Helper()
		for v, w := range want {
			if got := e.get(v).SupersededBy; got != w {
				t.Errorf("%s: %s superseded_by %q, want %q", when, v, got, w)
			}
		}
	}
	check("one major line", map[string]string{"1.0.0": "1.1.0", "1.1.0": "2.0.0", "2.0.0": ""})
	e.admin.json("PUT", "/products/hr/policy", map[string]any{"supported_majors": 2}).must(t, 200)
	check("two major lines", map[string]string{"1.0.0": "1.1.0", "1.1.0": "", "2.0.0": ""})
	if status, got := e.resolve("constraint=%5E1&current=true"); got != "1.1.0" {
		t.Errorf("current ^1 with two lines = %d %q", status, got)
	}
	e.admin.json("PUT", "/products/hr/policy", map[string]any{"supported_majors": 2, "supported_minors": 2}).must(t, 200)
	check("two minor lines", map[string]string{"1.0.0": "", "1.1.0": "", "2.0.0": ""})
	e.admin.json("PUT", "/products/hr/policy", map[string]any{"supported_majors": 1, "supported_minors": 1}).must(t, 200)
	check("back to one line", map[string]string{"1.0.0": "1.1.0", "1.1.0": "2.0.0", "2.0.0": ""})
}

// TestOutOfRangeQueryNumbers: after=2^64-1 is a 400, never read as "from
// the start" (it once wrapped to seq 1); the largest accepted value is an
// empty page.
func TestOutOfRangeQueryNumbers(t *testing.T) {
	e := newLifecycleEnv(t)
	h := e.admin.hostileClient()
	for _, q := range []string{"/events?after=18446744073709551615", "/audit?after=18446744073709551615",
		"/events?after=9223372036854775808", "/events?after=99999999999999999999999", "/events?limit=18446744073709551615"} {
		r := h.json("GET", q, nil)
		if r.status != 400 || r.errCode() != "INVALID_INPUT" {
			t.Errorf("GET %s: %d %s", q, r.status, r.body)
		}
	}
	var page struct{ Events []map[string]any }
	e.admin.json("GET", "/events?after=9223372036854775807", nil).must(t, 200).decode(t, &page)
	if len(page.Events) != 0 {
		t.Errorf("events after the largest seq: %d", len(page.Events))
	}
}

// TestDownloadOfAVanishedDraftArtifact: a download whose draft artifact is
// deleted between the index read and the open of its bytes (simulated by
// removing the object under the index) is a 404, not a 500; a sealed
// release's missing bytes stay an integrity error.
func TestDownloadOfAVanishedDraftArtifact(t *testing.T) {
	for _, store := range []string{"fs", "s3"} {
		t.Run(store, func(t *testing.T) {
			srv := testenv.StartServer(t, testenv.ServerOptions{Store: store})
			admin := newClient(t, srv, srv.AdminToken)
			admin.json("POST", "/products", map[string]any{"name": "hr"}).must(t, 201)
			admin.json("POST", "/products/hr/releases", map[string]any{"version": "1.0.0"}).must(t, 201)
			admin.put("/products/hr/releases/1.0.0/artifacts/a.bin", upload{size: 1000, seed: 3}).must(t, 201)
			if err := srv.Store.Delete(context.Background(), storage.ArtifactKey("hr", "1.0.0", "a.bin")); err != nil {
				t.Fatal(err)
			}
			r := admin.do("GET", "/products/hr/releases/1.0.0/artifacts/a.bin", nil)
			if r.status != 404 || r.errCode() != "ARTIFACT_NOT_FOUND" {
				t.Fatalf("download of a vanished draft artifact: %d %s", r.status, r.body)
			}
		})
	}
}
