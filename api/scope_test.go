package api_test

import (
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/reliquary/reliquary/internal/testenv"
)

// feedSubjects lists the (type, subject) of every event of a page.
func feedSubjects(p eventPage) []string {
	var out []string
	for _, e := range p.Events {
		out = append(out, e.Type+" "+e.Subject)
	}
	return out
}

// A product-scoped token sees, on /events and /audit, only the events of its
// products (and of baselines wholly inside them); token and webhook events
// only reach unscoped admins; the backup needs an unscoped admin.
func TestScopeOfFeedAuditAndBackup(t *testing.T) {
	e := newCMDBEnv(t, "alpha", "beta")
	e.released("alpha", "1.0.0", nil)
	e.released("beta", "1.0.0", nil)
	e.rm.json("POST", "/baselines", map[string]any{"name": "both", "change_id": "CHG-1",
		"releases": []map[string]string{{"product": "alpha", "version": "1.0.0"}, {"product": "beta", "version": "1.0.0"}}}).must(t, 201)
	e.rm.json("POST", "/baselines", map[string]any{"name": "only-alpha", "change_id": "CHG-2",
		"releases": []map[string]string{{"product": "alpha", "version": "1.0.0"}}}).must(t, 201)
	e.admin.json("POST", "/webhooks", map[string]any{"url": "https://hooks.example.com/x"}).must(t, 201)

	scopedAdmin := e.token("alpha-admin", "admin", "alpha")
	scopedReader := e.token("alpha-reader", "reader", "alpha")
	for _, c := range []struct {
		label string
		cl    *client
		paths []string
	}{
		{"scoped admin", scopedAdmin, []string{"/events?limit=1000", "/audit?limit=1000"}},
		{"scoped reader", scopedReader, []string{"/events?limit=1000"}},
	} {
		for _, path := range c.paths {
			var page eventPage
			c.cl.json("GET", path, nil).must(t, 200).decode(t, &page)
			got := feedSubjects(page)
			for _, s := range got {
				ok := strings.HasPrefix(s, "product.created alpha") || strings.Contains(s, " alpha@") || s == "baseline.created only-alpha"
				if !ok {
					t.Errorf("%s GET %s shows %q", c.label, path, s)
				}
			}
			if !slices.Contains(got, "baseline.created only-alpha") || !slices.Contains(got, "release.released alpha@1.0.0") {
				t.Errorf("%s GET %s lacks its own events: %v", c.label, path, got)
			}
		}
	}
	// An unscoped reader sees every product, but no token or webhook event.
	var page eventPage
	e.reader.json("GET", "/events?limit=1000", nil).must(t, 200).decode(t, &page)
	for _, s := range feedSubjects(page) {
		if strings.HasPrefix(s, "token.") || strings.HasPrefix(s, "webhook.") {
			t.Errorf("unscoped reader sees %q", s)
		}
	}
	if got := feedSubjects(page); !slices.Contains(got, "release.released beta@1.0.0") || !slices.Contains(got, "baseline.created both") {
		t.Errorf("unscoped reader lacks events: %v", got)
	}
	// The unscoped admin sees them all.
	e.admin.json("GET", "/events?limit=1000", nil).must(t, 200).decode(t, &page)
	if got := feedSubjects(page); !slices.ContainsFunc(got, func(s string) bool { return strings.HasPrefix(s, "token.created") }) ||
		!slices.ContainsFunc(got, func(s string) bool { return strings.HasPrefix(s, "webhook.created") }) {
		t.Errorf("unscoped admin lacks token and webhook events: %v", got)
	}

	if r := scopedAdmin.do("GET", "/admin/backup", nil); r.status != 403 || r.errCode() != "FORBIDDEN" {
		t.Errorf("scoped admin backup: %d %s", r.status, r.body)
	}
	e.admin.do("GET", "/admin/backup", nil).must(t, 200)
}

// A baseline with a member outside the token's scope is hidden: 404 on
// get, manifest, signature and diff, left out of the list.
func TestScopeHidesBaselines(t *testing.T) {
	e := newCMDBEnv(t, "alpha", "beta")
	e.released("alpha", "1.0.0", nil)
	e.released("beta", "1.0.0", nil)
	e.rm.json("POST", "/baselines", map[string]any{"name": "both", "change_id": "CHG-1",
		"releases": []map[string]string{{"product": "alpha", "version": "1.0.0"}, {"product": "beta", "version": "1.0.0"}}}).must(t, 201)
	e.rm.json("POST", "/baselines", map[string]any{"name": "only-alpha", "change_id": "CHG-2",
		"releases": []map[string]string{{"product": "alpha", "version": "1.0.0"}}}).must(t, 201)
	scoped := e.token("alpha-reader", "reader", "alpha")
	for _, path := range []string{"/baselines/both", "/baselines/both/manifest", "/baselines/both/manifest/signature",
		"/baselines/both/diff/only-alpha", "/baselines/only-alpha/diff/both"} {
		if r := scoped.do("GET", path, nil); r.status != 404 || r.errCode() != "BASELINE_NOT_FOUND" {
			t.Errorf("scoped GET %s: %d %s", path, r.status, r.body)
		}
		e.reader.do("GET", path, nil).must(t, 200)
	}
	for _, path := range []string{"/baselines/only-alpha", "/baselines/only-alpha/manifest", "/baselines/only-alpha/diff/only-alpha"} {
		scoped.do("GET", path, nil).must(t, 200)
	}
	var list struct{ Baselines []struct{ Name string } }
	scoped.json("GET", "/baselines", nil).must(t, 200).decode(t, &list)
	if len(list.Baselines) != 1 || list.Baselines[0].Name != "only-alpha" {
		t.Errorf("scoped list: %+v", list.Baselines)
	}
	e.reader.json("GET", "/baselines", nil).must(t, 200).decode(t, &list)
	if len(list.Baselines) != 2 {
		t.Errorf("unscoped list: %+v", list.Baselines)
	}
}

