// Package apitest checks HTTP traffic against the OpenAPI document
// (openapi.yaml at the repository root): Transport is an http.RoundTripper
// that validates every request and every response it carries and reports
// violations on the test.
package apitest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/gorillamux"

	"github.com/reliquary/reliquary/api"
)

// SpecFile is the OpenAPI document's name at the module root.
const SpecFile = "openapi.yaml"

// SpecPath finds openapi.yaml: it walks up from the working directory to
// the module root (the directory holding go.mod) and fails the test when
// the document is not there.
func SpecPath(t testing.TB) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatalf("apitest: working directory: %v", err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			p := filepath.Join(dir, SpecFile)
			if _, err := os.Stat(p); err != nil {
				t.Fatalf("apitest: %s not found at the module root %s: %v", SpecFile, dir, err)
			}
			return p
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatalf("apitest: no go.mod above the working directory")
		}
		dir = parent
	}
}

type ctxKey struct{}

// ExpectInvalidRequest marks a request a test sends outside the spec on
// purpose (an invalid version, an unknown JSON field, ...) to exercise the
// server's error handling. The transport then reports the request when the
// spec accepts it (the spec is too loose), and still validates the response.
func ExpectInvalidRequest(ctx context.Context) context.Context {
	return context.WithValue(ctx, ctxKey{}, true)
}

type lenientKey struct{}

// MayBeInvalidRequest marks a request that may or may not be outside the
// spec (a table of hostile inputs): the request is not judged, the response
// still is.
func MayBeInvalidRequest(ctx context.Context) context.Context {
	return context.WithValue(ctx, lenientKey{}, true)
}

func expectsInvalid(ctx context.Context) bool {
	v, _ := ctx.Value(ctxKey{}).(bool)
	return v
}

// Transport returns a RoundTripper that sends through base (nil:
// http.DefaultTransport) and validates each request and response against
// the OpenAPI document at specPath: the route and method, parameters, JSON
// request bodies, the response status, declared response headers, the
// response media type and JSON response bodies. Only JSON bodies are
// buffered (whole, and handed on unchanged); others (artifact streams) are
// never read by the transport. Violations are reported with
// t.Errorf, which is safe from many goroutines; the exchange itself goes on
// unchanged.
func Transport(t testing.TB, specPath string, base http.RoundTripper) http.RoundTripper {
	t.Helper()
	doc, err := api.LoadSpec(specPath)
	if err != nil {
		t.Fatalf("apitest: %v", err)
	}
	router, err := gorillamux.NewRouter(doc)
	if err != nil {
		t.Fatalf("apitest: router for %s: %v", specPath, err)
	}
	if base == nil {
		base = http.DefaultTransport
	}
	return &transport{t: t, router: router, base: base}
}

type transport struct {
	t      testing.TB
	router routers.Router
	base   http.RoundTripper
}

func (tr *transport) errorf(req *http.Request, format string, args ...any) {
	tr.t.Helper()
	tr.t.Errorf("openapi: %s %s: %s", req.Method, req.URL.RequestURI(), fmt.Sprintf(format, args...))
}

func (tr *transport) RoundTrip(req *http.Request) (*http.Response, error) {
	ctx := req.Context()
	expectInvalid := expectsInvalid(ctx)
	lenient, _ := ctx.Value(lenientKey{}).(bool)
	out := req // what is sent; never the caller's request modified

	// The validator sees its own copy of the request: JSON bodies buffered,
	// any other body (an artifact stream) replaced by an empty one.
	vreq := req.Clone(ctx)
	reqJSON := isJSON(req.Header.Get("Content-Type"))
	hasBody := req.Body != nil && req.Body != http.NoBody
	if hasBody && reqJSON {
		data, err := io.ReadAll(req.Body)
		req.Body.Close()
		if err != nil {
			return nil, fmt.Errorf("apitest: read request body: %w", err)
		}
		out = req.Clone(ctx)
		out.Body = io.NopCloser(bytes.NewReader(data))
		out.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(data)), nil }
		out.ContentLength = int64(len(data))
		vreq.Body = io.NopCloser(bytes.NewReader(data))
		vreq.GetBody = out.GetBody
		vreq.ContentLength = int64(len(data))
	} else {
		vreq.Body = http.NoBody
		vreq.GetBody = nil
	}

	route, params, rerr := tr.router.FindRoute(vreq)
	var input *openapi3filter.RequestValidationInput
	switch {
	case rerr != nil && (expectInvalid || lenient):
		// An unknown route or method sent on purpose.
	case rerr != nil:
		tr.errorf(req, "request: no operation in the spec: %v", rerr)
	default:
		opts := &openapi3filter.Options{
			AuthenticationFunc:  openapi3filter.NoopAuthenticationFunc,
			MultiError:          true,
			SkipSettingDefaults: true,
			ExcludeRequestBody:  hasBody && !reqJSON,
			// Name the failing field and rule, not the whole schema and value.
			SchemaValidationOptions: []openapi3.SchemaValidationOption{openapi3.DisableSchemaErrorDetails()},
		}
		input = &openapi3filter.RequestValidationInput{Request: vreq, PathParams: params, Route: route, Options: opts}
		err := openapi3filter.ValidateRequest(ctx, input)
		if err == nil && hasBody && !reqJSON {
			err = checkRawRequestBody(route.Operation, req.Header.Get("Content-Type"))
		}
		switch {
		case lenient:
		case err != nil && !expectInvalid:
			tr.errorf(req, "request: %v", err)
		case err == nil && expectInvalid:
			tr.errorf(req, "request: marked invalid on purpose, but the spec accepts it (is the spec too loose?)")
		}
	}

	resp, err := tr.base.RoundTrip(out)
	if err != nil || input == nil {
		return resp, err
	}
	if err := tr.checkResponse(ctx, input, resp); err != nil {
		tr.errorf(req, "response %d: %v", resp.StatusCode, err)
	}
	return resp, nil
}

