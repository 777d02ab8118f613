package api_test

import (
	"go/ast"
	"go/parser"
	"go/token"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"

	"github.com/reliquary/reliquary/api"
	"github.com/reliquary/reliquary/internal/apitest"
	"github.com/reliquary/reliquary/internal/library"
)

func TestOpenAPIPath(t *testing.T) {
	for in, want := range map[string]string{
		"/healthz":                         "/healthz",
		"/api/v1/products/:product":        "/api/v1/products/{product}",
		"/a/:x/b/:y/c":                     "/a/{x}/b/{y}/c",
		"/files/*path":                     "/files/{path}",
		"/api/v1/products/:product/policy": "/api/v1/products/{product}/policy",
		"/api/v1/tokens/:id":               "/api/v1/tokens/{id}",
		"/api/v1/x/:name/signature":        "/api/v1/x/{name}/signature",
	} {
		if got := api.OpenAPIPath(in); got != want {
			t.Errorf("OpenAPIPath(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestSpecValid loads openapi.yaml with kin-openapi and validates it.
func TestSpecValid(t *testing.T) {
	if _, err := api.LoadSpec(apitest.SpecPath(t)); err != nil {
		t.Fatal(err)
	}
}

// TestSpecMatchesRoutes fails when a route of the router is missing from
// openapi.yaml or the document has an operation the router lacks, and when
// an operation's role or security disagrees with the route table.
func TestSpecMatchesRoutes(t *testing.T) {
	doc, err := api.LoadSpec(apitest.SpecPath(t))
	if err != nil {
		t.Fatal(err)
	}
	routes := api.New(api.Config{}).Routes()

	type key struct{ method, path string }
	inRouter := map[key]api.Route{}
	for _, rt := range routes {
		k := key{rt.Method, api.OpenAPIPath(rt.Path)}
		if _, dup := inRouter[k]; dup {
			t.Errorf("route %s %s is declared twice", rt.Method, rt.Path)
		}
		inRouter[k] = rt
	}

	inSpec := map[key]bool{}
	for _, path := range doc.Paths.InMatchingOrder() {
		for method, op := range doc.Paths.Value(path).Operations() {
			k := key{method, path}
			inSpec[k] = true
			rt, ok := inRouter[k]
			if !ok {
				t.Errorf("openapi.yaml has %s %s (operation %s) but the router does not serve it", method, path, op.OperationID)
				continue
			}
			checkRole(t, method, path, rt, op.Extensions["x-required-role"], op.Security)
			if len(op.Responses.Map()) == 0 {
				t.Errorf("%s %s documents no responses", method, path)
			}
		}
	}
	var missing []string
	for k, rt := range inRouter {
		if !inSpec[k] {
			missing = append(missing, rt.Method+" "+rt.Path+" (OpenAPI: "+k.path+")")
		}
	}
	slices.Sort(missing)
	for _, m := range missing {
		t.Errorf("route %s is missing from openapi.yaml", m)
	}
}

func checkRole(t *testing.T, method, path string, rt api.Route, ext any, security *openapi3.SecurityRequirements) {
	t.Helper()
	want := rt.Perm.String()
	if rt.Perm == library.RoleNone {
		want = "none"
	}
	if got, _ := ext.(string); got != want {
		t.Errorf("%s %s: x-required-role is %v, the route table says %s", method, path, ext, want)
	}
	// Public routes opt out of the global bearer requirement with
	// `security: []`; the others inherit it.
	public := security != nil && len(*security) == 0
	if public != (rt.Perm == library.RoleNone) {
		t.Errorf("%s %s: security says public=%v, the route table's role is %q", method, path, public, want)
	}
}

// TestSpecErrorCodes keeps the ErrorCode enum equal to the Code constants
// of wire/errors.go (and any spelled out in errors.go).
func TestSpecErrorCodes(t *testing.T) {
	doc, err := api.LoadSpec(apitest.SpecPath(t))
	if err != nil {
		t.Fatal(err)
	}
	ref := doc.Components.Schemas["ErrorCode"]
	if ref == nil || ref.Value == nil {
		t.Fatal("openapi.yaml has no components.schemas.ErrorCode")
	}
	inSpec := map[string]bool{}
	for _, v := range ref.Value.Enum {
		s, _ := v.(string)
		inSpec[s] = true
	}

	// The codes are package wire's (api/wire/errors.go); errors.go names
	// them for the handlers (a code spelled there as a string counts too).
	inCode := map[string]bool{}
	for _, file := range []string{"wire/errors.go", "errors.go"} {
		f, err := parser.ParseFile(token.NewFileSet(), file, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range f.Decls {
			gd, ok := d.(*ast.GenDecl)
			if !ok || gd.Tok != token.CONST {
				continue
			}
			for _, sp := range gd.Specs {
				vs := sp.(*ast.ValueSpec)
				for i, n := range vs.Names {
					if !strings.HasPrefix(n.Name, "Code") || i >= len(vs.Values) {
						continue
					}
					lit, ok := vs.Values[i].(*ast.BasicLit)
					if !ok || lit.Kind != token.STRING {
						continue
					}
					code, _ := strconv.Unquote(lit.Value)
					inCode[code] = true
					if !inSpec[code] {
						t.Errorf("error code %s (%s) is missing from ErrorCode in openapi.yaml", code, n.Name)
					}
				}
			}
		}
	}
	if len(inCode) == 0 {
		t.Fatal("found no Code constants in wire/errors.go")
	}
	for code := range inSpec {
		if !inCode[code] {
			t.Errorf("ErrorCode in openapi.yaml lists %s, which errors.go does not define", code)
		}
	}
}
