// Package oidc verifies the OIDC ID tokens CI jobs present for trusted
// publishing (DESIGN §11): issuer among the configured ones, signature by
// a key of the issuer's JWKS (found by discovery, cached, refreshed when a
// token names a key id it does not know: key rotation), aud present, exp,
// nbf and iat sane, jti and sub present. Matching the identity against
// trusted publishers and replay protection are the library's.
package oidc

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	gooidc "github.com/coreos/go-oidc/v3/oidc"
	jose "github.com/go-jose/go-jose/v4"
)

// Errors of verification, tested with errors.Is.
var (
	// ErrInvalidToken: the ID token is malformed, badly signed, expired,
	// not yet valid or lacks a required claim.
	ErrInvalidToken = errors.New("invalid ID token")
	// ErrUntrustedIssuer: the token's issuer is not configured (--oidc-issuer).
	ErrUntrustedIssuer = errors.New("ID token issuer is not trusted")
	// ErrIssuerUnavailable: the issuer's discovery document or keys could
	// not be fetched; the caller may retry.
	ErrIssuerUnavailable = errors.New("ID token issuer unavailable")
)

// Bounds.
const (
	// MaxTokenBytes is the largest ID token looked at (GitHub's and
	// GitLab's are 1–3 KiB).
	MaxTokenBytes = 16 << 10
	// MaxLifetime refuses ID tokens that claim to live longer (exp - iat):
	// their jti would have to be remembered that long.
	MaxLifetime = 24 * time.Hour
	// ClockSkew is tolerated on iat and nbf.
	ClockSkew = 5 * time.Minute
	// fetchTimeout bounds discovery and JWKS requests.
	fetchTimeout = 10 * time.Second
	// discoveryBackoff is how long a failed discovery is not retried.
	discoveryBackoff = 2 * time.Second
)

// signingAlgs are the accepted signature algorithms: asymmetric only, so
// "none" and HMAC-signed tokens never parse.
var signingAlgs = []jose.SignatureAlgorithm{jose.RS256, jose.RS384, jose.RS512, jose.PS256, jose.PS384, jose.PS512,
	jose.ES256, jose.ES384, jose.ES512, jose.EdDSA}

// Config configures a Verifier.
type Config struct {
	// Issuers are the accepted iss values, exactly as the tokens carry them.
	Issuers []string
	// AllowHTTPIssuer accepts http:// issuers on loopback addresses
	// (tests with a local issuer only).
	AllowHTTPIssuer bool
	// Client fetches discovery documents and keys (default: 10 s timeout).
	Client *http.Client
	// Now is the clock (default time.Now).
	Now func() time.Time
	// MinKeyRefresh is the least time between two fetches of an issuer's
	// keys (0: DefaultMinKeyRefresh; negative: no limit, for tests).
	MinKeyRefresh time.Duration
}

// DefaultMinKeyRefresh is how often, at most, an issuer's keys are fetched
// again for tokens naming a key id not seen yet.
const DefaultMinKeyRefresh = 5 * time.Second

// Identity is a verified ID token.
type Identity struct {
	Issuer   string
	Subject  string
	Audience []string
	JTI      string
	IssuedAt time.Time
	Expiry   time.Time
	Claims   map[string]any
}

// Verifier verifies ID tokens of the configured issuers.
type Verifier struct {
	issuers    []string
	client     *http.Client
	now        func() time.Time
	minRefresh time.Duration

	mu        sync.Mutex
	providers map[string]*issuer
	// failed remembers a failed discovery for discoveryBackoff, so tokens
	// naming an issuer that is down do not each cause a request to it.
	failed map[string]time.Time
}

// issuer is one issuer's verifier (with its cached key set) and the
// health of its last key fetch.
type issuer struct {
	verifier *gooidc.IDTokenVerifier
	health   *health
}

// health records whether the last request to an issuer failed, and
// keeps its last successful answers so that tokens naming unknown key ids
// cannot make the server fetch the issuer's keys more than once per
// minRefresh (go-oidc refetches the JWKS for every unknown kid).
type health struct {
	failed     atomic.Bool
	minRefresh time.Duration

	mu   sync.Mutex
	last map[string]cachedAnswer
}

type cachedAnswer struct {
	at     time.Time
	status int
	header http.Header
	body   []byte
}

// maxAnswer bounds a discovery document or key set read from an issuer.
const maxAnswer = 1 << 20

