package ui_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"

	"github.com/reliquary/reliquary/internal/library"
	"github.com/reliquary/reliquary/internal/testenv"
)

// chromiumPath is Debian's Chromium, which `make tools` installs.
const chromiumPath = "/usr/bin/chromium"

// browser is a headless Chromium tab that records every request it makes
// and every console entry (CSP violations show up there).
type browser struct {
	t        *testing.T
	ctx      context.Context
	mu       sync.Mutex
	requests []string
	console  []string
}

func newBrowser(t *testing.T, width, height int) *browser {
	t.Helper()
	path := ""
	if _, err := os.Stat(chromiumPath); err == nil {
		path = chromiumPath
	}
	testenv.RequireTool(t, "Chromium", path, "apt-get install -y --no-install-recommends chromium (or make tools)")
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(path), chromedp.NoSandbox, chromedp.WindowSize(width, height),
		chromedp.Flag("disable-gpu", true), chromedp.Flag("disable-dev-shm-usage", true))
	actx, cancelA := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelC := chromedp.NewContext(actx)
	ctx, cancelT := context.WithTimeout(ctx, 3*time.Minute)
	t.Cleanup(func() { cancelT(); cancelC(); cancelA() })
	b := &browser{t: t, ctx: ctx}
	err := chromedp.Listen(ctx, func(ev any) {
		b.mu.Lock()
		defer b.mu.Unlock()
		switch ev := ev.(type) {
		case *network.EventRequestWillBeSent:
			b.requests = append(b.requests, ev.Request.URL)
		case *log.EventEntryAdded:
			b.console = append(b.console, string(ev.Entry.Level)+": "+ev.Entry.Text)
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := chromedp.Call(ctx, log.Enable, struct{}{}); err != nil {
		t.Fatal(err)
	}
	return b
}

func (b *browser) do(what string, actions ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 20*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, actions...); err != nil {
		b.t.Fatalf("%s: %v", what, err)
	}
}

func (b *browser) text(sel string) string {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 10*time.Second)
	defer cancel()
	s, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(sel)))
	if err != nil {
		b.t.Fatalf("text of %s: %v", sel, err)
	}
	return strings.Join(strings.Fields(s), " ")
}

func (b *browser) attr(sel, name string) string {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 10*time.Second)
	defer cancel()
	a, err := chromedp.Run(ctx, chromedp.AttributeValue(chromedp.CSS(sel), name))
	if err != nil {
		b.t.Fatalf("attribute %s of %s: %v", name, sel, err)
	}
	return a.Value
}

func (b *browser) location() string {
	b.t.Helper()
	l, err := chromedp.Run(b.ctx, chromedp.Location())
	if err != nil {
		b.t.Fatal(err)
	}
	return l
}

// screenshot saves the page as docs/screenshots/<name>.png when
// RELIQUARY_SCREENSHOTS=1 (`make screenshots`), so `make test` does not
// rewrite them.
func (b *browser) screenshot(name string) {
	b.t.Helper()
	if os.Getenv("RELIQUARY_SCREENSHOTS") != "1" {
		return
	}
	png, err := chromedp.Run(b.ctx, chromedp.FullScreenshot(100))
	if err != nil {
		b.t.Fatalf("screenshot %s: %v", name, err)
	}
	dir := filepath.Join("..", "..", "docs", "screenshots")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		b.t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, name+".png"), png, 0o644); err != nil {
		b.t.Fatal(err)
	}
}

// foreign lists the requests that left the server's origin.
func (b *browser) foreign(origin string) []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	var out []string
	for _, u := range b.requests {
		if !strings.HasPrefix(u, origin+"/") && !strings.HasPrefix(u, "data:") {
			out = append(out, u)
		}
	}
	return out
}

func (b *browser) cspViolations() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	var out []string
	for _, c := range b.console {
		if strings.Contains(c, "Content Security Policy") {
			out = append(out, c)
		}
	}
	return out
}

