package api_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"net/url"
	"strings"
	"testing"

	"github.com/reliquary/reliquary/internal/testenv"
)

// TestSearchEveryChangeAndDigest: GET /releases?change_id= finds a release
// by the change of its promotion and withdrawal, of a baseline listing it
// and of a deployment record; ?sha256= finds the releases containing a
// file; labels are k=v or k:v everywhere.
func TestSearchEveryChangeAndDigest(t *testing.T) {
	e := newDownloadsEnv(t, testenv.ServerOptions{}, 5000)
	found := func(query string) []string {
		t.Helper()
		var page struct {
			Releases []struct{ Product, Version string }
		}
		e.reader.json("GET", "/releases?"+query, nil).must(t, 200).decode(t, &page)
		var out []string
		for _, r := range page.Releases {
			out = append(out, r.Product+"@"+r.Version)
		}
		return out
	}
	want := func(query string, refs ...string) {
		t.Helper()
		if got := found(query); strings.Join(got, ",") != strings.Join(refs, ",") {
			t.Errorf("GET /releases?%s = %v, want %v", query, got, refs)
		}
	}
	// A second release with a label, and the same bytes as 1.0.0's artifact.
	e.ci.json("POST", "/products/hr/releases", map[string]any{"version": "1.1.0", "change_id": "CHG-NEW",
		"labels": map[string]string{"train": "q3"}}).must(t, 201)
	e.ci.do("PUT", "/products/hr/releases/1.1.0/artifacts/copy.bin", bytes.NewReader(e.data)).must(t, 201)

	admin := e.admin
	admin.json("POST", "/products/hr/releases/1.0.0/approvals", nil).must(t, 200)
	admin.json("POST", "/products/hr/releases/1.0.0/promote", map[string]string{"to": "released", "change_id": "CHG-PROMOTE"}).must(t, 200)
	admin.json("POST", "/baselines", map[string]any{"name": "q3", "change_id": "CHG-BASELINE",
		"releases": []map[string]string{{"product": "hr", "version": "1.0.0"}}}).must(t, 201)
	admin.json("POST", "/deployments", map[string]any{"product": "hr", "version": "1.0.0", "environment": "production",
		"target": "web-1", "status": "succeeded", "change_id": "CHG-DEPLOY"}).must(t, 201)
	admin.json("POST", "/products/hr/releases/1.0.0/withdraw", map[string]string{"reason": "bad", "change_id": "CHG-WITHDRAW"}).must(t, 200)

	for _, c := range []string{"CHG-PROMOTE", "CHG-BASELINE", "CHG-DEPLOY", "CHG-WITHDRAW"} {
		want("change_id="+c, "hr@1.0.0")
	}
	want("change_id=CHG-NEW", "hr@1.1.0")
	want("change_id=CHG-NONE")
	want("change_id=CHG-PROMOTE&state=released") // it is withdrawn now

	sum := sha256.Sum256(e.data)
	digest := hex.EncodeToString(sum[:])
	want("sha256="+digest, "hr@1.1.0", "hr@1.0.0")
	want("sha256="+strings.ToUpper(digest)+"&state=draft", "hr@1.1.0")
	want("sha256=sha256:"+digest+"&change_id=CHG-NEW", "hr@1.1.0")
	want("sha256=" + strings.Repeat("0", 64))
	if r := e.reader.hostileClient().json("GET", "/releases?sha256=xyz", nil); r.status != 400 || r.errCode() != "INVALID_INPUT" {
		t.Errorf("sha256=xyz: %d %s", r.status, r.body)
	}
	// Deleting the draft's copy drops it from the digest's answer.
	e.ci.do("DELETE", "/products/hr/releases/1.1.0/artifacts/copy.bin", nil).must(t, 204)
	want("sha256="+digest, "hr@1.0.0")

	for _, l := range []string{"train:q3", "train=q3"} {
		want("label="+url.QueryEscape(l), "hr@1.1.0")
		var page struct{ Releases []struct{ Version string } }
		e.reader.json("GET", "/products/hr/releases?label="+url.QueryEscape(l), nil).must(t, 200).decode(t, &page)
		if len(page.Releases) != 1 || page.Releases[0].Version != "1.1.0" {
			t.Errorf("list label=%s: %+v", l, page.Releases)
		}
	}
}