type healthTransport struct {
	base http.RoundTripper
	h    *health
}

func (t healthTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	key := r.Method + " " + r.URL.String()
	if r.Method == http.MethodGet && t.h.minRefresh > 0 {
		t.h.mu.Lock()
		a, ok := t.h.last[key]
		t.h.mu.Unlock()
		if ok && time.Since(a.at) < t.h.minRefresh {
			return a.response(r), nil
		}
	}
	resp, err := t.base.RoundTrip(r)
	t.h.failed.Store(err != nil || resp.StatusCode >= 500)
	if err != nil || r.Method != http.MethodGet || resp.StatusCode != http.StatusOK || t.h.minRefresh <= 0 {
		return resp, err
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxAnswer+1))
	resp.Body.Close()
	if err != nil || len(body) > maxAnswer {
		t.h.failed.Store(true)
		if err == nil {
			err = fmt.Errorf("answer of %s is larger than %d bytes", r.URL.Redacted(), maxAnswer)
		}
		return nil, err
	}
	a := cachedAnswer{at: time.Now(), status: resp.StatusCode, header: resp.Header.Clone(), body: body}
	t.h.mu.Lock()
	if t.h.last == nil {
		t.h.last = map[string]cachedAnswer{}
	}
	t.h.last[key] = a
	t.h.mu.Unlock()
	return a.response(r), nil
}

func (a cachedAnswer) response(r *http.Request) *http.Response {
	return &http.Response{Status: http.StatusText(a.status), StatusCode: a.status, Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
		Header: a.header.Clone(), Body: io.NopCloser(bytes.NewReader(a.body)), ContentLength: int64(len(a.body)), Request: r}
}

// ValidateIssuer checks one --oidc-issuer value.
func ValidateIssuer(raw string, allowHTTP bool) error {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" || u.User != nil || u.RawQuery != "" || u.Fragment != "" {
		return fmt.Errorf("OIDC issuer %q must be an absolute https URL", raw)
	}
	switch u.Scheme {
	case "https":
		return nil
	case "http":
		if !allowHTTP {
			return fmt.Errorf("OIDC issuer %q is plain http: only https issuers are accepted (--oidc-allow-http-issuer is for local test issuers)", raw)
		}
		host := u.Hostname()
		if ip := net.ParseIP(host); host != "localhost" && (ip == nil || !ip.IsLoopback()) {
			return fmt.Errorf("OIDC issuer %q: --oidc-allow-http-issuer accepts plain http on loopback addresses only", raw)
		}
		return nil
	}
	return fmt.Errorf("OIDC issuer %q must be an https URL", raw)
}

// New validates the configuration. No issuer is contacted until a token
// names it.
func New(cfg Config) (*Verifier, error) {
	for _, is := range cfg.Issuers {
		if err := ValidateIssuer(is, cfg.AllowHTTPIssuer); err != nil {
			return nil, err
		}
	}
	v := &Verifier{issuers: slices.Clone(cfg.Issuers), client: cfg.Client, now: cfg.Now, providers: map[string]*issuer{}, failed: map[string]time.Time{}}
	if v.client == nil {
		v.client = &http.Client{Timeout: fetchTimeout}
	}
	if v.now == nil {
		v.now = time.Now
	}
	switch v.minRefresh = cfg.MinKeyRefresh; {
	case v.minRefresh == 0:
		v.minRefresh = DefaultMinKeyRefresh
	case v.minRefresh < 0:
		v.minRefresh = 0
	}
	return v, nil
}

// Issuers lists the trusted issuers.
func (v *Verifier) Issuers() []string { return slices.Clone(v.issuers) }

func invalid(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrInvalidToken, fmt.Sprintf(format, args...))
}

