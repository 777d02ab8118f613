package testenv

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
)

// OIDCIssuer is a real OIDC issuer on a loopback port, as CI platforms run
// them: a discovery document at /.well-known/openid-configuration and a
// JWKS; it signs ID tokens with RSA and ECDSA keys, can rotate them and
// can go down.
type OIDCIssuer struct {
	URL string
	srv *httptest.Server

	mu   sync.Mutex
	keys []issuerKey // published in the JWKS
	down atomic.Bool
	// JWKSFetches counts requests for the key set (caching is visible).
	JWKSFetches atomic.Int64
	seq         atomic.Int64
}

type issuerKey struct {
	kid string
	alg jose.SignatureAlgorithm
	key crypto.Signer
}

// StartOIDCIssuer starts an issuer with one RSA key ("rsa-1") and one
// ECDSA P-256 key ("ec-1").
func StartOIDCIssuer(tb testing.TB) *OIDCIssuer {
	tb.Helper()
	is := &OIDCIssuer{}
	is.AddKey(tb, "rsa-1", jose.RS256)
	is.AddKey(tb, "ec-1", jose.ES256)
	mux := http.NewServeMux()
	mux.HandleFunc("GET /.well-known/openid-configuration", func(w http.ResponseWriter, r *http.Request) {
		if is.down.Load() {
			http.Error(w, "down", http.StatusServiceUnavailable)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]any{
			"issuer": is.URL, "jwks_uri": is.URL + "/jwks",
			"id_token_signing_alg_values_supported": []string{"RS256", "ES256"},
			"response_types_supported":              []string{"id_token"},
			"subject_types_supported":               []string{"public"},
		})
	})
	mux.HandleFunc("GET /jwks", func(w http.ResponseWriter, r *http.Request) {
		is.JWKSFetches.Add(1)
		if is.down.Load() {
			http.Error(w, "down", http.StatusServiceUnavailable)
			return
		}
		is.mu.Lock()
		set := jose.JSONWebKeySet{}
		for _, k := range is.keys {
			set.Keys = append(set.Keys, jose.JSONWebKey{Key: k.key.Public(), KeyID: k.kid, Algorithm: string(k.alg), Use: "sig"})
		}
		is.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(set)
	})
	is.srv = httptest.NewServer(mux)
	is.URL = is.srv.URL
	tb.Cleanup(is.srv.Close)
	return is
}

// AddKey publishes a new signing key (key rotation).
func (is *OIDCIssuer) AddKey(tb testing.TB, kid string, alg jose.SignatureAlgorithm) {
	tb.Helper()
	var k crypto.Signer
	var err error
	switch alg {
	case jose.RS256:
		k, err = rsa.GenerateKey(rand.Reader, 2048)
	case jose.ES256:
		k, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	default:
		tb.Fatalf("unsupported test key algorithm %s", alg)
	}
	if err != nil {
		tb.Fatal(err)
	}
	is.mu.Lock()
	is.keys = append(is.keys, issuerKey{kid: kid, alg: alg, key: k})
	is.mu.Unlock()
}

// SetDown makes discovery and the JWKS answer 503.
func (is *OIDCIssuer) SetDown(down bool) { is.down.Store(down) }

// Close stops the server (a refused connection).
func (is *OIDCIssuer) Close() { is.srv.Close() }

// Claims are the standard claims of a CI job's ID token (GitHub's shape),
// valid now for 5 minutes, with a fresh jti.
func (is *OIDCIssuer) Claims(audience, repository, ref string) map[string]any {
	now := time.Now()
	return map[string]any{
		"iss": is.URL, "aud": audience, "sub": "repo:" + repository + ":ref:" + ref,
		"iat": now.Unix(), "nbf": now.Unix(), "exp": now.Add(5 * time.Minute).Unix(),
		"jti":        fmt.Sprintf("jti-%d-%d", now.UnixNano(), is.seq.Add(1)),
		"repository": repository, "ref": ref, "repository_owner": "org", "workflow": "release",
	}
}

// Sign signs claims with the key kid ("" : "rsa-1").
func (is *OIDCIssuer) Sign(tb testing.TB, claims map[string]any, kid string) string {
	tb.Helper()
	if kid == "" {
		kid = "rsa-1"
	}
	is.mu.Lock()
	var key *issuerKey
	for i := range is.keys {
		if is.keys[i].kid == kid {
			key = &is.keys[i]
		}
	}
	is.mu.Unlock()
	if key == nil {
		tb.Fatalf("no issuer key %q", kid)
	}
	return SignJWT(tb, key.alg, key.key, kid, claims)
}

// SignJWT signs claims as a compact JWS with any key (a stranger's, or an
// HMAC secret given as []byte with jose.HS256).
func SignJWT(tb testing.TB, alg jose.SignatureAlgorithm, key any, kid string, claims map[string]any) string {
	tb.Helper()
	opts := (&jose.SignerOptions{}).WithType("JWT")
	if kid != "" {
		opts = opts.WithHeader(jose.HeaderKey("kid"), kid)
	}
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: alg, Key: key}, opts)
	if err != nil {
		tb.Fatal(err)
	}
	payload, err := json.Marshal(claims)
	if err != nil {
		tb.Fatal(err)
	}
	obj, err := signer.Sign(payload)
	if err != nil {
		tb.Fatal(err)
	}
	out, err := obj.CompactSerialize()
	if err != nil {
		tb.Fatal(err)
	}
	return out
}
