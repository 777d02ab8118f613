// Package client is the Go client of the Reliquary HTTP API (/api/v1).
//
//	c := client.New("http://127.0.0.1:8080", os.Getenv("RELIQUARY_TOKEN"))
//	res, err := c.Resolve(ctx, "hr", client.ResolveQuery{Constraint: "^1"})
//	var e *client.Error
//	if errors.As(err, &e) && e.Code == wire.CodeNoMatch { ... }
//
// Every error the server answers is a *Error. Idempotent requests (GET,
// HEAD, and artifact uploads, which the server treats as idempotent: the
// same bytes again answer 200) are retried with exponential backoff on
// connection errors and on 502, 503 and 504; a 4xx is never retried.
// Downloads resume with Range where they were cut off.
package client

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/reliquary/reliquary/api/wire"
)

// APIPrefix is the versioned API root on the server.
const APIPrefix = "/api/v1"

// Client talks to one Reliquary server with one token. It is safe for
// concurrent use.
type Client struct {
	base    *url.URL // server root, without APIPrefix
	baseErr error
	token   string
	hc      *http.Client
	retries int
	backoff time.Duration
	ua      string
}

// Option configures a Client.
type Option func(*Client)

// WithHTTPClient sends requests through hc. When hc follows redirects with
// the default policy, the client still drops the Authorization header on a
// redirect to another host or port (a presigned S3 URL must not carry it).
func WithHTTPClient(hc *http.Client) Option { return func(c *Client) { c.hc = hc } }

// WithRetries sets how many times an idempotent request is retried after
// its first attempt (default 4; 0 disables retries).
func WithRetries(n int) Option { return func(c *Client) { c.retries = max(n, 0) } }

// WithBackoff sets the first retry delay; it doubles on each retry, with
// jitter, up to 10 s (default 250 ms).
func WithBackoff(d time.Duration) Option { return func(c *Client) { c.backoff = d } }

// WithUserAgent sets the User-Agent header.
func WithUserAgent(ua string) Option { return func(c *Client) { c.ua = ua } }

// New returns a client of the server at baseURL (e.g.
// "http://127.0.0.1:8080"; a trailing "/api/v1" is accepted) with a bearer
// token ("" for anonymous). An invalid baseURL is reported by every call.
func New(baseURL, token string, opts ...Option) *Client {
	c := &Client{token: token, retries: 4, backoff: 250 * time.Millisecond, ua: "reliquary-client"}
	u, err := url.Parse(strings.TrimSpace(baseURL))
	switch {
	case err != nil:
		c.baseErr = fmt.Errorf("reliquary client: server URL %q: %w", baseURL, err)
	case (u.Scheme != "http" && u.Scheme != "https") || u.Host == "":
		c.baseErr = fmt.Errorf("reliquary client: server URL %q must be http(s)://host[:port]", baseURL)
	default:
		u.Path = strings.TrimSuffix(strings.TrimSuffix(u.Path, "/"), APIPrefix)
		u.RawQuery, u.Fragment = "", ""
		c.base = u
	}
	for _, o := range opts {
		o(c)
	}
	hc := &http.Client{}
	if c.hc != nil {
		*hc = *c.hc // copy: never change the caller's client
	}
	if hc.CheckRedirect == nil {
		hc.CheckRedirect = stripAuthOnRedirect
	}
	c.hc = hc
	return c
}

// BaseURL returns the server root the client talks to.
func (c *Client) BaseURL() string {
	if c.base == nil {
		return ""
	}
	return c.base.String()
}

// stripAuthOnRedirect follows up to 10 redirects and drops Authorization
// when the target's host:port differs (Go only compares host names).
func stripAuthOnRedirect(req *http.Request, via []*http.Request) error {
	if len(via) >= 10 {
		return errors.New("stopped after 10 redirects")
	}
	if req.URL.Host != via[0].URL.Host {
		req.Header.Del("Authorization")
	}
	return nil
}

// Error is an error answered by the server: its status and the content of
// the error envelope {"error": {"code", "message", "details"}}.
type Error struct {
	Status    int
	Code      string
	Message   string
	Details   map[string]any
	RequestID string
}