// provider returns the issuer's verifier, running discovery the first
// time (a failed discovery is not cached: the next token retries it).
func (v *Verifier) provider(ctx context.Context, iss string) (*issuer, error) {
	v.mu.Lock()
	p, ok := v.providers[iss]
	failedAt, failed := v.failed[iss]
	v.mu.Unlock()
	if ok {
		return p, nil
	}
	if failed && time.Since(failedAt) < discoveryBackoff {
		return nil, fmt.Errorf("%w: discovery of %s failed moments ago; retry later", ErrIssuerUnavailable, iss)
	}
	h := &health{minRefresh: v.minRefresh}
	base := v.client.Transport
	if base == nil {
		base = http.DefaultTransport
	}
	client := *v.client
	client.Transport = healthTransport{base: base, h: h}
	client.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	cctx := gooidc.ClientContext(context.WithoutCancel(ctx), &client)
	dctx, cancel := context.WithTimeout(cctx, fetchTimeout)
	defer cancel()
	prov, err := gooidc.NewProvider(dctx, iss)
	if err != nil {
		v.mu.Lock()
		v.failed[iss] = time.Now()
		v.mu.Unlock()
		return nil, fmt.Errorf("%w: discovery of %s failed: %v", ErrIssuerUnavailable, iss, err)
	}
	algs := make([]string, len(signingAlgs))
	for i, a := range signingAlgs {
		algs[i] = string(a)
	}
	p = &issuer{health: h, verifier: prov.VerifierContext(cctx, &gooidc.Config{
		SkipClientIDCheck:    true, // each trusted publisher names its audience; checked when matching
		SupportedSigningAlgs: algs,
		Now:                  v.now,
	})}
	v.mu.Lock()
	if old, ok := v.providers[iss]; ok {
		p = old
	} else {
		v.providers[iss] = p
	}
	v.mu.Unlock()
	return p, nil
}

// Verify checks an ID token and returns its identity.
func (v *Verifier) Verify(ctx context.Context, raw string) (*Identity, error) {
	if len(raw) > MaxTokenBytes {
		return nil, invalid("the ID token is longer than %d bytes", MaxTokenBytes)
	}
	jws, err := jose.ParseSigned(raw, signingAlgs)
	if err != nil {
		return nil, invalid("not a JWS-signed JWT with an asymmetric algorithm (%v)", err)
	}
	if len(jws.Signatures) != 1 {
		return nil, invalid("the ID token must carry exactly one signature")
	}
	var unverified struct {
		Issuer string `json:"iss"`
	}
	if err := json.Unmarshal(jws.UnsafePayloadWithoutVerification(), &unverified); err != nil {
		return nil, invalid("the ID token's payload is not a JSON object")
	}
	if !slices.Contains(v.issuers, unverified.Issuer) {
		return nil, fmt.Errorf("%w: %q is not among the server's --oidc-issuer values", ErrUntrustedIssuer, clip(unverified.Issuer))
	}
	p, err := v.provider(ctx, unverified.Issuer)
	if err != nil {
		return nil, err
	}
	vctx, cancel := context.WithTimeout(ctx, fetchTimeout)
	defer cancel()
	tok, err := p.verifier.Verify(vctx, raw)
	if err != nil {
		var expired *gooidc.TokenExpiredError
		switch {
		case errors.As(err, &expired):
			return nil, invalid("the ID token expired at %s", expired.Expiry.UTC().Format(time.RFC3339))
		case p.health.failed.Load():
			return nil, fmt.Errorf("%w: fetching the keys of %s failed", ErrIssuerUnavailable, unverified.Issuer)
		}
		return nil, invalid("%v", err)
	}
	var claims map[string]any
	if err := tok.Claims(&claims); err != nil {
		return nil, invalid("claims: %v", err)
	}
	id := &Identity{Issuer: tok.Issuer, Subject: tok.Subject, Audience: tok.Audience, IssuedAt: tok.IssuedAt,
		Expiry: tok.Expiry, Claims: claims}
	id.JTI, _ = claims["jti"].(string)
	now := v.now()
	switch {
	case id.Subject == "":
		return nil, invalid("the ID token has no sub claim")
	case id.JTI == "" || len(id.JTI) > 256:
		return nil, invalid("the ID token needs a jti claim of at most 256 characters")
	case len(id.Audience) == 0:
		return nil, invalid("the ID token has no aud claim")
	case id.IssuedAt.IsZero():
		return nil, invalid("the ID token has no iat claim")
	case id.IssuedAt.After(now.Add(ClockSkew)):
		return nil, invalid("the ID token was issued in the future (iat %s)", id.IssuedAt.UTC().Format(time.RFC3339))
	case id.Expiry.Sub(id.IssuedAt) > MaxLifetime:
		return nil, invalid("the ID token lives longer than %s (exp - iat)", MaxLifetime)
	}
	return id, nil
}

func clip(s string) string {
	if len(s) > 128 {
		return s[:128] + "…"
	}
	return s
}
