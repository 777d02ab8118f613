package client

import (
	"context"
	"net/http"
	"net/url"
	"strconv"

	"github.com/reliquary/reliquary/api/wire"
)

// Healthz checks liveness (GET /api/v1/healthz).
func (c *Client) Healthz(ctx context.Context) error {
	return c.getJSON(ctx, "/healthz", nil, nil)
}

// Readyz checks readiness; a server that is not ready answers a *Error
// with Status 503 (after the retries).
func (c *Client) Readyz(ctx context.Context) (*Readiness, error) {
	var out Readiness
	return &out, c.getJSON(ctx, "/readyz", nil, &out)
}

// Metrics returns the server's Prometheus metrics (text exposition).
func (c *Client) Metrics(ctx context.Context) ([]byte, error) {
	return c.getBytes(ctx, "/metrics", "text/plain", 16<<20)
}

// CreateProduct creates a product (admin).
func (c *Client) CreateProduct(ctx context.Context, in ProductInput) (*Product, error) {
	var out Product
	return &out, c.sendJSON(ctx, http.MethodPost, "/products", in, &out)
}

// Products lists the products the token may see.
func (c *Client) Products(ctx context.Context) ([]Product, error) {
	var out wire.ProductList
	return out.Products, c.getJSON(ctx, "/products", nil, &out)
}

// Product returns one product.
func (c *Client) Product(ctx context.Context, name string) (*Product, error) {
	var out Product
	return &out, c.getJSON(ctx, "/products/"+seg(name), nil, &out)
}

// SetPolicy replaces a product's release policy (admin); fields left nil
// take the defaults. It returns the product with its new policy.
func (c *Client) SetPolicy(ctx context.Context, product string, in PolicyInput) (*Product, error) {
	var out Product
	return &out, c.sendJSON(ctx, http.MethodPut, "/products/"+seg(product)+"/policy", in, &out)
}

// CreateRelease creates a draft release (publisher). An existing version
// answers a *Error with Code "RELEASE_EXISTS".
func (c *Client) CreateRelease(ctx context.Context, product string, in ReleaseInput) (*Release, error) {
	var out Release
	return &out, c.sendJSON(ctx, http.MethodPost, "/products/"+seg(product)+"/releases", in, &out)
}

// Releases returns one page of a product's releases, newest first.
func (c *Client) Releases(ctx context.Context, product string, f ReleaseFilter) (*ReleasePage, error) {
	q := url.Values{}
	for k, v := range map[string]string{"state": f.State, "type": f.Type, "constraint": f.Constraint, "label": f.Label, "cursor": f.Cursor} {
		if v != "" {
			q.Set(k, v)
		}
	}
	if f.Limit > 0 {
		q.Set("limit", strconv.Itoa(f.Limit))
	}
	var out ReleasePage
	return &out, c.getJSON(ctx, "/products/"+seg(product)+"/releases", q, &out)
}

// AllReleases follows the pages of Releases until max releases (0: all).
func (c *Client) AllReleases(ctx context.Context, product string, f ReleaseFilter, max int) ([]Release, error) {
	var all []Release
	for {
		if max > 0 {
			f.Limit = min(max-len(all), 1000)
		}
		page, err := c.Releases(ctx, product, f)
		if err != nil {
			return nil, err
		}
		all = append(all, page.Releases...)
		if page.NextCursor == "" || (max > 0 && len(all) >= max) {
			return all, nil
		}
		f.Cursor = page.NextCursor
	}
}

// Release returns one release with its artifacts.
func (c *Client) Release(ctx context.Context, product, version string) (*Release, error) {
	var out Release
	return &out, c.getJSON(ctx, releasePath(product, version), nil, &out)
}

// Seal freezes a draft's artifacts and writes its signed manifest
// (publisher): draft → candidate.
func (c *Client) Seal(ctx context.Context, product, version, comment string) (*Release, error) {
	var out Release
	return &out, c.sendJSON(ctx, http.MethodPost, releasePath(product, version)+"/seal", wire.CommentInput{Comment: comment}, &out)
}

// Manifest returns the exact signed bytes of a sealed release's manifest.
func (c *Client) Manifest(ctx context.Context, product, version string) ([]byte, error) {
	return c.getBytes(ctx, releasePath(product, version)+"/manifest", "application/json", 16<<20)
}

