package api_test

import (
	"bytes"
	"encoding/base64"
	"io"
	"net/http"
	"testing"

	jose "github.com/go-jose/go-jose/v4"

	"github.com/reliquary/reliquary/internal/apitest"
	"github.com/reliquary/reliquary/internal/testenv"
)

// FuzzOIDCExchange sends arbitrary bodies to POST /auth/oidc on a real
// server that trusts a local issuer with a matching trusted publisher:
// the answer is never a 5xx, and never a token unless the body carries the
// one validly signed seed.
func FuzzOIDCExchange(f *testing.F) {
	is := testenv.StartOIDCIssuer(f)
	srv := testenv.StartServer(f, testenv.ServerOptions{OIDCIssuers: []string{is.URL}})
	admin := newClient(f, srv, srv.AdminToken)
	admin.json("POST", "/products", map[string]any{"name": "app"}).must(f, 201)
	admin.json("POST", "/products/app/publishers", map[string]any{"issuer": is.URL, "audience": "reliquary",
		"role": "publisher", "claims": map[string]string{"repository": "org/app"}}).must(f, 201)
	claims := is.Claims("reliquary", "org/app", "refs/tags/v1.0.0")
	valid := is.Sign(f, claims, "")
	b64 := base64.RawURLEncoding.EncodeToString
	for _, s := range []string{
		`{"token":"` + valid + `"}`,
		`{"token":"` + is.Sign(f, is.Claims("reliquary", "org/evil", "x"), "ec-1") + `"}`,
		`{"token":"` + testenv.SignJWT(f, jose.HS256, []byte("0123456789abcdef0123456789abcdef"), "rsa-1", claims) + `"}`,
		`{"token":"` + b64([]byte(`{"alg":"none"}`)) + "." + b64([]byte(`{"iss":"`+is.URL+`"}`)) + `."}`,
		`{"token":"a.b.c"}`, `{"token":""}`, `{}`, `{"token":1}`, `[]`, `{"token":"x"} trailing`, ``,
	} {
		f.Add([]byte(s))
	}
	hc := &http.Client{Transport: httpTransport(f)}
	f.Fuzz(func(t *testing.T, body []byte) {
		req, err := http.NewRequestWithContext(apitest.MayBeInvalidRequest(t.Context()), http.MethodPost, srv.URL+"/api/v1/auth/oidc", bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Content-Type", "application/json")
		resp, err := hc.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode >= 500 {
			t.Fatalf("%q → %d %s", body, resp.StatusCode, b)
		}
		if resp.StatusCode == http.StatusCreated && !bytes.Contains(body, []byte(valid)) {
			t.Fatalf("%q minted a token: %s", body, b)
		}
	})
}
