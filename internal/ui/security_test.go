package ui_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/reliquary/reliquary/internal/library"
	"github.com/reliquary/reliquary/internal/testenv"
	"github.com/reliquary/reliquary/internal/ui"
)

// formClient is a browser without a browser: a cookie jar and forms.
type formClient struct {
	t    *testing.T
	base string
	hc   *http.Client
}

func newFormClient(t *testing.T, base string) *formClient {
	jar, _ := cookiejar.New(nil)
	return &formClient{t: t, base: base, hc: &http.Client{Jar: jar, Timeout: 30 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

var csrfRe = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

func (c *formClient) get(path string) (int, string, string) {
	c.t.Helper()
	resp, err := c.hc.Get(c.base + path)
	if err != nil {
		c.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header.Get("Location"), string(b)
}

func (c *formClient) post(path string, form url.Values, header http.Header) (int, string, string) {
	c.t.Helper()
	req, _ := http.NewRequest(http.MethodPost, c.base+path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	for k, v := range header {
		req.Header[k] = v
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header.Get("Location"), string(b)
}

func csrfOf(t *testing.T, page string) string {
	t.Helper()
	m := csrfRe.FindStringSubmatch(page)
	if m == nil {
		t.Fatalf("no CSRF field in page:\n%s", page)
	}
	return m[1]
}

func (c *formClient) login(secret string) {
	c.t.Helper()
	_, _, page := c.get("/ui/login")
	status, loc, body := c.post("/ui/login", url.Values{"csrf": {csrfOf(c.t, page)}, "token": {secret}}, nil)
	if status != http.StatusSeeOther || loc != "/ui/products" {
		c.t.Fatalf("sign-in: %d %q\n%s", status, loc, body)
	}
}

func releaseState(t *testing.T, st *story, p, v string) library.State {
	t.Helper()
	r, err := st.srv.Lib.Release(context.Background(), p, v)
	if err != nil {
		t.Fatal(err)
	}
	return r.State
}

// TestUICSRF proves that an action needs the session's CSRF token and a
// same-origin form: a forged POST without a token, with a wrong one, or
// from another origin in a real browser is refused and changes nothing;
// the same POST with the page's token goes through.
func TestUICSRF(t *testing.T) {
	st := setup(t, 0)
	c := newFormClient(t, st.srv.URL)

	// The sign-in form itself needs its token.
	if status, _, body := c.post("/ui/login", url.Values{"token": {st.bob}}, nil); status != http.StatusForbidden || !strings.Contains(body, "CSRF_REJECTED") {
		t.Fatalf("sign-in without CSRF token: %d", status)
	}
	c.login(st.bob)
	action := "/ui/products/payroll/releases/3.6.0/approve"
	for name, form := range map[string]url.Values{
		"no token":    {"confirm": {"yes"}},
		"wrong token": {"confirm": {"yes"}, "csrf": {"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"}},
	} {
		status, _, body := c.post(action, form, nil)
		if status != http.StatusForbidden || !strings.Contains(body, `data-error-code="CSRF_REJECTED"`) {
			t.Errorf("%s: %d, want 403 CSRF_REJECTED", name, status)
		}
	}
	_, _, page := c.get("/ui/products/payroll/releases/3.6.0")
	token := csrfOf(t, page)
	if status, _, _ := c.post(action, url.Values{"confirm": {"yes"}, "csrf": {token}}, http.Header{"Origin": {"http://evil.example"}}); status != http.StatusForbidden {
		t.Errorf("right token from another origin: %d, want 403", status)
	}
	if got := releaseState(t, st, "payroll", "3.6.0"); got != library.StateCandidate {
		t.Fatalf("after forged posts the release is %s, want candidate", got)
	}

	// A real browser, signed in, lured to a page on another origin whose
	// form posts to the UI: refused, nothing changes.
	evil := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		fmt.Fprintf(w, `<!doctype html><form method="post" action="%s%s"><input type="hidden" name="confirm" value="yes">`+
			`<input type="hidden" name="csrf" value="%s"><button id="go">win a prize</button></form>`, st.srv.URL, action, "guessed")
	}))
	defer evil.Close()
	b := newBrowser(t, 1280, 800)
	b.login(st.srv.URL, st.bob)
	b.do("lured", chromedp.Navigate(evil.URL), chromedp.Click(chromedp.ID("go")), chromedp.WaitVisible(chromedp.CSS(`[data-error-code]`)))
	if code := b.attr(`[data-error-code]`, "data-error-code"); code != "CSRF_REJECTED" {
		t.Errorf("cross-site form: %q, want CSRF_REJECTED", code)
	}
	if got := releaseState(t, st, "payroll", "3.6.0"); got != library.StateCandidate {
		t.Fatalf("after the cross-site post the release is %s, want candidate", got)
	}

	// The same form with the page's own token works: the refusals above
	// were the CSRF checks, not something else.
	if status, loc, body := c.post(action, url.Values{"confirm": {"yes"}, "csrf": {token}}, nil); status != http.StatusSeeOther || !strings.HasSuffix(loc, "/releases/3.6.0") {
		t.Fatalf("genuine post: %d %q\n%s", status, loc, body)
	}
	if got := releaseState(t, st, "payroll", "3.6.0"); got != library.StateApproved {
		t.Fatalf("after the genuine post the release is %s, want approved", got)
	}
}

// TestUISessionExpiry: a session unused for its lifetime ends; the browser
// is sent to the sign-in page with a readable message and its next action
// is refused.
func TestUISessionExpiry(t *testing.T) {
	st := setup(t, 2*time.Second)
	b := newBrowser(t, 1280, 800)
	b.login(st.srv.URL, st.bob)
	b.do("approvals", chromedp.Navigate(st.srv.URL+"/ui/products/payroll/releases/3.6.0"), chromedp.WaitVisible(chromedp.CSS(`form[data-action="approve"]`)))
	time.Sleep(2500 * time.Millisecond)
	b.do("approve after expiry", chromedp.Click(chromedp.CSS(`form[data-action="approve"] button`)), chromedp.WaitVisible(chromedp.CSS(`[data-error-code]`)))
	if code := b.attr(`[data-error-code]`, "data-error-code"); code != "UNAUTHENTICATED" {
		t.Errorf("action after expiry: %q, want UNAUTHENTICATED", code)
	}
	b.do("page after expiry", chromedp.Navigate(st.srv.URL+"/ui/approvals"), chromedp.WaitVisible(chromedp.CSS(`form[data-action="login"]`)))
	if msg := b.text(`.flash.refused`); !strings.Contains(msg, "expired") {
		t.Errorf("sign-in page after expiry says %q", msg)
	}
	if got := releaseState(t, st, "payroll", "3.6.0"); got != library.StateCandidate {
		t.Fatalf("release %s after an expired session's action, want candidate", got)
	}
	// Signing in again continues where the manager was.
	b.do("sign in again", chromedp.SendKeys(chromedp.CSS(`#token`), st.bob), chromedp.Click(chromedp.CSS(`form[data-action="login"] button`)),
		chromedp.WaitVisible(chromedp.CSS(`#mine-h`)))
}

// TestUILogout: after signing out, the old session cookie opens nothing.
func TestUILogout(t *testing.T) {
	st := setup(t, 0)
	c := newFormClient(t, st.srv.URL)
	c.login(st.alice)
	status, _, page := c.get("/ui/approvals")
	if status != http.StatusOK {
		t.Fatalf("approvals: %d", status)
	}
	u, _ := url.Parse(st.srv.URL + "/ui/")
	old := c.hc.Jar.Cookies(u)
	if status, loc, _ := c.post("/ui/logout", url.Values{"csrf": {csrfOf(t, page)}}, nil); status != http.StatusSeeOther || loc != "/ui/login" {
		t.Fatalf("logout: %d %q", status, loc)
	}
	replay := newFormClient(t, st.srv.URL)
	replay.hc.Jar.SetCookies(u, old)
	if status, loc, _ := replay.get("/ui/approvals"); status != http.StatusSeeOther || !strings.HasPrefix(loc, "/ui/login") {
		t.Fatalf("old cookie after logout: %d %q, want a redirect to sign in", status, loc)
	}
}

// TestUINoMoreThanAPI: the UI refuses what the API refuses. A publisher
// sees no approve form and a forged approve is refused with the API's
// role message; a token scoped to payroll cannot open hr.
func TestUINoMoreThanAPI(t *testing.T) {
	st := setup(t, 0)
	ctx := context.Background()
	admin, _ := st.srv.Lib.Authenticate(st.srv.AdminToken)
	_, pub, err := st.srv.Lib.CreateToken(ctx, admin, library.TokenInput{Name: "pat", Role: "publisher"})
	if err != nil {
		t.Fatal(err)
	}
	_, scoped, err := st.srv.Lib.CreateToken(ctx, admin, library.TokenInput{Name: "sam", Role: "release-manager", Products: []string{"payroll"}})
	if err != nil {
		t.Fatal(err)
	}
	c := newFormClient(t, st.srv.URL)
	c.login(pub)
	_, _, page := c.get("/ui/products/payroll/releases/3.6.0")
	if strings.Contains(page, `data-action="approve"`) {
		t.Error("a publisher is shown the approve form")
	}
	status, _, _ := c.post("/ui/products/payroll/releases/3.6.0/approve", url.Values{"confirm": {"yes"}, "csrf": {csrfOf(t, page)}}, nil)
	_, _, after := c.get("/ui/products/payroll/releases/3.6.0")
	if status != http.StatusSeeOther || !strings.Contains(after, `data-error-code="FORBIDDEN"`) || !strings.Contains(after, "needs release-manager") {
		t.Errorf("publisher approve: %d; page does not show the role refusal", status)
	}
	if got := releaseState(t, st, "payroll", "3.6.0"); got != library.StateCandidate {
		t.Fatalf("publisher's forged approve changed the release to %s", got)
	}

	s := newFormClient(t, st.srv.URL)
	s.login(scoped)
	if status, _, _ := s.get("/ui/products/hr"); status != http.StatusForbidden {
		t.Errorf("scoped token opens hr: %d, want 403", status)
	}
	if _, _, body := s.get("/ui/products"); strings.Contains(body, `id="p-hr"`) || !strings.Contains(body, `id="p-payroll"`) {
		t.Error("scoped token's products page lists hr or misses payroll")
	}
	if _, _, body := s.get("/ui/baselines"); strings.Contains(body, "2026-q3") {
		t.Error("a baseline with a member outside the scope is shown")
	}
}

// TestUIHostileInput: bad names, versions, cursors, filters and oversized
// forms get a clear 4xx page with a code, never a 500, and change nothing.
func TestUIHostileInput(t *testing.T) {
	st := setup(t, 0)
	c := newFormClient(t, st.srv.URL)
	c.login(st.bob)
	for _, path := range []string{
		"/ui/products/NOT..valid",
		"/ui/products/nope",
		"/ui/products/hr/releases/v1",
		"/ui/products/hr/releases/9.9.9",
		"/ui/products/hr?cursor=banana",
		"/ui/products/hr?state=bogus",
		"/ui/products/hr?type=bogus",
		"/ui/products/hr?constraint=%3E%3E%3E",
		"/ui/products/hr?label=nocolon",
		"/ui/products/hr?state=released&cursor=x.y",
		"/ui/baselines/nope/diff/2026-q4",
		"/ui/baselines/" + strings.Repeat("a", 300) + "/diff/x",
		"/ui/environments/" + url.PathEscape("bad env!"),
		"/ui/environments/nowhere",
		"/ui/events/feed?after=18446744073709551616",
		"/ui/events/feed?after=-1",
		"/ui/no-such-page",
	} {
		status, _, body := c.get(path)
		if status < 400 || status >= 500 {
			t.Errorf("GET %s: %d, want a 4xx", path, status)
		}
		if !strings.Contains(body, `data-error-code="`) && !strings.Contains(body, `"code":`) {
			t.Errorf("GET %s: the answer names no error code:\n%.300s", path, body)
		}
	}
	_, _, page := c.get("/ui/products/payroll/releases/3.6.0")
	token := csrfOf(t, page)
	for name, form := range map[string]url.Values{
		"huge form":       {"csrf": {token}, "confirm": {"yes"}, "comment": {strings.Repeat("x", 100<<10)}},
		"long comment":    {"csrf": {token}, "confirm": {"yes"}, "comment": {strings.Repeat("x", 5000)}},
		"control comment": {"csrf": {token}, "confirm": {"yes"}, "comment": {"a\x00b"}},
	} {
		status, _, _ := c.post("/ui/products/payroll/releases/3.6.0/approve", form, nil)
		if status >= 500 {
			t.Errorf("%s: %d", name, status)
		}
	}
	for _, path := range []string{"/ui/products/payroll/releases/3.6.0/explode", "/ui/products/BAD..name/releases/1.0.0/approve", "/ui/products/payroll/releases/v1/approve"} {
		status, _, _ := c.post(path, url.Values{"csrf": {token}, "confirm": {"yes"}}, nil)
		if status < 400 || status >= 500 {
			t.Errorf("POST %s: %d, want a 4xx", path, status)
		}
	}
	if got := releaseState(t, st, "payroll", "3.6.0"); got != library.StateCandidate {
		t.Fatalf("hostile posts changed payroll@3.6.0 to %s", got)
	}
}

var rowRe = regexp.MustCompile(`<tr data-release="big@([^"]+)" data-state="([^"]+)">`)
var nextRe = regexp.MustCompile(`<a rel="next" href="([^"]+)">`)

// TestUIFilteredPaging: a filtered release list pages newest first through
// every match, each page looking at a bounded window of the index, with no
// release twice and none left out; the plain list pages by the cursor.
func TestUIFilteredPaging(t *testing.T) {
	srv := testenv.StartServer(t, testenv.ServerOptions{})
	versions := populateBig(t, srv, 2500)
	c := newFormClient(t, srv.URL)
	c.login(srv.AdminToken)
	collect := func(path string) (got []string, pages int) {
		for path != "" {
			status, _, body := c.get(path)
			if status != http.StatusOK {
				t.Fatalf("GET %s: %d", path, status)
			}
			pages++
			for _, m := range rowRe.FindAllStringSubmatch(body, -1) {
				got = append(got, m[1]+" "+m[2])
			}
			path = ""
			if m := nextRe.FindStringSubmatch(body); m != nil {
				path = strings.ReplaceAll(m[1], "&amp;", "&")
			}
		}
		return got, pages
	}
	var want []string
	for i := len(versions) - 1; i >= 0; i-- {
		if i%50 == 49 && i < len(versions)-20 {
			want = append(want, versions[i]+" withdrawn")
		}
	}
	got, pages := collect("/ui/products/big?state=withdrawn")
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Fatalf("withdrawn releases over %d pages:\n got %v\nwant %v", pages, got, want)
	}
	if pages < 3 {
		t.Errorf("%d pages for 2,500 releases: the filter did not stop at its scan window", pages)
	}
	all, pages := collect("/ui/products/big")
	if len(all) != len(versions) || pages != len(versions)/50 {
		t.Fatalf("plain list: %d releases in %d pages, want %d in %d", len(all), pages, len(versions), len(versions)/50)
	}
	if all[0] != versions[len(versions)-1]+" candidate" {
		t.Errorf("first row %q, want the newest candidate", all[0])
	}
}

// TestUICookies: the session cookie is HttpOnly and SameSite=Strict, and
// Secure when the UI is served over TLS; every page carries the CSP
// without unsafe-inline.
func TestUICookies(t *testing.T) {
	st := setup(t, 0)
	h := ui.New(ui.Config{Library: st.srv.Lib, Journal: st.srv.Index, Notifier: st.srv.Notifier,
		Permission: func(string, string) library.Role { return library.RoleReader }})
	for _, tlsOn := range []bool{false, true} {
		var ts *httptest.Server
		if tlsOn {
			ts = httptest.NewTLSServer(h)
		} else {
			ts = httptest.NewServer(h)
		}
		c := newFormClient(t, ts.URL)
		c.hc.Transport = ts.Client().Transport
		_, _, page := c.get("/ui/login")
		req, _ := http.NewRequest(http.MethodPost, ts.URL+"/ui/login", strings.NewReader(url.Values{"csrf": {csrfOf(t, page)}, "token": {st.bob}}.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		u, _ := url.Parse(ts.URL + "/ui/")
		for _, ck := range c.hc.Jar.Cookies(u) {
			req.AddCookie(ck)
		}
		resp, err := c.hc.Transport.RoundTrip(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		var session *http.Cookie
		for _, ck := range resp.Cookies() {
			if ck.Name == "reliquary_session" && ck.Value != "" {
				session = ck
			}
		}
		if session == nil {
			t.Fatalf("tls=%v: no session cookie (status %d)", tlsOn, resp.StatusCode)
		}
		if !session.HttpOnly || session.SameSite != http.SameSiteStrictMode || session.Secure != tlsOn || session.Path != "/ui/" {
			t.Errorf("tls=%v: session cookie %+v", tlsOn, session)
		}
		if csp := resp.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'self'") || strings.Contains(csp, "unsafe-inline") {
			t.Errorf("CSP %q", csp)
		}
		ts.Close()
	}
}