// checkRawRequestBody checks a body the transport does not read (an
// artifact upload) is one the operation declares, by media type.
func checkRawRequestBody(op *openapi3.Operation, contentType string) error {
	if op.RequestBody == nil || op.RequestBody.Value == nil {
		return errors.New("request has a body but the operation declares none")
	}
	if op.RequestBody.Value.Content.Get(contentType) == nil {
		return fmt.Errorf("request body media type %q is not declared", contentType)
	}
	return nil
}

// checkResponse validates resp, buffering its body only when it is JSON
// (and then handing the caller an identical body).
func (tr *transport) checkResponse(ctx context.Context, in *openapi3filter.RequestValidationInput, resp *http.Response) error {
	op := in.Route.Operation
	ref := op.Responses.Status(resp.StatusCode)
	if ref == nil {
		ref = op.Responses.Default()
	}
	if ref == nil || ref.Value == nil {
		return fmt.Errorf("status %d is not declared for operation %s", resp.StatusCode, op.OperationID)
	}
	decl := ref.Value
	ct := resp.Header.Get("Content-Type")
	hasBody := in.Request.Method != http.MethodHead && resp.StatusCode != http.StatusNoContent && resp.StatusCode != http.StatusNotModified
	respJSON := isJSON(ct) && hasBody

	opts := *in.Options
	opts.IncludeResponseStatus = true
	opts.ExcludeResponseBody = !respJSON
	rin := &openapi3filter.ResponseValidationInput{RequestValidationInput: in, Status: resp.StatusCode, Header: resp.Header, Options: &opts}
	if in.Request.Method == http.MethodHead {
		// kin-openapi skips HEAD responses: check their status and headers
		// as the GET they mirror would be checked, without a body.
		get := *in
		get.Request = in.Request.Clone(ctx)
		get.Request.Method = http.MethodGet
		rin.RequestValidationInput = &get
	}

	if respJSON {
		data, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		resp.Body = io.NopCloser(bytes.NewReader(data))
		if err != nil {
			return fmt.Errorf("read body: %w", err)
		}
		rin.SetBodyBytes(data)
	} else {
		rin.Body = http.NoBody
		if hasBody && len(decl.Content) > 0 && decl.Content.Get(ct) == nil {
			return fmt.Errorf("media type %q is not declared for status %d", ct, resp.StatusCode)
		}
		if hasBody && len(decl.Content) == 0 && resp.ContentLength > 0 {
			return fmt.Errorf("a %d-byte body of type %q where the spec declares none", resp.ContentLength, ct)
		}
	}

	switch resp.StatusCode {
	case http.StatusNotModified, http.StatusMovedPermanently, http.StatusTemporaryRedirect, http.StatusPermanentRedirect:
		// kin-openapi skips these statuses: check the required headers here.
		for name, h := range decl.Headers {
			if h.Value != nil && h.Value.Required && resp.Header.Get(name) == "" {
				return fmt.Errorf("response header %q missing", name)
			}
		}
		return nil
	}
	return openapi3filter.ValidateResponse(ctx, rin)
}

// isJSON reports whether a media type is JSON (application/json, +json).
func isJSON(contentType string) bool {
	mt, _, err := mime.ParseMediaType(contentType)
	if err != nil {
		return false
	}
	return mt == "application/json" || strings.HasSuffix(mt, "+json")
}
