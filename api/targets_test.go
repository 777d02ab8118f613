package api_test

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/reliquary/reliquary/internal/journal"
	"github.com/reliquary/reliquary/internal/library"
	"github.com/reliquary/reliquary/internal/testenv"
)

// Webhook URLs on loopback, private, link-local and unique-local addresses
// are refused at registration unless the server allows private targets.
func TestWebhookTargetsRefusedAtRegistration(t *testing.T) {
	srv := testenv.StartServer(t, testenv.ServerOptions{WebhookDenyPrivate: true})
	admin := newClient(t, srv, srv.AdminToken)
	for _, u := range []string{
		"http://127.0.0.1:9/hook", "http://127.1.2.3/", "http://[::1]:8080/x", "http://localhost:8080/x",
		"http://10.0.0.8/", "http://172.16.5.4/", "http://192.168.1.1/", "http://169.254.169.254/latest/meta-data",
		"http://[fe80::1]/", "http://[fd12:3456::1]/", "http://0.0.0.0/", "http://[::ffff:127.0.0.1]/",
	} {
		r := admin.json("POST", "/webhooks", map[string]any{"url": u})
		if r.status != 400 || r.errCode() != "WEBHOOK_TARGET_FORBIDDEN" {
			t.Errorf("POST /webhooks %s: %d %s", u, r.status, r.body)
		}
	}
	admin.json("POST", "/webhooks", map[string]any{"url": "https://93.184.216.34/hook"}).must(t, 201)

	// The same server with --webhook-allow-private accepts them.
	open := testenv.StartServer(t, testenv.ServerOptions{})
	newClient(t, open, open.AdminToken).json("POST", "/webhooks", map[string]any{"url": "http://127.0.0.1:9/hook"}).must(t, 201)
}

// A hook whose name resolves to a forbidden address at delivery time (DNS
// rebinding: it was public when registered) is never called: the check is
// on the address dialed.
func TestWebhookTargetCheckedAtDelivery(t *testing.T) {
	var hits atomic.Int32
	rc := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { hits.Add(1) }))
	defer rc.Close()
	srv := testenv.StartServer(t, testenv.ServerOptions{Workers: true, WebhookDenyPrivate: true})
	admin := newClient(t, srv, srv.AdminToken)
	// Stored directly, as if "localhost" had resolved to a public address
	// when it was registered.
	url := strings.Replace(rc.URL, "127.0.0.1", "localhost", 1) + "/hook"
	w := &journal.Webhook{ID: "wh_rebind", URL: url, Secret: "rebinding-secret-0123456789", CreatedBy: "admin", CreatedAt: time.Now().UTC()}
	if err := srv.Index.CreateWebhook(w, library.Event{Time: w.CreatedAt, Actor: "admin", Type: library.EvWebhookCreated, Subject: w.ID,
		Data: map[string]any{"id": w.ID, "host": "localhost"}}); err != nil {
		t.Fatal(err)
	}
	srv.Notifier.Notify()
	admin.json("POST", "/products", map[string]any{"name": "alpha"}).must(t, 201)
	var dl struct{ Deliveries []journal.Delivery }
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) && len(dl.Deliveries) < 2 {
		time.Sleep(50 * time.Millisecond)
		admin.json("GET", "/webhooks/wh_rebind/deliveries", nil).must(t, 200).decode(t, &dl)
	}
	if hits.Load() != 0 {
		t.Errorf("the loopback receiver was called %d times", hits.Load())
	}
	if len(dl.Deliveries) == 0 || dl.Deliveries[0].OK || !strings.Contains(dl.Deliveries[0].Error, journal.ErrTargetForbidden.Error()) {
		t.Errorf("delivery log: %+v", dl.Deliveries)
	}
	// And directly: the delivery client refuses to dial loopback.
	_, err := journal.TargetClient(false, 5*time.Second).Get(rc.URL)
	if !errors.Is(err, journal.ErrTargetForbidden) {
		t.Errorf("TargetClient dialed loopback: %v", err)
	}
}

// Redirects are never followed: a 3xx is a failed delivery, and the
// redirect's target is never called.
func TestWebhookRedirectNotFollowed(t *testing.T) {
	var hits atomic.Int32
	target := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { hits.Add(1) }))
	defer target.Close()
	redirector := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, target.URL+"/stolen", http.StatusTemporaryRedirect)
	}))
	defer redirector.Close()
	srv := testenv.StartServer(t, testenv.ServerOptions{Workers: true})
	admin := newClient(t, srv, srv.AdminToken)
	var wh struct{ ID string }
	admin.json("POST", "/webhooks", map[string]any{"url": redirector.URL + "/hook"}).must(t, 201).decode(t, &wh)
	admin.json("POST", "/products", map[string]any{"name": "alpha"}).must(t, 201)
	var dl struct{ Deliveries []journal.Delivery }
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) && len(dl.Deliveries) < 2 {
		time.Sleep(50 * time.Millisecond)
		admin.json("GET", "/webhooks/"+wh.ID+"/deliveries", nil).must(t, 200).decode(t, &dl)
	}
	if len(dl.Deliveries) < 2 || dl.Deliveries[0].OK || dl.Deliveries[0].StatusCode != http.StatusTemporaryRedirect {
		t.Errorf("delivery log: %+v", dl.Deliveries)
	}
	if hits.Load() != 0 {
		t.Errorf("the redirect target was called %d times", hits.Load())
	}
}

// /readyz tells anonymous callers which check failed, never the error text
// or a path; an unscoped admin sees the details.
func TestReadyzHidesDetails(t *testing.T) {
	srv := testenv.StartServer(t, testenv.ServerOptions{})
	admin := newClient(t, srv, srv.AdminToken)
	var tok struct{ Secret string }
	// Before the store breaks: a write needs it (its journal object).
	admin.json("POST", "/tokens", map[string]any{"name": "scoped", "role": "admin", "products": []string{"alpha"}}).must(t, 201).decode(t, &tok)
	tmp := filepath.Join(srv.DataDir, "blobs", ".tmp")
	if err := os.RemoveAll(tmp); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(tmp, []byte("not a directory"), 0o600); err != nil {
		t.Fatal(err)
	}
	type ready struct {
		Status string
		Checks map[string]string
	}
	for _, c := range []*client{newClient(t, srv, ""), newClient(t, srv, tok.Secret)} {
		var got ready
		r := c.do("GET", "/readyz", nil).must(t, 503)
		r.decode(t, &got)
		if got.Checks["storage"] != "failed" || got.Checks["index"] != "ok" {
			t.Errorf("readyz checks: %+v", got.Checks)
		}
		if strings.Contains(string(r.body), srv.DataDir) || strings.Contains(string(r.body), "directory") {
			t.Errorf("readyz leaks details: %s", r.body)
		}
	}
	var got ready
	admin.do("GET", "/readyz", nil).must(t, 503).decode(t, &got)
	if got.Checks["storage"] == "failed" || got.Checks["storage"] == "ok" || got.Checks["storage"] == "" {
		t.Errorf("an unscoped admin does not see the details: %+v", got.Checks)
	}
}
