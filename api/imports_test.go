package api_test

import (
	"go/parser"
	"go/token"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

const module = "github.com/reliquary/reliquary"

// importsOf lists the imports of the non-test Go files in dir.
func importsOf(t *testing.T, dir string) map[string][]string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(dir, "*.go"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no Go files in %s: %v", dir, err)
	}
	out := map[string][]string{}
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		af, err := parser.ParseFile(token.NewFileSet(), f, nil, parser.ImportsOnly)
		if err != nil {
			t.Fatal(err)
		}
		for _, im := range af.Imports {
			p, _ := strconv.Unquote(im.Path.Value)
			out[p] = append(out[p], filepath.Base(f))
		}
	}
	return out
}

// TestAPIImportsOnlyTheDomain: package api talks to the domain
// (internal/library) and the wire contract, and names storage's error
// sentinels; nothing of the index, journal, signing, OIDC, transparency or
// UI packages (issue 14).
func TestAPIImportsOnlyTheDomain(t *testing.T) {
	allowed := map[string]bool{module + "/internal/library": true, module + "/api/wire": true, module + "/storage": true}
	for p, files := range importsOf(t, ".") {
		if strings.HasPrefix(p, module+"/") && !allowed[p] {
			t.Errorf("package api imports %s (in %v)", p, files)
		}
	}
}

// TestWireImportsOnlyTheStandardLibrary: api/wire and api/client link
// nothing of the server, and wire nothing outside the standard library.
func TestWireImportsOnlyTheStandardLibrary(t *testing.T) {
	for p, files := range importsOf(t, "wire") {
		if first, _, _ := strings.Cut(p, "/"); strings.Contains(first, ".") {
			t.Errorf("package wire imports %s (in %v)", p, files)
		}
	}
	for p, files := range importsOf(t, "client") {
		if strings.HasPrefix(p, module+"/") && p != module+"/api/wire" {
			t.Errorf("package client imports %s (in %v)", p, files)
		}
	}
}
