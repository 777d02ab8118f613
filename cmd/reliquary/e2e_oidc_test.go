package main

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/reliquary/reliquary/api/client"
	"github.com/reliquary/reliquary/internal/testenv"
)

// TestE2EPushWithOnlyAnIDToken runs the built binary as a CI job would,
// with no RELIQUARY_TOKEN: first with a GitLab-style RELIQUARY_ID_TOKEN,
// then on a GitHub Actions runner whose token service the test serves
// (ACTIONS_ID_TOKEN_REQUEST_URL/_TOKEN, audience from
// RELIQUARY_OIDC_AUDIENCE or "reliquary"), then with login --oidc.
func TestE2EPushWithOnlyAnIDToken(t *testing.T) {
	is := testenv.StartOIDCIssuer(t)
	srv := testenv.StartServer(t, testenv.ServerOptions{OIDCIssuers: []string{is.URL}})
	ctx := context.Background()
	admin := client.New(srv.URL, srv.AdminToken)
	for _, p := range []string{"app", "other"} {
		if _, err := admin.CreateProduct(ctx, client.ProductInput{Name: p}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := admin.CreatePublisher(ctx, "app", client.PublisherInput{Issuer: is.URL, Audience: "reliquary", Role: "publisher",
		Claims: map[string]string{"repository": "org/app", "ref": "refs/tags/v*"}}); err != nil {
		t.Fatal(err)
	}

	t.Run("RELIQUARY_ID_TOKEN", func(t *testing.T) {
		m := newMachine(t, srv.URL, "")
		randomFile(t, m.home, "app.tar.gz", 4096)
		m.env = []string{"RELIQUARY_ID_TOKEN=" + is.Sign(t, is.Claims("reliquary", "org/app", "refs/tags/v1.0.0"), "ec-1")}
		r := m.ok("push", "app@1.0.0", "app.tar.gz", "--seal")
		if !strings.Contains(r.stderr, "exchanged the ID token from RELIQUARY_ID_TOKEN") {
			t.Errorf("stderr does not say the ID token was exchanged: %s", r)
		}
		rel, err := admin.Release(ctx, "app", "1.0.0")
		if err != nil {
			t.Fatal(err)
		}
		if rel.State != "candidate" || rel.CreatedBy != "oidc:repo:org/app:ref:refs/tags/v1.0.0" || len(rel.Artifacts) != 1 {
			t.Errorf("release %+v, want a candidate created by the workflow", rel)
		}
		// The same ID token again is a replay; a token for a branch build matches no publisher.
		if r := m.expect(exitFailure, "push", "app@1.0.1", "app.tar.gz"); !strings.Contains(r.stderr, "OIDC_TOKEN_REPLAYED") {
			t.Errorf("replayed ID token: %s", r)
		}
		m.env = []string{"RELIQUARY_ID_TOKEN=" + is.Sign(t, is.Claims("reliquary", "org/app", "refs/heads/main"), "")}
		if r := m.expect(exitFailure, "push", "app@1.0.1", "app.tar.gz"); !strings.Contains(r.stderr, "NO_TRUSTED_PUBLISHER") {
			t.Errorf("branch build: %s", r)
		}
		// The minted token is scoped to app.
		m.env = []string{"RELIQUARY_ID_TOKEN=" + is.Sign(t, is.Claims("reliquary", "org/app", "refs/tags/v1.0.1"), "")}
		m.expect(exitFailure, "push", "other@1.0.0", "app.tar.gz")
	})

	// A GitHub Actions token service: it checks the request token and
	// mints an ID token for the audience asked for.
	const reqToken = "gh-request-token"
	var mu sync.Mutex
	var asked []string
	audiences := func() []string { mu.Lock(); defer mu.Unlock(); return append([]string(nil), asked...) }
	gh := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "bearer "+reqToken || r.URL.Query().Get("api-version") != "2.0" {
			http.Error(w, "unauthorized", http.StatusUnauthorized)
			return
		}
		aud := r.URL.Query().Get("audience")
		mu.Lock()
		asked = append(asked, aud)
		mu.Unlock()
		_ = json.NewEncoder(w).Encode(map[string]string{"value": is.Sign(t, is.Claims(aud, "org/app", "refs/tags/v1.1.0"), "rsa-1")})
	}))
	t.Cleanup(gh.Close)
	ghEnv := []string{"GITHUB_ACTIONS=true", "ACTIONS_ID_TOKEN_REQUEST_URL=" + gh.URL + "/token?api-version=2.0", "ACTIONS_ID_TOKEN_REQUEST_TOKEN=" + reqToken}

	t.Run("GitHub Actions", func(t *testing.T) {
		m := newMachine(t, srv.URL, "")
		randomFile(t, m.home, "app.zip", 1024)
		m.env = ghEnv
		m.ok("push", "app@1.1.0", "app.zip")
		if a := audiences(); len(a) != 1 || a[0] != "reliquary" {
			t.Errorf("audiences asked %v, want [reliquary]", a)
		}
		// Another audience than the publisher's matches nothing.
		m.env = append(append([]string{}, ghEnv...), "RELIQUARY_OIDC_AUDIENCE=elsewhere")
		if r := m.expect(exitFailure, "push", "app@1.1.1", "app.zip"); !strings.Contains(r.stderr, "NO_TRUSTED_PUBLISHER") {
			t.Errorf("other audience: %s", r)
		}
		if a := audiences(); a[len(a)-1] != "elsewhere" {
			t.Errorf("audience asked %q, want RELIQUARY_OIDC_AUDIENCE", a[len(a)-1])
		}
		// A wrong request token: the runner's token service refuses.
		m.env = []string{"ACTIONS_ID_TOKEN_REQUEST_URL=" + gh.URL + "/token?api-version=2.0", "ACTIONS_ID_TOKEN_REQUEST_TOKEN=nope"}
		if r := m.expect(exitFailure, "push", "app@1.1.1", "app.zip"); !strings.Contains(r.stderr, "id-token: write") {
			t.Errorf("refused request token: %s", r)
		}
	})

	t.Run("login --oidc", func(t *testing.T) {
		m := newMachine(t, srv.URL, "")
		m.env = []string{"RELIQUARY_ID_TOKEN=" + is.Sign(t, is.Claims("reliquary", "org/app", "refs/tags/v1.2.0"), "")}
		tok := strings.TrimSpace(m.ok("login", "--oidc").stdout)
		if !strings.HasPrefix(tok, "rlq_") {
			t.Fatalf("login --oidc printed %q", tok)
		}
		m2 := newMachine(t, srv.URL, tok)
		randomFile(t, m2.home, "app.bin", 10)
		m2.ok("push", "app@1.2.0", "app.bin")

		m.env = []string{"RELIQUARY_ID_TOKEN=" + is.Sign(t, is.Claims("reliquary", "org/app", "refs/tags/v1.3.0"), "")}
		envFile := filepath.Join(m.home, "github_env")
		if out := m.ok("login", "--oidc", "--write-env", envFile).stdout; out != "" {
			t.Errorf("--write-env printed %q", out)
		}
		b, err := os.ReadFile(envFile)
		if err != nil || !strings.HasPrefix(string(b), "RELIQUARY_TOKEN=rlq_") {
			t.Errorf("env file %q %v", b, err)
		}
		m.expect(exitUsage, "login")
	})
}
