package api_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/reliquary/reliquary/api"
	"github.com/reliquary/reliquary/internal/apitest"
	"github.com/reliquary/reliquary/internal/testenv"
)

// TestUIOutsideAPI: the web UI (/ui/) is deliberately not part of the
// route table nor of openapi.yaml, which describe /api/v1 (and the probes)
// only, so TestSpecMatchesRoutes does not see it; the server still serves
// it, and / redirects there.
func TestUIOutsideAPI(t *testing.T) {
	for _, rt := range api.New(api.Config{}).Routes() {
		if strings.HasPrefix(rt.Path, "/ui") {
			t.Errorf("route %s %s: the UI must stay out of the API route table", rt.Method, rt.Path)
		}
	}
	doc, err := api.LoadSpec(apitest.SpecPath(t))
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range doc.Paths.InMatchingOrder() {
		if strings.HasPrefix(p, "/ui") {
			t.Errorf("openapi.yaml documents %s; it describes the API only", p)
		}
	}
	srv := testenv.StartServer(t, testenv.ServerOptions{})
	hc := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	for path, want := range map[string]string{"/": "/ui/", "/ui/": "/ui/products", "/ui/products": "/ui/login?next=%2Fui%2Fproducts"} {
		resp, err := hc.Get(srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != want {
			t.Errorf("GET %s: %d %q, want 303 to %q", path, resp.StatusCode, resp.Header.Get("Location"), want)
		}
	}
}
