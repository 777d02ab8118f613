package api_test

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"maps"
	"net/http"
	"strings"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"

	"github.com/reliquary/reliquary/api"
	"github.com/reliquary/reliquary/internal/library"
	"github.com/reliquary/reliquary/internal/testenv"
)

// oidcEnv is a server trusting a local OIDC issuer, with products app and
// other, and a trusted publisher on app for org/app's tag builds of 1.x.
type oidcEnv struct {
	t      *testing.T
	is     *testenv.OIDCIssuer
	srv    *testenv.Server
	admin  *client
	anon   *client
	pubID  string
	issuer string
}

func newOIDCEnv(t *testing.T, o testenv.ServerOptions) *oidcEnv {
	t.Helper()
	is := testenv.StartOIDCIssuer(t)
	o.OIDCIssuers = append(o.OIDCIssuers, is.URL)
	srv := testenv.StartServer(t, o)
	e := &oidcEnv{t: t, is: is, srv: srv, admin: newClient(t, srv, srv.AdminToken), anon: newClient(t, srv, ""), issuer: is.URL}
	for _, p := range []string{"app", "other"} {
		e.admin.json("POST", "/products", map[string]any{"name": p}).must(t, 201)
	}
	var tp library.TrustedPublisher
	e.admin.json("POST", "/products/app/publishers", map[string]any{
		"issuer": is.URL, "audience": "reliquary", "role": "publisher", "versions": "^1",
		"claims": map[string]string{"repository": "org/app", "ref": "refs/tags/v*"},
	}).must(t, 201).decode(t, &tp)
	if tp.ID == "" || tp.Role != library.RolePublisher || tp.Product != "app" {
		t.Fatalf("publisher %+v", tp)
	}
	e.pubID = tp.ID
	return e
}

func (e *oidcEnv) claims() map[string]any {
	return e.is.Claims("reliquary", "org/app", "refs/tags/v1.2.0")
}

func (e *oidcEnv) exchange(token string) response {
	e.t.Helper()
	return e.anon.hostileClient().json("POST", "/auth/oidc", map[string]any{"token": token})
}

