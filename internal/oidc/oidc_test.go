package oidc

import (
	"context"
	"encoding/base64"
	"errors"
	"strings"
	"testing"
)

func TestValidateIssuer(t *testing.T) {
	for _, tc := range []struct {
		issuer    string
		allowHTTP bool
		ok        bool
	}{
		{"https://token.actions.githubusercontent.com", false, true},
		{"https://gitlab.example.com/", false, true},
		{"http://127.0.0.1:8000", false, false},
		{"http://127.0.0.1:8000", true, true},
		{"http://[::1]:8000", true, true},
		{"http://localhost:8000", true, true},
		{"http://gitlab.example.com", true, false}, // plain http off loopback, even in test mode
		{"http://10.0.0.1", true, false},
		{"ftp://example.com", true, false},
		{"token.actions.githubusercontent.com", false, false},
		{"https://user:pw@example.com", false, false},
		{"https://example.com?x=1", false, false},
		{"", false, false},
	} {
		err := ValidateIssuer(tc.issuer, tc.allowHTTP)
		if (err == nil) != tc.ok {
			t.Errorf("ValidateIssuer(%q, %v) = %v, want ok=%v", tc.issuer, tc.allowHTTP, err, tc.ok)
		}
	}
	if _, err := New(Config{Issuers: []string{"http://example.com"}, AllowHTTPIssuer: true}); err == nil {
		t.Error("New accepted a plain-http issuer off loopback")
	}
}

// FuzzVerify feeds arbitrary strings to the verifier: it never panics and
// every refusal is one of its three sentinel errors. The trusted issuer
// listens nowhere, so a token naming it is refused as unavailable.
func FuzzVerify(f *testing.F) {
	const iss = "http://127.0.0.1:1"
	b64 := base64.RawURLEncoding.EncodeToString
	payload := b64([]byte(`{"iss":"` + iss + `","sub":"x","aud":"a","exp":9999999999,"iat":1,"jti":"j"}`))
	for _, s := range []string{
		"", "a.b.c", "%%%", strings.Repeat("a", MaxTokenBytes+1),
		b64([]byte(`{"alg":"none"}`)) + "." + payload + ".",
		b64([]byte(`{"alg":"HS256","kid":"k"}`)) + "." + payload + "." + b64([]byte("sig")),
		b64([]byte(`{"alg":"RS256","kid":"k"}`)) + "." + payload + "." + b64([]byte("sig")),
		b64([]byte(`{"alg":"ES256"}`)) + "." + b64([]byte(`[]`)) + "." + b64([]byte("sig")),
		`{"protected":"e30","payload":"e30","signature":"AA"}`,
	} {
		f.Add(s)
	}
	v, err := New(Config{Issuers: []string{iss}, AllowHTTPIssuer: true})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		id, err := v.Verify(context.Background(), raw)
		if err == nil {
			t.Fatalf("%q verified as %+v", raw, id)
		}
		if !errors.Is(err, ErrInvalidToken) && !errors.Is(err, ErrUntrustedIssuer) && !errors.Is(err, ErrIssuerUnavailable) {
			t.Fatalf("%q: error outside the sentinels: %v", raw, err)
		}
	})
}
