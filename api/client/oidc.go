package client

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/reliquary/reliquary/api/wire"
)

// CreatePublisher registers a trusted publisher on a product (admin).
func (c *Client) CreatePublisher(ctx context.Context, product string, in PublisherInput) (*Publisher, error) {
	var out Publisher
	return &out, c.sendJSON(ctx, http.MethodPost, "/products/"+seg(product)+"/publishers", in, &out)
}

// Publishers lists a product's trusted publishers (admin).
func (c *Client) Publishers(ctx context.Context, product string) ([]Publisher, error) {
	var out wire.PublisherList
	return out.Publishers, c.getJSON(ctx, "/products/"+seg(product)+"/publishers", nil, &out)
}

// DeletePublisher removes a trusted publisher (admin).
func (c *Client) DeletePublisher(ctx context.Context, product, id string) error {
	return c.doJSON(ctx, &request{method: http.MethodDelete, path: "/products/" + seg(product) + "/publishers/" + seg(id)}, nil)
}

// ExchangeOIDC trades a CI job's OIDC ID token for a product-scoped token.
// product ("" : any) chooses among products that trust the same workflow.
// The client's own token, if any, is not sent.
func (c *Client) ExchangeOIDC(ctx context.Context, idToken, product string) (*OIDCExchange, error) {
	anon := *c
	anon.token = ""
	var out OIDCExchange
	return &out, anon.sendJSON(ctx, http.MethodPost, "/auth/oidc", wire.OIDCExchangeRequest{Token: idToken, Product: product}, &out)
}

// WithToken returns a copy of the client that sends another token.
func (c *Client) WithToken(token string) *Client {
	cp := *c
	cp.token = token
	return &cp
}

// DefaultOIDCAudience is the audience requested from GitHub Actions when
// RELIQUARY_OIDC_AUDIENCE is not set.
const DefaultOIDCAudience = "reliquary"

// ErrNoIDToken: the environment holds no CI ID token.
var ErrNoIDToken = errors.New("no OIDC ID token in the environment: set RELIQUARY_ID_TOKEN (GitLab id_tokens:, any CI), " +
	"or run in GitHub Actions with permissions: id-token: write")

// IDTokenFromEnv finds the CI job's OIDC ID token: RELIQUARY_ID_TOKEN
// (GitLab's id_tokens:, any CI), else one requested from GitHub Actions
// (ACTIONS_ID_TOKEN_REQUEST_URL with ACTIONS_ID_TOKEN_REQUEST_TOKEN) for
// the audience RELIQUARY_OIDC_AUDIENCE (default "reliquary"). It returns
// the token and where it came from; ErrNoIDToken when there is none.
func IDTokenFromEnv(ctx context.Context, getenv func(string) string, hc *http.Client) (token, source string, err error) {
	if t := strings.TrimSpace(getenv("RELIQUARY_ID_TOKEN")); t != "" {
		return t, "RELIQUARY_ID_TOKEN", nil
	}
	reqURL, reqTok := getenv("ACTIONS_ID_TOKEN_REQUEST_URL"), getenv("ACTIONS_ID_TOKEN_REQUEST_TOKEN")
	if reqURL == "" || reqTok == "" {
		return "", "", ErrNoIDToken
	}
	aud := getenv("RELIQUARY_OIDC_AUDIENCE")
	if aud == "" {
		aud = DefaultOIDCAudience
	}
	u, err := url.Parse(reqURL)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return "", "", fmt.Errorf("ACTIONS_ID_TOKEN_REQUEST_URL is not a URL")
	}
	q := u.Query()
	q.Set("audience", aud)
	u.RawQuery = q.Encode()
	if hc == nil {
		hc = &http.Client{Timeout: 30 * time.Second}
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return "", "", err
	}
	req.Header.Set("Authorization", "bearer "+reqTok)
	req.Header.Set("Accept", "application/json")
	resp, err := hc.Do(req)
	if err != nil {
		return "", "", fmt.Errorf("request a GitHub Actions ID token: %w", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if err != nil {
		return "", "", fmt.Errorf("request a GitHub Actions ID token: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		return "", "", fmt.Errorf("request a GitHub Actions ID token: %s (does the job have permissions: id-token: write?)", resp.Status)
	}
	var out struct {
		Value string `json:"value"`
	}
	if err := json.Unmarshal(body, &out); err != nil || out.Value == "" {
		return "", "", errors.New("request a GitHub Actions ID token: the answer has no value")
	}
	return out.Value, "GitHub Actions (audience " + aud + ")", nil
}