// TestOIDCExchange proves the whole trusted-publishing path against a real
// issuer on loopback: the minted token's scope, role, lifetime, version
// limit and journal event, and that the ID token cannot be used twice.
func TestOIDCExchange(t *testing.T) {
	e := newOIDCEnv(t, testenv.ServerOptions{OIDCTokenTTL: 10 * time.Minute})
	before := time.Now()
	var got api.OIDCExchangeResponse
	e.anon.json("POST", "/auth/oidc", map[string]any{"token": e.is.Sign(t, e.claims(), "rsa-1")}).must(t, 201).decode(t, &got)
	if got.Product != "app" || got.Role != "publisher" || got.Publisher != e.pubID || got.Versions != "^1" || !strings.HasPrefix(got.Token, "rlq_") {
		t.Fatalf("exchange answer %+v", got)
	}
	if ttl := got.ExpiresAt.Sub(before); ttl < 9*time.Minute || ttl > 11*time.Minute {
		t.Errorf("expires_at %s is %s away, want --oidc-token-ttl 10m", got.ExpiresAt, ttl)
	}

	ci := newClient(t, e.srv, got.Token)
	ci.json("POST", "/products/app/releases", map[string]any{"version": "1.2.0"}).must(t, 201)
	ci.do("PUT", "/products/app/releases/1.2.0/artifacts/app.tar.gz", bytes.NewReader([]byte("bytes")),
		"Content-Type", "application/octet-stream").must(t, 201)
	ci.json("POST", "/products/app/releases/1.2.0/seal", nil).must(t, 200)
	// Scope: other products are out of reach.
	if r := ci.json("POST", "/products/other/releases", map[string]any{"version": "1.0.0"}); r.status != 403 || r.errCode() != api.CodeForbidden {
		t.Errorf("other product: %d %s, want 403 FORBIDDEN", r.status, r.body)
	}
	ci.json("GET", "/products/other", nil).must(t, 403)
	// Versions: the publisher allows ^1 only.
	if r := ci.json("POST", "/products/app/releases", map[string]any{"version": "2.0.0"}); r.status != 403 || r.errCode() != api.CodeForbidden {
		t.Errorf("version outside ^1: %d %s, want 403 FORBIDDEN", r.status, r.body)
	}
	// Role: a publisher cannot approve, nor administer.
	ci.json("POST", "/products/app/releases/1.2.0/approvals", map[string]any{}).must(t, 403)
	ci.json("GET", "/tokens", nil).must(t, 403)

	// The journal names the workflow: issuer, subject and matched claims.
	var created map[string]any
	var release map[string]any
	err := e.srv.Index.View(func(tx library.ReadTx) error {
		evs, err := tx.Events(0, 0)
		for _, ev := range evs {
			var data map[string]any
			_ = json.Unmarshal(ev.Data, &data)
			if ev.Type == library.EvTokenCreated && data["id"] == got.ID {
				created = data
			}
			if ev.Type == library.EvReleaseCreated && ev.Subject == "app@1.2.0" {
				release = map[string]any{"actor": ev.Actor}
			}
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	oidc, _ := created["oidc"].(map[string]any)
	claims, _ := oidc["claims"].(map[string]any)
	if oidc["issuer"] != e.issuer || oidc["subject"] != "repo:org/app:ref:refs/tags/v1.2.0" || oidc["publisher"] != e.pubID ||
		claims["repository"] != "org/app" || claims["ref"] != "refs/tags/v1.2.0" {
		t.Errorf("token.created event names %v, want issuer, subject, publisher and matched claims", created)
	}
	if release["actor"] != "oidc:repo:org/app:ref:refs/tags/v1.2.0" {
		t.Errorf("release.created actor %v, want the workflow's subject", release["actor"])
	}

	// GET /tokens shows the minted token with its expiry and origin.
	var list api.TokenList
	e.admin.json("GET", "/tokens", nil).must(t, 200).decode(t, &list)
	found := false
	for _, tv := range list.Tokens {
		if tv.ID == got.ID {
			found = true
			if tv.ExpiresAt == nil || !tv.ExpiresAt.Equal(got.ExpiresAt) || tv.OIDC == nil || tv.OIDC.Publisher != e.pubID || tv.LastUsedAt == nil {
				t.Errorf("listed minted token %+v", tv)
			}
		}
	}
	if !found {
		t.Errorf("minted token %s not listed", got.ID)
	}

	// An ECDSA-signed token from the same issuer works too.
	e.exchange(e.is.Sign(t, e.claims(), "ec-1")).must(t, 201)

	// Listing and deleting publishers.
	var pl api.PublisherList
	e.admin.json("GET", "/products/app/publishers", nil).must(t, 200).decode(t, &pl)
	if len(pl.Publishers) != 1 || pl.Publishers[0].ID != e.pubID {
		t.Fatalf("publishers %+v", pl)
	}
	e.admin.json("DELETE", "/products/other/publishers/"+e.pubID, nil).must(t, 404)
	e.admin.json("DELETE", "/products/app/publishers/"+e.pubID, nil).must(t, 204)
	if r := e.exchange(e.is.Sign(t, e.claims(), "")); r.status != 403 || r.errCode() != api.CodeNoTrustedPublisher {
		t.Errorf("after deleting the publisher: %d %s, want 403 NO_TRUSTED_PUBLISHER", r.status, r.body)
	}
}

// TestOIDCRefusals sends ID tokens that must be refused, each with its
// clear 4xx, never a token.
func TestOIDCRefusals(t *testing.T) {
	e := newOIDCEnv(t, testenv.ServerOptions{})
	stranger, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	strangerEC, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	with := func(change map[string]any) map[string]any {
		c := e.claims()
		maps.Copy(c, change)
		for k, v := range change {
			if v == nil {
				delete(c, k)
			}
		}
		return c
	}
	now := time.Now()
	b64 := base64.RawURLEncoding.EncodeToString
	payload, _ := json.Marshal(e.claims())
	valid := e.is.Sign(t, e.claims(), "")
	parts := strings.Split(valid, ".")
	tampered, _ := json.Marshal(with(map[string]any{"repository": "org/app", "sub": "repo:org/evil:ref:refs/tags/v1.0.0"}))

	cases := []struct {
		name   string
		token  string
		status int
		code   string
	}{
		{"wrong audience", e.is.Sign(t, with(map[string]any{"aud": "someone-else"}), ""), 403, api.CodeNoTrustedPublisher},
		{"expired", e.is.Sign(t, with(map[string]any{"iat": now.Add(-20 * time.Minute).Unix(), "nbf": now.Add(-20 * time.Minute).Unix(), "exp": now.Add(-10 * time.Minute).Unix()}), ""), 401, api.CodeOIDCTokenInvalid},
		{"not yet valid", e.is.Sign(t, with(map[string]any{"nbf": now.Add(time.Hour).Unix()}), ""), 401, api.CodeOIDCTokenInvalid},
		{"issued in the future", e.is.Sign(t, with(map[string]any{"iat": now.Add(time.Hour).Unix()}), ""), 401, api.CodeOIDCTokenInvalid},
		{"no iat", e.is.Sign(t, with(map[string]any{"iat": nil}), ""), 401, api.CodeOIDCTokenInvalid},
		{"lives too long", e.is.Sign(t, with(map[string]any{"exp": now.Add(48 * time.Hour).Unix()}), ""), 401, api.CodeOIDCTokenInvalid},
		{"wrong issuer", e.is.Sign(t, with(map[string]any{"iss": "https://token.actions.githubusercontent.com"}), ""), 401, api.CodeOIDCIssuerUntrusted},
		{"bad signature (stranger's key, issuer's kid)", testenv.SignJWT(t, jose.RS256, stranger, "rsa-1", e.claims()), 401, api.CodeOIDCTokenInvalid},
		{"bad signature (stranger's EC key)", testenv.SignJWT(t, jose.ES256, strangerEC, "ec-1", e.claims()), 401, api.CodeOIDCTokenInvalid},
		{"unknown kid", testenv.SignJWT(t, jose.RS256, stranger, "nope", e.claims()), 401, api.CodeOIDCTokenInvalid},
		{"tampered payload", parts[0] + "." + b64(tampered) + "." + parts[2], 401, api.CodeOIDCTokenInvalid},
		{"alg none", b64([]byte(`{"alg":"none","typ":"JWT"}`)) + "." + b64(payload) + ".", 401, api.CodeOIDCTokenInvalid},
		{"HMAC-signed", testenv.SignJWT(t, jose.HS256, []byte("0123456789abcdef0123456789abcdef"), "rsa-1", e.claims()), 401, api.CodeOIDCTokenInvalid},
		{"malformed", "not.a.jwt", 401, api.CodeOIDCTokenInvalid},
		{"garbage", "%%%", 401, api.CodeOIDCTokenInvalid},
		{"payload not JSON", parts[0] + "." + b64([]byte("[1,2")) + "." + parts[2], 401, api.CodeOIDCTokenInvalid},
		{"no jti", e.is.Sign(t, with(map[string]any{"jti": nil}), ""), 401, api.CodeOIDCTokenInvalid},
		{"no sub", e.is.Sign(t, with(map[string]any{"sub": nil}), ""), 401, api.CodeOIDCTokenInvalid},
		{"repository does not match", e.is.Sign(t, with(map[string]any{"repository": "org/evil"}), ""), 403, api.CodeNoTrustedPublisher},
		{"ref does not match the glob", e.is.Sign(t, with(map[string]any{"ref": "refs/heads/main"}), ""), 403, api.CodeNoTrustedPublisher},
		{"claim of another type", e.is.Sign(t, with(map[string]any{"repository": []string{"org/app"}}), ""), 403, api.CodeNoTrustedPublisher},
		{"claim missing", e.is.Sign(t, with(map[string]any{"ref": nil}), ""), 403, api.CodeNoTrustedPublisher},
		{"token over 16 KiB", strings.Repeat("a", 16<<10+1), 401, api.CodeOIDCTokenInvalid},
		{"empty token", "", 400, api.CodeInvalidInput},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := e.exchange(tc.token)
			if r.status != tc.status || r.errCode() != tc.code {
				t.Errorf("%d %s, want %d %s", r.status, bytes.TrimSpace(r.body), tc.status, tc.code)
			}
		})
	}

	t.Run("replayed jti", func(t *testing.T) {
		tok := e.is.Sign(t, e.claims(), "")
		e.exchange(tok).must(t, 201)
		r := e.exchange(tok)
		if r.status != 401 || r.errCode() != api.CodeOIDCTokenReplayed {
			t.Errorf("replay: %d %s, want 401 OIDC_TOKEN_REPLAYED", r.status, r.body)
		}
		// Another token with the same jti (re-signed) is a replay too.
		c := e.claims()
		var claims map[string]any
		_ = json.Unmarshal(mustJSON(t, c), &claims)
		c["jti"] = "jti-shared"
		e.exchange(e.is.Sign(t, c, "")).must(t, 201)
		c["iat"] = time.Now().Unix() + 1
		if r := e.exchange(e.is.Sign(t, c, "ec-1")); r.errCode() != api.CodeOIDCTokenReplayed {
			t.Errorf("same jti, other signature: %d %s", r.status, r.body)
		}
	})

	t.Run("bodies", func(t *testing.T) {
		h := e.anon.hostileClient()
		if r := h.json("POST", "/auth/oidc", strings.Repeat(" ", api.MaxOIDCBody+1)); r.status != 413 || r.errCode() != api.CodeBodyTooLarge {
			t.Errorf("huge body: %d %s", r.status, r.body)
		}
		if r := h.json("POST", "/auth/oidc", `{"token": 5}`); r.status != 400 || r.errCode() != api.CodeInvalidJSON {
			t.Errorf("wrong type: %d %s", r.status, r.body)
		}
		if r := h.json("POST", "/auth/oidc", `{"token":"x","extra":1}`); r.status != 400 || r.errCode() != api.CodeInvalidJSON {
			t.Errorf("unknown field: %d %s", r.status, r.body)
		}
		// A bearer does not matter: the ID token is the credential.
		r := newClient(t, e.srv, "rlq_bogus").hostileClient().json("POST", "/auth/oidc", map[string]any{"token": e.is.Sign(t, e.claims(), "")})
		r.must(t, 201)
	})
}

// TestOIDCIssuerKeys proves JWKS caching and key rotation, and that an
// issuer that is down is a 503, never a 500.
func TestOIDCIssuerKeys(t *testing.T) {
	down := testenv.StartOIDCIssuer(t)
	down.Close()
	const refresh = 500 * time.Millisecond
	e := newOIDCEnv(t, testenv.ServerOptions{OIDCIssuers: []string{down.URL}, OIDCMinKeyRefresh: refresh})

	for range 3 {
		e.exchange(e.is.Sign(t, e.claims(), "rsa-1")).must(t, 201)
	}
	if n := e.is.JWKSFetches.Load(); n != 1 {
		t.Errorf("JWKS fetched %d times for 3 tokens, want 1 (cached)", n)
	}
	// Tokens naming unknown key ids do not make the server hammer the
	// issuer: at most one fetch per refresh interval.
	stranger := mustEC(t)
	for i := range 20 {
		r := e.exchange(testenv.SignJWT(t, jose.ES256, stranger, "unknown-"+string(rune('a'+i)), e.claims()))
		if r.status != 401 || r.errCode() != api.CodeOIDCTokenInvalid {
			t.Fatalf("unknown kid: %d %s", r.status, r.body)
		}
	}
	if n := e.is.JWKSFetches.Load(); n > 2 {
		t.Errorf("20 tokens with unknown kids fetched the JWKS %d times, want at most 1 more", n-1)
	}
	// Rotation: a new key is fetched when a token names it.
	time.Sleep(refresh)
	before := e.is.JWKSFetches.Load()
	e.is.AddKey(t, "rsa-2", jose.RS256)
	e.exchange(e.is.Sign(t, e.claims(), "rsa-2")).must(t, 201)
	if n := e.is.JWKSFetches.Load(); n != before+1 {
		t.Errorf("JWKS fetched %d times for the rotated key, want 1", n-before)
	}

	// The issuer's keys cannot be fetched: 503 with Retry-After.
	time.Sleep(refresh)
	e.is.SetDown(true)
	e.is.AddKey(t, "rsa-3", jose.RS256)
	r := e.exchange(e.is.Sign(t, e.claims(), "rsa-3"))
	if r.status != 503 || r.errCode() != api.CodeOIDCIssuerUnavailable || r.header.Get("Retry-After") == "" {
		t.Errorf("keys down: %d %s, want 503 OIDC_ISSUER_UNAVAILABLE", r.status, r.body)
	}
	// Known keys still verify while the issuer is down.
	e.exchange(e.is.Sign(t, e.claims(), "rsa-1")).must(t, 201)
	e.is.SetDown(false)
	e.exchange(e.is.Sign(t, e.claims(), "rsa-3")).must(t, 201)

	// An issuer whose discovery cannot be reached at all.
	c := e.claims()
	c["iss"] = down.URL
	r = e.exchange(testenv.SignJWT(t, jose.ES256, mustEC(t), "k", c))
	if r.status != 503 || r.errCode() != api.CodeOIDCIssuerUnavailable {
		t.Errorf("issuer down: %d %s, want 503 OIDC_ISSUER_UNAVAILABLE", r.status, r.body)
	}
}

func mustEC(t *testing.T) *ecdsa.PrivateKey {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// TestOIDCReplaySurvivesRestart: the jti memory is in the index, so a
// restarted server still refuses a replay.
func TestOIDCReplaySurvivesRestart(t *testing.T) {
	e := newOIDCEnv(t, testenv.ServerOptions{})
	tok := e.is.Sign(t, e.claims(), "")
	e.exchange(tok).must(t, 201)
	e.srv.Stop()
	srv := testenv.StartServer(t, testenv.ServerOptions{DataDir: e.srv.DataDir, OIDCIssuers: []string{e.is.URL}})
	r := newClient(t, srv, "").hostileClient().json("POST", "/auth/oidc", map[string]any{"token": tok})
	if r.status != 401 || r.errCode() != api.CodeOIDCTokenReplayed {
		t.Errorf("replay after restart: %d %s, want 401 OIDC_TOKEN_REPLAYED", r.status, r.body)
	}
}

// TestPublisherInput refuses publishers that would trust too much or
// cannot match.
func TestPublisherInput(t *testing.T) {
	srv := testenv.StartServer(t, testenv.ServerOptions{})
	admin := newClient(t, srv, srv.AdminToken)
	admin.json("POST", "/products", map[string]any{"name": "app"}).must(t, 201)
	ok := map[string]any{"issuer": "https://token.actions.githubusercontent.com", "audience": "reliquary",
		"claims": map[string]string{"repository": "org/app"}, "role": "publisher"}
	bad := func(change map[string]any) map[string]any {
		c := maps.Clone(ok)
		maps.Copy(c, change)
		return c
	}
	for name, in := range map[string]map[string]any{
		"no claims":        bad(map[string]any{"claims": map[string]string{}}),
		"only a glob":      bad(map[string]any{"claims": map[string]string{"repository": "*"}}),
		"reserved claim":   bad(map[string]any{"claims": map[string]string{"aud": "x"}}),
		"admin role":       bad(map[string]any{"role": "admin"}),
		"unknown role":     bad(map[string]any{"role": "root"}),
		"issuer not a URL": bad(map[string]any{"issuer": "github"}),
		"no audience":      bad(map[string]any{"audience": ""}),
		"bad constraint":   bad(map[string]any{"versions": ">>1"}),
	} {
		if r := admin.hostileClient().json("POST", "/products/app/publishers", in); r.status != 400 {
			t.Errorf("%s: %d %s, want 400", name, r.status, r.body)
		}
	}
	admin.json("POST", "/products/nope/publishers", ok).must(t, 404)
	admin.json("POST", "/products/app/publishers", ok).must(t, 201)
	scoped := map[string]any{"name": "appadmin", "role": "admin", "products": []string{"app"}}
	var tok struct{ Secret string }
	admin.json("POST", "/tokens", scoped).must(t, 201).decode(t, &tok)
	newClient(t, srv, tok.Secret).json("GET", "/products/app/publishers", nil).must(t, 200)
	admin.json("POST", "/products", map[string]any{"name": "other"}).must(t, 201)
	newClient(t, srv, tok.Secret).json("GET", "/products/other/publishers", nil).must(t, 403)
	_ = http.StatusOK
}

// TestOIDCProductChoice: when several products trust the same workflow,
// the exchange picks the most specific publisher, or the product asked for.
func TestOIDCProductChoice(t *testing.T) {
	e := newOIDCEnv(t, testenv.ServerOptions{})
	e.admin.json("POST", "/products/other/publishers", map[string]any{"issuer": e.issuer, "audience": "reliquary",
		"role": "deployer", "claims": map[string]string{"repository": "org/*"}}).must(t, 201)
	var got api.OIDCExchangeResponse
	e.exchange(e.is.Sign(t, e.claims(), "")).must(t, 201).decode(t, &got)
	if got.Product != "app" || got.Role != "publisher" {
		t.Errorf("no product asked: %+v, want app's publisher (more claims)", got)
	}
	e.anon.json("POST", "/auth/oidc", map[string]any{"token": e.is.Sign(t, e.claims(), ""), "product": "other"}).must(t, 201).decode(t, &got)
	if got.Product != "other" || got.Role != "deployer" {
		t.Errorf("product other asked: %+v", got)
	}
	e.admin.json("POST", "/products", map[string]any{"name": "third"}).must(t, 201)
	r := e.anon.hostileClient().json("POST", "/auth/oidc", map[string]any{"token": e.is.Sign(t, e.claims(), ""), "product": "third"})
	if r.status != 403 || r.errCode() != api.CodeNoTrustedPublisher {
		t.Errorf("product without publishers: %d %s", r.status, r.body)
	}
	r = e.anon.hostileClient().json("POST", "/auth/oidc", map[string]any{"token": e.is.Sign(t, e.claims(), ""), "product": "../x"})
	if r.status != 400 {
		t.Errorf("bad product name: %d %s", r.status, r.body)
	}
}
