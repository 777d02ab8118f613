package api_test

import (
	"net/http"
	"testing"

	"github.com/reliquary/reliquary/internal/apitest"
)

// httpTransport is the transport of test clients: every request and
// response is validated against openapi.yaml.
func httpTransport(t testing.TB) http.RoundTripper {
	return apitest.Transport(t, apitest.SpecPath(t), http.DefaultTransport)
}