// login signs in with a token through the sign-in form.
func (b *browser) login(base, token string) {
	b.t.Helper()
	b.do("sign in",
		chromedp.Navigate(base+"/ui/"),
		chromedp.WaitVisible(chromedp.CSS(`form[data-action="login"]`)),
		chromedp.SendKeys(chromedp.CSS(`#token`), token),
		chromedp.Click(chromedp.CSS(`form[data-action="login"] button[type="submit"]`)),
		chromedp.WaitVisible(chromedp.CSS(`form[data-action="logout"]`)),
	)
}

// act fills and submits an action form on a release page, then confirms
// on the confirmation page, and waits for the release page again.
func (b *browser) act(action string, fields map[string]string) {
	b.t.Helper()
	form := fmt.Sprintf(`form[data-action=%q]`, action)
	steps := []chromedp.Action[chromedp.Void]{chromedp.WaitVisible(chromedp.CSS(form))}
	for name, v := range fields {
		if v == "" {
			continue // left empty
		}
		steps = append(steps, chromedp.SetValue(chromedp.CSS(form+` [name="`+name+`"]`), v))
	}
	steps = append(steps, chromedp.Click(chromedp.CSS(form+` button[type="submit"]`)),
		chromedp.WaitVisible(chromedp.CSS(fmt.Sprintf(`form.confirm[data-action=%q]`, action))))
	b.do(action+": form", steps...)
	b.do(action+": confirm",
		chromedp.Click(chromedp.CSS(`form.confirm button[type="submit"]`)),
		chromedp.WaitVisible(chromedp.CSS(`.flash`)))
}

// story is a library with a history: product hr with released 1.0.0 and
// 1.1.0, a draft 1.2.0 that alice made, deployments and a baseline.
type story struct {
	srv                  *testenv.Server
	alice, bob, deployer string // token secrets
}

func setup(t *testing.T, ttl time.Duration) *story {
	t.Helper()
	srv := testenv.StartServer(t, testenv.ServerOptions{UISessionTTL: ttl})
	ctx := context.Background()
	lib := srv.Lib
	admin, err := lib.Authenticate(srv.AdminToken)
	if err != nil {
		t.Fatal(err)
	}
	token := func(name, role string) (string, library.Principal) {
		_, secret, err := lib.CreateToken(ctx, admin, library.TokenInput{Name: name, Role: role})
		if err != nil {
			t.Fatal(err)
		}
		pr, err := lib.Authenticate(secret)
		if err != nil {
			t.Fatal(err)
		}
		return secret, pr
	}
	st := &story{srv: srv}
	var alice, bob, ci, dep library.Principal
	st.alice, alice = token("alice", "release-manager")
	st.bob, bob = token("bob", "release-manager")
	_, ci = token("ci", "publisher")
	st.deployer, dep = token("installer", "deployer")
	two := 2
	if _, err := lib.CreateProduct(ctx, admin, library.ProductInput{Name: "hr", Description: "Human resources suite", Owner: "hr-team", CIID: "CI-HR",
		Policy: &library.PolicyInput{SupportedMinors: &two}}); err != nil {
		t.Fatal(err)
	}
	if _, err := lib.CreateProduct(ctx, admin, library.ProductInput{Name: "payroll", Description: "Payroll engine"}); err != nil {
		t.Fatal(err)
	}
	publish := func(pr library.Principal, product, version string, seal bool) {
		t.Helper()
		if _, err := lib.CreateRelease(ctx, pr, product, library.ReleaseInput{Version: version, ChangeID: "CHG-" + version}); err != nil {
			t.Fatal(err)
		}
		for _, plat := range [][2]string{{"linux", "amd64"}, {"windows", "amd64"}} {
			body := []byte(product + " " + version + " for " + plat[0])
			if _, _, err := lib.Upload(ctx, pr, library.UploadInput{Product: product, Version: version, Name: product + "-" + plat[0] + ".tar.gz",
				OS: plat[0], Arch: plat[1], MediaType: "application/gzip", Size: int64(len(body)), Body: bytes.NewReader(body)}); err != nil {
				t.Fatal(err)
			}
		}
		if seal {
			if _, err := lib.Seal(ctx, pr, product, version, ""); err != nil {
				t.Fatal(err)
			}
		}
	}
	release := func(product, version string) {
		t.Helper()
		publish(ci, product, version, true)
		if _, err := lib.Approve(ctx, bob, product, version, "looks good"); err != nil {
			t.Fatal(err)
		}
		if _, err := lib.Promote(ctx, bob, product, version, library.PromoteInput{To: "released", ChangeID: "CHG-" + version}); err != nil {
			t.Fatal(err)
		}
	}
	release("hr", "1.0.0")
	release("payroll", "3.4.0")
	if _, err := lib.CreateBaseline(ctx, alice, library.BaselineInput{Name: "2026-q3", Description: "Production at the end of Q3", From: "current"}); err != nil {
		t.Fatal(err)
	}
	release("hr", "1.0.1")
	release("hr", "1.1.0")
	release("payroll", "3.5.0")
	if _, err := lib.CreateBaseline(ctx, alice, library.BaselineInput{Name: "2026-q4", Description: "Production at the end of Q4", From: "current"}); err != nil {
		t.Fatal(err)
	}
	for _, d := range []library.DeploymentInput{
		{Product: "hr", Version: "1.0.0", Environment: "production", Target: "web-1", Status: library.DeploySucceeded, ChangeID: "CHG-9"},
		{Product: "hr", Version: "1.1.0", Environment: "production", Target: "web-2", Status: library.DeploySucceeded, ChangeID: "CHG-10"},
		{Product: "payroll", Version: "3.5.0", Environment: "production", Target: "web-1", Status: library.DeploySucceeded, ChangeID: "CHG-11"},
	} {
		if _, err := lib.RecordDeployment(ctx, dep, d); err != nil {
			t.Fatal(err)
		}
	}
	publish(alice, "hr", "1.2.0", false) // alice will seal it in the browser
	publish(ci, "payroll", "3.6.0", true)
	return st
}