// A scoped admin's webhook receives only its products' events; it lists
// and deletes only its own webhooks.
func TestScopeOfWebhooks(t *testing.T) {
	srv := testenv.StartServer(t, testenv.ServerOptions{Workers: true})
	admin := newClient(t, srv, srv.AdminToken)
	for _, p := range []string{"alpha", "beta"} {
		admin.json("POST", "/products", map[string]any{"name": p}).must(t, 201)
	}
	var tok struct{ Secret string }
	admin.json("POST", "/tokens", map[string]any{"name": "alpha-admin", "role": "admin", "products": []string{"alpha"}}).must(t, 201).decode(t, &tok)
	scoped := newClient(t, srv, tok.Secret)

	rcScoped := &receiver{secret: "scoped-hook-secret-0123456789"}
	rcGlobal := &receiver{secret: "global-hook-secret-0123456789"}
	hs, hg := httptest.NewServer(rcScoped), httptest.NewServer(rcGlobal)
	defer hs.Close()
	defer hg.Close()
	var own, global struct{ ID string }
	scoped.json("POST", "/webhooks", map[string]any{"url": hs.URL + "/in", "secret": rcScoped.secret}).must(t, 201).decode(t, &own)
	admin.json("POST", "/webhooks", map[string]any{"url": hg.URL + "/in", "secret": rcGlobal.secret}).must(t, 201).decode(t, &global)

	pub := func(p, v string) {
		admin.json("POST", "/products/"+p+"/releases", map[string]any{"version": v}).must(t, 201)
	}
	pub("beta", "1.0.0")
	pub("alpha", "1.0.0")
	admin.json("POST", "/tokens", map[string]any{"name": "other", "role": "reader"}).must(t, 201)
	pub("beta", "2.0.0")
	pub("alpha", "2.0.0")

	var all eventPage
	admin.json("GET", "/audit?limit=1000", nil).must(t, 200).decode(t, &all)
	var wantScoped, wantGlobal []uint64
	for _, ev := range all.Events {
		if ev.Seq <= all.Events[0].Seq || ev.Type == "webhook.created" {
			continue
		}
		if strings.HasPrefix(ev.Subject, "alpha@") {
			wantScoped = append(wantScoped, ev.Seq)
		}
	}
	var globalFrom uint64
	for _, ev := range all.Events {
		if ev.Type == "webhook.created" && ev.Subject == global.ID {
			globalFrom = ev.Seq
		}
	}
	for _, ev := range all.Events {
		if ev.Seq >= globalFrom { // a hook receives its own creation event
			wantGlobal = append(wantGlobal, ev.Seq)
		}
	}
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) && (len(rcScoped.seqs()) < len(wantScoped) || len(rcGlobal.seqs()) < len(wantGlobal)) {
		time.Sleep(50 * time.Millisecond)
	}
	time.Sleep(300 * time.Millisecond) // anything extra would arrive now
	if got := rcScoped.seqs(); !slices.Equal(got, wantScoped) {
		t.Errorf("scoped admin's hook received %v, want only alpha's %v", got, wantScoped)
	}
	if got := rcGlobal.seqs(); !slices.Equal(got, wantGlobal) {
		t.Errorf("unscoped admin's hook received %v, want %v", got, wantGlobal)
	}

	var list struct{ Webhooks []struct{ ID string } }
	scoped.json("GET", "/webhooks", nil).must(t, 200).decode(t, &list)
	if len(list.Webhooks) != 1 || list.Webhooks[0].ID != own.ID {
		t.Errorf("scoped admin lists %+v, want only %s", list.Webhooks, own.ID)
	}
	admin.json("GET", "/webhooks", nil).must(t, 200).decode(t, &list)
	if len(list.Webhooks) != 2 {
		t.Errorf("unscoped admin lists %+v", list.Webhooks)
	}
	for _, path := range []string{"/webhooks/" + global.ID + "/deliveries"} {
		if r := scoped.do("GET", path, nil); r.status != 404 {
			t.Errorf("scoped GET %s: %d", path, r.status)
		}
	}
	if r := scoped.do("DELETE", "/webhooks/"+global.ID, nil); r.status != 404 || r.errCode() != "WEBHOOK_NOT_FOUND" {
		t.Errorf("scoped admin deleting another's hook: %d %s", r.status, r.body)
	}
	admin.json("GET", "/webhooks", nil).must(t, 200).decode(t, &list)
	if len(list.Webhooks) != 2 {
		t.Errorf("the global hook is gone: %+v", list.Webhooks)
	}
	scoped.do("GET", "/webhooks/"+own.ID+"/deliveries", nil).must(t, 200)
	scoped.do("DELETE", "/webhooks/"+own.ID, nil).must(t, 204)
}