func (e *Error) Error() string {
	msg := e.Message
	if msg == "" {
		msg = http.StatusText(e.Status)
	}
	if e.Code == "" {
		return fmt.Sprintf("%s (HTTP %d)", msg, e.Status)
	}
	return fmt.Sprintf("%s: %s (HTTP %d)", e.Code, msg, e.Status)
}

// IsNotFound reports whether err is a 404 from the server.
func IsNotFound(err error) bool {
	var e *Error
	return errors.As(err, &e) && e.Status == http.StatusNotFound
}

// HasCode reports whether err is a server error with the code.
func HasCode(err error, code string) bool {
	var e *Error
	return errors.As(err, &e) && e.Code == code
}

// request describes one API call. body, when set, makes the body of each
// attempt; it returns the reader and its length (-1 unknown).
type request struct {
	method    string
	path      string // below APIPrefix, with escaped segments
	query     url.Values
	header    http.Header
	body      func() (io.Reader, int64, error)
	retryable bool
	// retryCodes are error codes that are retried like a 503 (the server
	// says "later"); retryCodesAfterFailure only after an attempt that
	// failed (an upload cut off mid-way may hold the server's upload lock a
	// moment longer).
	retryCodes, retryCodesAfterFailure []string
	// ok lists the statuses that are success (default: any 2xx).
	ok []int
}

func jsonBody(v any) func() (io.Reader, int64, error) {
	return func() (io.Reader, int64, error) {
		b, err := json.Marshal(v)
		if err != nil {
			return nil, 0, err
		}
		return bytes.NewReader(b), int64(len(b)), nil
	}
}

func (c *Client) url(r *request) (string, error) {
	if c.baseErr != nil {
		return "", c.baseErr
	}
	u := *c.base
	escaped := strings.TrimSuffix(c.base.EscapedPath(), "/") + APIPrefix + r.path
	p, err := url.PathUnescape(escaped)
	if err != nil {
		return "", err
	}
	u.Path, u.RawPath = p, escaped
	s := u.String()
	if len(r.query) > 0 {
		s += "?" + r.query.Encode()
	}
	return s, nil
}

// do sends r with retries and returns the successful response, whose body
// the caller closes. Any other answer becomes a *Error.
func (c *Client) do(ctx context.Context, r *request) (*http.Response, error) {
	target, err := c.url(r)
	if err != nil {
		return nil, err
	}
	for attempt := 0; ; attempt++ {
		resp, err := c.once(ctx, r, target)
		last := !r.retryable || attempt >= c.retries
		if err == nil {
			if okStatus(r.ok, resp.StatusCode) {
				return resp, nil
			}
			apiErr := decodeError(resp)
			again := retryableStatus(resp.StatusCode) || slices.Contains(r.retryCodes, apiErr.Code) ||
				(attempt > 0 && slices.Contains(r.retryCodesAfterFailure, apiErr.Code))
			if last || !again {
				return nil, apiErr
			}
			if werr := c.wait(ctx, attempt, resp.Header.Get("Retry-After")); werr != nil {
				return nil, errors.Join(apiErr, werr)
			}
			continue
		}
		if ctx.Err() != nil || last || !transient(err) {
			return nil, err
		}
		if werr := c.wait(ctx, attempt, ""); werr != nil {
			return nil, errors.Join(err, werr)
		}
	}
}

func (c *Client) once(ctx context.Context, r *request, target string) (*http.Response, error) {
	var body io.Reader = http.NoBody
	size := int64(0)
	if r.body != nil {
		b, n, err := r.body()
		if err != nil {
			return nil, &permanentError{err}
		}
		body, size = b, n
	}
	req, err := http.NewRequestWithContext(ctx, r.method, target, body)
	if err != nil {
		return nil, &permanentError{err}
	}
	if r.body != nil {
		req.ContentLength = size
		if size == 0 {
			req.Body = http.NoBody
		}
	}
	for k, vs := range r.header {
		req.Header[k] = vs
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	if req.Header.Get("Accept") == "" {
		req.Header.Set("Accept", "application/json")
	}
	req.Header.Set("User-Agent", c.ua)
	resp, err := c.hc.Do(req)
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", r.method, req.URL.Redacted(), err)
	}
	return resp, nil
}