// TestReleaseManagerStory clicks through a release manager's day in a real
// Chromium: sign in, products, seal, a four-eyes refusal, sign out, a
// second manager signs in with a one-time link, approves, is refused a
// release without change id, releases, withdraws; baselines and their
// diff, an environment, the live event feed. No request leaves the
// server's origin and the CSP is never violated.
func TestReleaseManagerStory(t *testing.T) {
	st := setup(t, 0)
	base := st.srv.URL
	b := newBrowser(t, 1280, 800)

	// Signed out, /ui/ asks for a token.
	b.do("open", chromedp.Navigate(base+"/"), chromedp.WaitVisible(chromedp.CSS(`form[data-action="login"]`)))
	b.screenshot("login")
	b.login(base, st.alice)
	if !strings.HasSuffix(b.location(), "/ui/products") {
		t.Fatalf("after sign-in at %s, want /ui/products", b.location())
	}
	if got := b.attr(`.product [data-release="hr@1.1.0"]`, "data-state"); got != "released" {
		t.Errorf("products page: hr@1.1.0 state %q, want released (current)", got)
	}
	b.screenshot("products")

	// The product: its releases newest first and the picture of its lines.
	b.do("open hr", chromedp.Click(chromedp.CSS(`#p-hr a`)), chromedp.WaitVisible(chromedp.CSS(`svg.lines`)))
	if got := b.attr(`table.releases tbody tr`, "data-release"); got != "hr@1.2.0" {
		t.Errorf("first release row %q, want hr@1.2.0 (newest first)", got)
	}
	if got := b.attr(`tr[data-release="hr@1.0.0"]`, "data-state"); got != "released" {
		t.Errorf("hr@1.0.0 state %q", got)
	}
	if got := b.text(`tr[data-release="hr@1.0.0"]`); !strings.Contains(got, "superseded by 1.0.1") {
		t.Errorf("hr@1.0.0 row %q does not say it is superseded by 1.0.1", got)
	}
	if got := b.attr(`svg.lines a[data-point="hr@1.1.0"]`, "class"); got != "pt current" {
		t.Errorf("lines: 1.1.0 drawn as %q, want current", got)
	}
	b.screenshot("product")

	// Seal the draft alice made, through the confirmation.
	b.do("open 1.2.0", chromedp.Click(chromedp.CSS(`tr[data-release="hr@1.2.0"] a`)), chromedp.WaitVisible(chromedp.CSS(`form[data-action="seal"]`)))
	b.act("seal", map[string]string{"comment": "ready for review"})
	if got := b.attr(`header[data-release="hr@1.2.0"]`, "data-state"); got != "candidate" {
		t.Fatalf("after seal: state %q, want candidate", got)
	}
	if got := b.text(`.release-head .digest`); !strings.HasPrefix(got, "sha256:") && len(got) < 64 {
		t.Errorf("manifest digest shown as %q", got)
	}

	// Four-eyes: alice sealed it, so her approval is refused, readably.
	b.act("approve", map[string]string{"comment": "mine"})
	if code := b.attr(`.flash.refused`, "data-error-code"); code != "FOUR_EYES" {
		t.Fatalf("approve by the sealer: code %q, want FOUR_EYES", code)
	}
	if msg := b.text(`.flash.refused`); !strings.Contains(msg, "four-eyes") || !strings.Contains(msg, "alice") {
		t.Errorf("four-eyes refusal reads %q", msg)
	}
	if got := b.attr(`header[data-release="hr@1.2.0"]`, "data-state"); got != "candidate" {
		t.Fatalf("after the refusal: state %q, want candidate", got)
	}
	if got := b.text(`.may-approve`); !strings.Contains(got, "bob") || strings.Contains(got, "alice") {
		t.Errorf("who may still approve: %q, want bob and not alice", got)
	}
	b.screenshot("release-four-eyes")

	// Sign out; the pages are closed again.
	b.do("sign out", chromedp.Click(chromedp.CSS(`form[data-action="logout"] button`)), chromedp.WaitVisible(chromedp.CSS(`form[data-action="login"]`)))
	b.do("after sign-out", chromedp.Navigate(base+"/ui/approvals"), chromedp.WaitVisible(chromedp.CSS(`form[data-action="login"]`)))

	// Bob signs in with a one-time link (`reliquary ui-login`).
	link := ticket(t, base, st.bob)
	b.do("one-time link", chromedp.Navigate(link), chromedp.WaitReady(chromedp.CSS(`form[data-action="login"] input[name="ticket"]`)),
		chromedp.Click(chromedp.CSS(`form[data-action="login"] button`)), chromedp.WaitVisible(chromedp.CSS(`form[data-action="logout"]`)))
	if got := b.text(`.top .who span`); !strings.Contains(got, "bob") {
		t.Fatalf("signed in as %q, want bob", got)
	}
	b.do("reuse link", chromedp.Navigate(link), chromedp.WaitVisible(chromedp.CSS(`form[data-action="login"] button`)),
		chromedp.Click(chromedp.CSS(`form[data-action="login"] button`)), chromedp.WaitVisible(chromedp.CSS(`.flash.refused`)))
	if msg := b.text(`.flash.refused`); !strings.Contains(msg, "used or has expired") {
		t.Errorf("second use of a one-time link: %q", msg)
	}
	// The refused reuse did not touch bob's session.
	b.do("still bob", chromedp.Navigate(base+"/ui/products"), chromedp.WaitVisible(chromedp.CSS(`form[data-action="logout"]`)))

	// My approvals: hr@1.2.0 and payroll@3.6.0 wait for bob.
	b.do("approvals", chromedp.Click(chromedp.CSS(`a[href="/ui/approvals"]`)), chromedp.WaitVisible(chromedp.CSS(`#mine-h`)))
	if got := b.attr(`tr[data-release="hr@1.2.0"]`, "data-state"); got != "candidate" {
		t.Fatalf("approvals: hr@1.2.0 state %q", got)
	}
	b.screenshot("approvals")
	b.do("open from approvals", chromedp.Click(chromedp.CSS(`tr[data-release="hr@1.2.0"] a`)), chromedp.WaitVisible(chromedp.CSS(`form[data-action="approve"]`)))
	b.act("approve", map[string]string{"comment": "reviewed the diff"})
	if got := b.attr(`header[data-release="hr@1.2.0"]`, "data-state"); got != "approved" {
		t.Fatalf("after bob's approval: state %q, want approved", got)
	}

	// Promote without a change id: refused by policy, readably.
	b.act("promote", map[string]string{"change_id": ""})
	if code := b.attr(`.flash.refused`, "data-error-code"); code != "CHANGE_ID_REQUIRED" {
		t.Fatalf("promote without change id: code %q", code)
	}
	b.act("promote", map[string]string{"change_id": "CHG-42", "comment": "go"})
	if got := b.attr(`header[data-release="hr@1.2.0"]`, "data-state"); got != "released" {
		t.Fatalf("after promote: state %q, want released", got)
	}
	b.screenshot("release")

	// Withdraw it again: 1.1.0 is current again (the rollback path).
	b.act("withdraw", map[string]string{"reason": "login broken on Windows", "change_id": "CHG-43"})
	if got := b.attr(`header[data-release="hr@1.2.0"]`, "data-state"); got != "withdrawn" {
		t.Fatalf("after withdraw: state %q, want withdrawn", got)
	}
	if got := b.text(`.facts`); !strings.Contains(got, "login broken on Windows") {
		t.Errorf("withdrawal reason not shown: %q", got)
	}
	if got := b.text(`.timeline`); !strings.Contains(got, "released → withdrawn by bob") {
		t.Errorf("history: %q", got)
	}
	b.do("product again", chromedp.Navigate(base+"/ui/products/hr"), chromedp.WaitVisible(chromedp.CSS(`svg.lines`)))
	if got := b.attr(`svg.lines a[data-point="hr@1.1.0"]`, "class"); got != "pt current" {
		t.Errorf("after withdrawing 1.2.0, 1.1.0 drawn as %q, want current", got)
	}
	if got := b.attr(`svg.lines a[data-point="hr@1.2.0"]`, "class"); got != "pt withdrawn" {
		t.Errorf("1.2.0 drawn as %q, want withdrawn", got)
	}

	// Baselines and their side-by-side diff.
	b.do("baselines", chromedp.Click(chromedp.CSS(`a[href="/ui/baselines"]`)), chromedp.WaitVisible(chromedp.CSS(`#diff-a`)))
	b.screenshot("baselines")
	b.do("diff", chromedp.Click(chromedp.CSS(`form.filters button`)), chromedp.WaitVisible(chromedp.CSS(`table.diff`)))
	if got := b.attr(`tr[data-product="hr"]`, "data-change"); got != "upgraded" {
		t.Errorf("diff: hr %q, want upgraded", got)
	}
	if got := b.text(`tr[data-product="hr"]`); !strings.Contains(got, "1.0.0") || !strings.Contains(got, "1.1.0") {
		t.Errorf("diff row for hr: %q", got)
	}
	b.screenshot("baseline-diff")

	// The environment: targets × products, superseded flagged.
	b.do("environment", chromedp.Navigate(base+"/ui/products"), chromedp.Click(chromedp.CSS(`#p-hr ~ ul a[href="/ui/environments/production"], a[href="/ui/environments/production"]`)),
		chromedp.WaitVisible(chromedp.CSS(`table.env`)))
	if got := b.text(`table.env tbody tr:first-child`); !strings.Contains(got, "web-1") || !strings.Contains(got, "1.0.0") || !strings.Contains(got, "superseded") {
		t.Errorf("environment row web-1: %q, want 1.0.0 flagged superseded", got)
	}
	b.screenshot("environment")

	// The event feed, live: an event recorded after the page loaded shows up.
	b.do("events", chromedp.Click(chromedp.CSS(`a[href="/ui/events"]`)), chromedp.WaitVisible(chromedp.CSS(`#events tr`)))
	dep, err := st.srv.Lib.Authenticate(st.deployer)
	if err != nil {
		t.Fatal(err)
	}
	d, err := st.srv.Lib.RecordDeployment(context.Background(), dep, library.DeploymentInput{Product: "payroll", Version: "3.5.0",
		Environment: "staging", Target: "app-7", Status: library.DeploySucceeded, ChangeID: "CHG-77"})
	if err != nil {
		t.Fatal(err)
	}
	_ = d
	b.do("live event", chromedp.WaitVisible(chromedp.CSS(`#events tr.fresh`)))
	if got := b.text(`#events tr:first-child`); !strings.Contains(got, "deployment.recorded") {
		t.Errorf("newest event row %q, want the deployment just recorded", got)
	}
	b.screenshot("events")

	if f := b.foreign(base); len(f) > 0 {
		t.Errorf("requests to another origin: %v", f)
	}
	if v := b.cspViolations(); len(v) > 0 {
		t.Errorf("CSP violations: %v", v)
	}
}

