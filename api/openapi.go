package api

import (
	"context"
	"fmt"
	"strings"

	"github.com/getkin/kin-openapi/openapi3"
)

// The OpenAPI document describing this package's routes lives at the
// repository root (openapi.yaml): go:embed cannot reach it from here, so it
// is loaded by path. api/openapi_test.go keeps it and Routes() in step.

// LoadSpec loads the OpenAPI document at path, resolves its references and
// validates it.
func LoadSpec(path string) (*openapi3.T, error) {
	loader := openapi3.NewLoader()
	loader.IsExternalRefsAllowed = false
	doc, err := loader.LoadFromFile(path)
	if err != nil {
		return nil, fmt.Errorf("load OpenAPI document %s: %w", path, err)
	}
	if err := doc.Validate(context.Background(), openapi3.EnableSchemaPatternValidation()); err != nil {
		return nil, fmt.Errorf("OpenAPI document %s is not valid: %w", path, err)
	}
	return doc, nil
}

// OpenAPIPath converts a gin route path (`/products/:product`, `/files/*path`)
// to the OpenAPI template syntax (`/products/{product}`, `/files/{path}`).
func OpenAPIPath(ginPath string) string {
	segs := strings.Split(ginPath, "/")
	for i, s := range segs {
		if len(s) > 1 && (s[0] == ':' || s[0] == '*') {
			segs[i] = "{" + s[1:] + "}"
		}
	}
	return strings.Join(segs, "/")
}
