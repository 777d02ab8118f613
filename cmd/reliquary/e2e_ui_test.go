package main

import (
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/reliquary/reliquary/internal/testenv"
)

// TestUILoginLink: `reliquary ui-login` prints a one-time link; following
// it (and pressing Continue) signs the browser in as the token's holder,
// and the link does not work a second time. A bad token gets no link.
func TestUILoginLink(t *testing.T) {
	srv := testenv.StartServer(t, testenv.ServerOptions{})
	m := newMachine(t, srv.URL, srv.AdminToken)
	link := strings.TrimSpace(m.ok("ui-login").stdout)
	if !strings.HasPrefix(link, srv.URL+"/ui/login/ticket/") {
		t.Fatalf("ui-login printed %q", link)
	}
	jar, _ := cookiejar.New(nil)
	hc := &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	follow := func() (int, string, string) {
		t.Helper()
		resp, err := hc.Get(link)
		if err != nil {
			t.Fatal(err)
		}
		page, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		csrf := regexp.MustCompile(`name="csrf" value="([^"]+)"`).FindStringSubmatch(string(page))
		ticket := regexp.MustCompile(`name="ticket" value="([^"]+)"`).FindStringSubmatch(string(page))
		if csrf == nil || ticket == nil {
			t.Fatalf("the link's page has no sign-in form:\n%s", page)
		}
		resp, err = hc.PostForm(srv.URL+"/ui/login", url.Values{"csrf": {csrf[1]}, "ticket": {ticket[1]}})
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		return resp.StatusCode, resp.Header.Get("Location"), string(body)
	}
	if status, loc, body := follow(); status != http.StatusSeeOther || loc != "/ui/products" {
		t.Fatalf("following the link: %d %q\n%s", status, loc, body)
	}
	resp, err := hc.Get(srv.URL + "/ui/products")
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(page), `data-action="logout"`) {
		t.Fatalf("after the link: %d, not signed in", resp.StatusCode)
	}
	if status, _, body := follow(); status != http.StatusUnauthorized || !strings.Contains(body, "used or has expired") {
		t.Fatalf("second use of the link: %d", status)
	}
	bad := newMachine(t, srv.URL, "rlq_not-a-real-token-000000000000")
	if r := bad.run("ui-login"); r.code == 0 || strings.Contains(r.stdout, "/ui/login/ticket/") {
		t.Fatalf("ui-login with a bad token: %s", r)
	}
}