// ticket asks for a one-time sign-in link as `reliquary ui-login` does.
func ticket(t *testing.T, base, secret string) string {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, base+"/ui/tickets", nil)
	req.Header.Set("Authorization", "Bearer "+secret)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out struct{ URL string }
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("POST /ui/tickets: %s", resp.Status)
	}
	if err := jsonDecode(resp, &out); err != nil || !strings.HasPrefix(out.URL, base+"/ui/login/ticket/") {
		t.Fatalf("ticket %q: %v", out.URL, err)
	}
	return out.URL
}

func jsonDecode(resp *http.Response, v any) error { return json.NewDecoder(resp.Body).Decode(v) }

// unlabelled counts visible form fields without a label (WCAG 1.3.1).
const unlabelled = `[...document.querySelectorAll('input:not([type=hidden]), select, textarea')].filter(e => !e.labels || e.labels.length === 0).length`

// overflow reports whether the page is wider than the window (a phone
// would have to scroll sideways).
const overflow = `document.documentElement.scrollWidth > window.innerWidth + 1`

// TestUIPhoneAndKeyboard signs in with the keyboard only at a phone's
// width (390×844), then opens every page: none is wider than the screen
// and every field has a label. With RELIQUARY_SCREENSHOTS=1 it saves the
// phone views too.
func TestUIPhoneAndKeyboard(t *testing.T) {
	st := setup(t, 0)
	base := st.srv.URL
	b := newBrowser(t, 390, 844)
	b.do("keyboard sign-in", chromedp.Navigate(base+"/ui/"), chromedp.WaitVisible(chromedp.CSS(`#token`)),
		// The field has focus (autofocus): type the token and press Enter.
		chromedp.SendKeys(chromedp.CSS(`#token`), st.bob+"\r"),
		chromedp.WaitVisible(chromedp.CSS(`form[data-action="logout"]`)))
	pages := []struct{ name, path string }{
		{"products", "/ui/products"},
		{"product", "/ui/products/hr"},
		{"release", "/ui/products/hr/releases/1.2.0"},
		{"approvals", "/ui/approvals"},
		{"baselines", "/ui/baselines"},
		{"baseline-diff", "/ui/baselines/2026-q3/diff/2026-q4"},
		{"environment", "/ui/environments/production"},
		{"events", "/ui/events"},
	}
	for _, p := range pages {
		b.do(p.name, chromedp.Navigate(base+p.path), chromedp.WaitVisible(chromedp.CSS(`main h1`)))
		n, err := chromedp.Run(b.ctx, chromedp.Evaluate[int](unlabelled))
		if err != nil {
			t.Fatal(err)
		}
		if n != 0 {
			t.Errorf("%s: %d form fields without a label", p.path, n)
		}
		wide, err := chromedp.Run(b.ctx, chromedp.Evaluate[bool](overflow))
		if err != nil {
			t.Fatal(err)
		}
		if wide {
			t.Errorf("%s is wider than a phone's screen", p.path)
		}
		if p.name == "products" || p.name == "release" {
			b.screenshot("phone-" + p.name)
		}
	}
	if v := b.cspViolations(); len(v) > 0 {
		t.Errorf("CSP violations: %v", v)
	}
}