// ManifestSignature returns the base64 signature of the manifest bytes.
func (c *Client) ManifestSignature(ctx context.Context, product, version string) (string, error) {
	b, err := c.getBytes(ctx, releasePath(product, version)+"/manifest/signature", "text/plain", 64<<10)
	return string(b), err
}

// ArtifactSignature returns the base64 signature of an artifact's bytes,
// as cosign verify-blob --signature reads it.
func (c *Client) ArtifactSignature(ctx context.Context, product, version, name string) (string, error) {
	b, err := c.getBytes(ctx, artifactPath(product, version, name)+"/signature", "text/plain", 64<<10)
	return string(b), err
}

// ArtifactBundle returns an artifact's Sigstore bundle (v0.3 JSON), which
// cosign verify-blob --bundle accepts.
func (c *Client) ArtifactBundle(ctx context.Context, product, version, name string) ([]byte, error) {
	return c.getBytes(ctx, artifactPath(product, version, name)+"/bundle", "application/json", 1<<20)
}

// Approve records the token holder's approval (release-manager).
func (c *Client) Approve(ctx context.Context, product, version, comment string) (*Release, error) {
	var out Release
	return &out, c.sendJSON(ctx, http.MethodPost, releasePath(product, version)+"/approvals", wire.CommentInput{Comment: comment}, &out)
}

// Promote releases an approved release (release-manager).
func (c *Client) Promote(ctx context.Context, product, version string, in PromoteInput) (*Release, error) {
	if in.To == "" {
		in.To = StateReleased
	}
	var out Release
	return &out, c.sendJSON(ctx, http.MethodPost, releasePath(product, version)+"/promote", in, &out)
}

// Withdraw backs a sealed release out (release-manager).
func (c *Client) Withdraw(ctx context.Context, product, version string, in WithdrawInput) (*Release, error) {
	var out Release
	return &out, c.sendJSON(ctx, http.MethodPost, releasePath(product, version)+"/withdraw", in, &out)
}

// Resolve returns the highest release matching q and its artifacts for the
// platform; nothing matching is a *Error with Code "NO_MATCH" (404).
func (c *Client) Resolve(ctx context.Context, product string, q ResolveQuery) (*Resolution, error) {
	v := url.Values{}
	for k, s := range map[string]string{"constraint": q.Constraint, "os": q.OS, "arch": q.Arch, "min_state": q.MinState,
		"target": q.Target, "environment": q.Environment} {
		if s != "" {
			v.Set(k, s)
		}
	}
	if q.Current {
		v.Set("current", "true")
	}
	var out Resolution
	return &out, c.getJSON(ctx, "/products/"+seg(product)+"/resolve", v, &out)
}

// CreateToken creates a token (admin); the answer's Secret is shown once.
func (c *Client) CreateToken(ctx context.Context, in TokenInput) (*Token, error) {
	var out Token
	err := c.sendJSON(ctx, http.MethodPost, "/tokens", in, &out)
	if out.Secret == "" {
		out.Secret = out.Token // the same secret, under its other name
	}
	return &out, err
}

// Tokens lists the tokens (admin), never their secrets.
func (c *Client) Tokens(ctx context.Context) ([]Token, error) {
	var out wire.TokenList
	return out.Tokens, c.getJSON(ctx, "/tokens", nil, &out)
}

// RevokeToken revokes a token by ID (admin).
func (c *Client) RevokeToken(ctx context.Context, id string) error {
	return c.doJSON(ctx, &request{method: http.MethodDelete, path: "/tokens/" + seg(id)}, nil)
}

// SigningKey returns the PEM public key that verifies new signatures.
func (c *Client) SigningKey(ctx context.Context) ([]byte, error) {
	return c.getBytes(ctx, "/signing/key", "application/x-pem-file", 64<<10)
}

// SigningKeys returns every trusted verification key, the current one
// marked (retired keys keep verifying old signatures).
func (c *Client) SigningKeys(ctx context.Context) ([]SigningKey, error) {
	var out wire.SigningKeys
	return out.Keys, c.getJSON(ctx, "/signing/keys", nil, &out)
}
