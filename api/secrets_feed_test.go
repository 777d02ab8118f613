package api_test

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/reliquary/reliquary/internal/journal"
	"github.com/reliquary/reliquary/internal/testenv"
)

// No event served by /events, /audit or a webhook carries a secret, a
// secret's hash, or a webhook URL's path or query; /audit marks what it
// leaves out, and the chain still verifies on the stored events.
func TestNoSecretsInFeeds(t *testing.T) {
	srv := testenv.StartServer(t, testenv.ServerOptions{Workers: true})
	admin := newClient(t, srv, srv.AdminToken)
	rc := &bodyReceiver{}
	hook := httptest.NewServer(rc)
	defer hook.Close()
	const hookPath = "/services/T0SECRETPATH/B0SECRET"
	const hookQuery = "token=querysecret123"
	admin.json("POST", "/webhooks", map[string]any{"url": hook.URL + hookPath + "?" + hookQuery, "secret": "hook-hmac-secret-0123456789"}).must(t, 201)
	var tok struct{ Secret string }
	admin.json("POST", "/tokens", map[string]any{"name": "ci-bot", "role": "publisher"}).must(t, 201).decode(t, &tok)
	admin.json("POST", "/products", map[string]any{"name": "alpha"}).must(t, 201)

	var hashes []string
	for _, tk := range []*struct{ Secret string }{&tok, {Secret: srv.AdminToken}} {
		hashes = append(hashes, hexSHA256(tk.Secret))
	}
	forbidden := []string{"T0SECRETPATH", "querysecret123", "hook-hmac-secret-0123456789", tok.Secret, srv.AdminToken}
	forbidden = append(forbidden, hashes...)
	check := func(where string, body []byte) {
		t.Helper()
		s := string(body)
		// The token-hash index key travels base64 in the stored changes.
		for _, f := range forbidden {
			if strings.Contains(s, f) {
				t.Errorf("%s carries %q: %s", where, f, clip(s))
			}
		}
		for _, h := range hashes {
			if strings.Contains(s, b64OfHex(h)) {
				t.Errorf("%s carries the base64 of a secret hash", where)
			}
		}
	}
	r := admin.do("GET", "/events?limit=1000", nil).must(t, 200)
	check("/events", r.body)
	if !strings.Contains(string(r.body), `"host":"`+strings.TrimPrefix(hook.URL, "http://")+`"`) {
		t.Errorf("/events does not name the webhook by host: %s", clip(string(r.body)))
	}
	r = admin.do("GET", "/audit?limit=1000", nil).must(t, 200)
	check("/audit", r.body)
	if !strings.Contains(string(r.body), `"secret_hash":"`+journal.Redacted+`"`) {
		t.Errorf("/audit does not mark the redacted secret hash: %s", clip(string(r.body)))
	}
	if !strings.Contains(string(r.body), `"sealed":"`+journal.Redacted+`"`) {
		t.Errorf("/audit does not mark the webhook record's sealed URL and secret redacted: %s", clip(string(r.body)))
	}
	var rep journal.VerifyReport
	admin.json("GET", "/audit/verify", nil).must(t, 200).decode(t, &rep)
	if !rep.OK {
		t.Errorf("verify after redaction: %+v", rep)
	}
	if rep2, err := srv.Index.VerifyJournal(); err != nil || !rep2.OK {
		t.Errorf("offline verify: %+v %v", rep2, err)
	}

	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) && !rc.has("token.created") {
		time.Sleep(50 * time.Millisecond)
	}
	bodies := rc.all()
	if len(bodies) == 0 {
		t.Fatal("no webhook delivery")
	}
	for _, b := range bodies {
		check("webhook delivery", b)
	}
	if !rc.has("token.created") {
		t.Errorf("the hook never received the token event")
	}
}

func clip(s string) string {
	if len(s) > 600 {
		return s[:600] + "…"
	}
	return s
}

// bodyReceiver keeps every delivered body.
type bodyReceiver struct {
	mu     sync.Mutex
	bodies [][]byte
}

func (rc *bodyReceiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	b, _ := io.ReadAll(r.Body)
	rc.mu.Lock()
	rc.bodies = append(rc.bodies, b)
	rc.mu.Unlock()
}

func (rc *bodyReceiver) all() [][]byte {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return slices.Clone(rc.bodies)
}

func (rc *bodyReceiver) has(typ string) bool {
	for _, b := range rc.all() {
		var e journal.Event
		if json.Unmarshal(b, &e) == nil && e.Type == typ {
			return true
		}
	}
	return false
}

func hexSHA256(s string) string {
	h := sha256.Sum256([]byte(s))
	return hex.EncodeToString(h[:])
}

func b64OfHex(h string) string {
	b, _ := hex.DecodeString(h)
	return base64.StdEncoding.EncodeToString(b)
}
