package api_test

import (
	"bytes"
	"io"
	"net/http"
	"regexp"
	"strings"
	"testing"

	"github.com/reliquary/reliquary/api"
	"github.com/reliquary/reliquary/internal/library"
	"github.com/reliquary/reliquary/internal/testenv"
)

// matrixParams fills the path parameters of a route: the product is
// "alpha"; everything else names nothing that exists, so no request of the
// matrix changes anything that matters to the next one.
var matrixParams = map[string]string{
	"product": "alpha", "version": "9.9.9", "name": "x.bin", "baseline": "nobaseline",
	"other": "nobaseline2", "environment": "nowhere", "id": "nope",
	"digest": "sha256:0000000000000000000000000000000000000000000000000000000000000000",
}

// bodyScoped are the routes whose product is named in the JSON body, not
// the path: the body names "alpha", so scope is checked as for :product.
var bodyScoped = map[string]string{
	"POST /api/v1/products": `{"name":"alpha"}`,
	"POST /api/v1/tokens":   `{"name":"matrix","role":"reader","products":["alpha"]}`,
}

// unscopedOnly are the routes no product-scoped token may call, whatever
// its role (DESIGN §8 "Scope": the backup holds the whole index).
var unscopedOnly = map[string]bool{
	"GET /api/v1/admin/backup": true,
}

var ginParam = regexp.MustCompile(`[:*]([A-Za-z_]+)`)

func matrixPath(t *testing.T, route string) string {
	return ginParam.ReplaceAllStringFunc(route, func(m string) string {
		v, ok := matrixParams[m[1:]]
		if !ok {
			t.Fatalf("route %s: no test value for parameter %s; add one to matrixParams", route, m)
		}
		return v
	})
}

// TestAuthorizationMatrix sends every route of (*api.Server).Routes() as
// every role (no token, anonymous read, and each role's token unscoped,
// scoped to the route's product and scoped to another product) and checks
// 401/403 versus "allowed" (any other status) exactly as the route's Perm
// and :product parameter dictate. A new route is covered the day it is
// added to the table.
func TestAuthorizationMatrix(t *testing.T) {
	srv := testenv.StartServer(t, testenv.ServerOptions{})
	anonSrv := testenv.StartServer(t, testenv.ServerOptions{AnonymousRead: true})
	admin := newClient(t, srv, srv.AdminToken)
	for _, p := range []string{"alpha", "beta"} {
		admin.json("POST", "/products", map[string]any{"name": p}).must(t, 201)
	}

	type caller struct {
		label  string
		role   library.Role // RoleNone: no token
		anon   bool         // no token, on a server with anonymous read
		scope  string       // "", "alpha" (the route's product) or "beta" (another)
		client *client
	}
	callers := []caller{
		{label: "none", client: newClient(t, srv, "").hostileClient()},
		{label: "anonymous", anon: true, client: newClient(t, anonSrv, "").hostileClient()},
	}
	for role := library.RoleReader; role <= library.RoleAdmin; role++ {
		for _, scope := range []string{"", "alpha", "beta"} {
			in := map[string]any{"name": role.String() + "-" + scope, "role": role.String()}
			label := role.String() + "/unscoped"
			if scope != "" {
				in["products"] = []string{scope}
				label = role.String() + "/scoped-" + scope
			}
			var tok struct{ Secret string }
			admin.json("POST", "/tokens", in).must(t, 201).decode(t, &tok)
			callers = append(callers, caller{label: label, role: role, scope: scope, client: newClient(t, srv, tok.Secret).hostileClient()})
		}
	}

	routes := api.New(api.Config{}).Routes()
	cases := 0
	for _, rt := range routes {
		t.Run(rt.Method+" "+rt.Path, func(t *testing.T) {
			path := matrixPath(t, rt.Path)
			scopedBody, inBody := bodyScoped[rt.Method+" "+rt.Path]
			underProduct := strings.Contains(rt.Path, ":product") || inBody
			for _, c := range callers {
				cases++
				want := "allowed"
				switch {
				case rt.Perm == library.RoleNone:
				case c.anon && rt.Perm == library.RoleReader:
				case c.anon || c.role == library.RoleNone:
					want = "401"
				case c.role < rt.Perm:
					want = "403"
				case underProduct && c.scope == "beta":
					want = "403"
				case unscopedOnly[rt.Method+" "+rt.Path] && c.scope != "":
					want = "403"
				}
				var body io.Reader = http.NoBody
				var hdr []string
				switch rt.Method {
				case http.MethodPost, http.MethodPut, http.MethodPatch:
					body = bytes.NewReader([]byte("{}"))
					if inBody {
						body = bytes.NewReader([]byte(scopedBody))
					}
					hdr = []string{"Content-Type", "application/json"}
				}
				p := strings.TrimPrefix(path, api.APIPrefix)
				cl := c.client
				if p == path { // outside the API prefix (/healthz, /metrics)
					root := *cl
					root.base = strings.TrimSuffix(cl.base, api.APIPrefix)
					cl = &root
				}
				r := cl.do(rt.Method, p, body, hdr...)
				got := "allowed"
				if r.status == http.StatusUnauthorized || r.status == http.StatusForbidden {
					got = itoa(r.status)
				}
				if got != want {
					t.Errorf("%s %s as %s: %d %s, want %s", rt.Method, path, c.label, r.status, bytes.TrimSpace(r.body), want)
				}
			}
		})
	}
	t.Logf("authorization matrix: %d routes × %d callers = %d cases", len(routes), len(callers), cases)
	if cases != len(routes)*len(callers) {
		t.Errorf("ran %d cases, want %d", cases, len(routes)*len(callers))
	}
}

func itoa(n int) string {
	return string([]byte{byte('0' + n/100), byte('0' + n/10%10), byte('0' + n%10)})
}
