package api_test

import (
	"net/http"
	"testing"
)

// httpTransport is the transport of test clients.
func httpTransport(testing.TB) http.RoundTripper { return http.DefaultTransport }