// permanentError is a failure before anything was sent: never retried.
type permanentError struct{ err error }

func (e *permanentError) Error() string { return e.err.Error() }
func (e *permanentError) Unwrap() error { return e.err }

func transient(err error) bool {
	var pe *permanentError
	return !errors.As(err, &pe) && !errors.Is(err, context.Canceled) && !errors.Is(err, context.DeadlineExceeded)
}

func okStatus(ok []int, status int) bool {
	if len(ok) == 0 {
		return status >= 200 && status < 300
	}
	for _, s := range ok {
		if s == status {
			return true
		}
	}
	return false
}

func retryableStatus(status int) bool {
	return status == http.StatusBadGateway || status == http.StatusServiceUnavailable || status == http.StatusGatewayTimeout
}

// wait sleeps before retry attempt+1: backoff·2^attempt with ±25% jitter,
// or the server's Retry-After (seconds) when longer, at most 10 s.
func (c *Client) wait(ctx context.Context, attempt int, retryAfter string) error {
	d := c.backoff << min(attempt, 10)
	d = d*3/4 + time.Duration(rand.Int64N(int64(d)/2+1))
	if s, err := strconv.Atoi(retryAfter); err == nil && time.Duration(s)*time.Second > d {
		d = time.Duration(s) * time.Second
	}
	d = min(d, 10*time.Second)
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// decodeError reads the error envelope of a failed response and closes it.
func decodeError(resp *http.Response) *Error {
	defer resp.Body.Close()
	e := &Error{Status: resp.StatusCode, RequestID: resp.Header.Get("X-Request-ID")}
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	var env wire.ErrorBody
	if json.Unmarshal(b, &env) == nil && env.Error.Code != "" {
		e.Code, e.Message, e.Details = env.Error.Code, env.Error.Message, env.Error.Details
	} else if t := strings.TrimSpace(string(b)); t != "" && len(t) < 512 {
		e.Message = t
	}
	return e
}

// getJSON GETs path and decodes the answer into out.
func (c *Client) getJSON(ctx context.Context, path string, q url.Values, out any) error {
	return c.doJSON(ctx, &request{method: http.MethodGet, path: path, query: q, retryable: true}, out)
}

// sendJSON sends in as the JSON body (nil: no body) and decodes into out.
func (c *Client) sendJSON(ctx context.Context, method, path string, in, out any) error {
	r := &request{method: method, path: path}
	if in != nil {
		r.body = jsonBody(in)
		r.header = http.Header{"Content-Type": {"application/json"}}
	}
	return c.doJSON(ctx, r, out)
}

func (c *Client) doJSON(ctx context.Context, r *request, out any) error {
	resp, err := c.do(ctx, r)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if out == nil {
		_, _ = io.Copy(io.Discard, resp.Body)
		return nil
	}
	if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
		return fmt.Errorf("%s %s: decode answer: %w", r.method, r.path, err)
	}
	return nil
}

// getBytes GETs path and returns the body (at most limit bytes).
func (c *Client) getBytes(ctx context.Context, path string, accept string, limit int64) ([]byte, error) {
	resp, err := c.do(ctx, &request{method: http.MethodGet, path: path, retryable: true,
		header: http.Header{"Accept": {accept}}})
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, limit+1))
	if err != nil {
		return nil, fmt.Errorf("GET %s: %w", path, err)
	}
	if int64(len(b)) > limit {
		return nil, fmt.Errorf("GET %s: answer larger than %d bytes", path, limit)
	}
	return b, nil
}

// seg escapes one path segment.
func seg(s string) string { return url.PathEscape(s) }

func releasePath(product, version string) string {
	return "/products/" + seg(product) + "/releases/" + seg(version)
}

func artifactPath(product, version, name string) string {
	return releasePath(product, version) + "/artifacts/" + seg(name)
}
