package api_test

import (
	"context"
	"encoding/json"
	"sync"
	"testing"
	"time"

	"github.com/reliquary/reliquary/api"
	"github.com/reliquary/reliquary/internal/library"
	"github.com/reliquary/reliquary/internal/testenv"
)

func findToken(t *testing.T, admin *client, id string) *api.TokenView {
	t.Helper()
	var list api.TokenList
	admin.json("GET", "/tokens", nil).must(t, 200).decode(t, &list)
	for i := range list.Tokens {
		if list.Tokens[i].ID == id {
			return &list.Tokens[i]
		}
	}
	return nil
}

func journalHead(t *testing.T, srv *testenv.Server) uint64 {
	t.Helper()
	var seq uint64
	if err := srv.Index.View(func(tx library.ReadTx) error {
		var err error
		seq, _, err = tx.Head()
		return err
	}); err != nil {
		t.Fatal(err)
	}
	return seq
}

// TestTokenExpiry: a token created with a ttl carries expires_at, works
// until then and answers 401 TOKEN_EXPIRED after.
func TestTokenExpiry(t *testing.T) {
	srv := testenv.StartServer(t, testenv.ServerOptions{})
	admin := newClient(t, srv, srv.AdminToken)
	admin.json("POST", "/products", map[string]any{"name": "app"}).must(t, 201)

	var short api.TokenView
	start := time.Now()
	admin.json("POST", "/tokens", map[string]any{"name": "brief", "role": "reader", "ttl": "2s"}).must(t, 201).decode(t, &short)
	if short.ExpiresAt == nil || short.ExpiresAt.Before(start.Add(time.Second)) || short.ExpiresAt.After(start.Add(3*time.Second)) {
		t.Fatalf("expires_at %v, want about 2s from now", short.ExpiresAt)
	}
	c := newClient(t, srv, short.Token)
	c.json("GET", "/products/app", nil).must(t, 200)
	time.Sleep(time.Until(*short.ExpiresAt) + 50*time.Millisecond)
	r := c.json("GET", "/products/app", nil)
	if r.status != 401 || r.errCode() != api.CodeTokenExpired {
		t.Fatalf("expired token: %d %s, want 401 TOKEN_EXPIRED", r.status, r.body)
	}
	// Seconds work too; no ttl means no expiry.
	var hour, forever api.TokenView
	admin.json("POST", "/tokens", map[string]any{"name": "hour", "role": "reader", "ttl": 3600}).must(t, 201).decode(t, &hour)
	if d := time.Until(*hour.ExpiresAt); d < 59*time.Minute || d > time.Hour {
		t.Errorf("ttl 3600 → expires in %s", d)
	}
	admin.json("POST", "/tokens", map[string]any{"name": "forever", "role": "reader"}).must(t, 201).decode(t, &forever)
	if forever.ExpiresAt != nil {
		t.Errorf("no ttl → expires_at %v, want null", forever.ExpiresAt)
	}
	for _, bad := range []string{`"-5s"`, `"500ms"`, `"100000h"`, `-1`, `1.5`, `"soon"`, `true`} {
		r := admin.hostileClient().json("POST", "/tokens", `{"name":"bad","role":"reader","ttl":`+bad+`}`)
		if r.status != 400 {
			t.Errorf("ttl %s: %d %s, want 400", bad, r.status, r.body)
		}
	}
}

// TestTokenLastUsed: uses are recorded in memory (no journal write per
// request), shown at once by GET /tokens, and flushed in one batched
// journaled transaction.
func TestTokenLastUsed(t *testing.T) {
	srv := testenv.StartServer(t, testenv.ServerOptions{})
	admin := newClient(t, srv, srv.AdminToken)
	admin.json("POST", "/products", map[string]any{"name": "app"}).must(t, 201)
	var ids []string
	var clients []*client
	for _, name := range []string{"one", "two", "three"} {
		var tv api.TokenView
		admin.json("POST", "/tokens", map[string]any{"name": name, "role": "reader"}).must(t, 201).decode(t, &tv)
		if tv.LastUsedAt != nil {
			t.Fatalf("new token last_used_at %v, want null", tv.LastUsedAt)
		}
		ids = append(ids, tv.ID)
		clients = append(clients, newClient(t, srv, tv.Token))
	}
	if _, err := srv.Lib.FlushTokenUsage(context.Background()); err != nil { // the admin's own uses
		t.Fatal(err)
	}
	head := journalHead(t, srv)
	var wg sync.WaitGroup
	for _, c := range clients {
		wg.Go(func() {
			for range 20 {
				c.json("GET", "/products/app", nil).must(t, 200)
			}
		})
	}
	wg.Wait()
	if h := journalHead(t, srv); h != head {
		t.Errorf("60 requests wrote %d journal events, want none before the flush", h-head)
	}
	if tv := findToken(t, admin, ids[0]); tv == nil || tv.LastUsedAt == nil || time.Since(*tv.LastUsedAt) > 5*time.Second {
		t.Errorf("GET /tokens before the flush: %+v, want last_used_at now", tv)
	}
	n, err := srv.Lib.FlushTokenUsage(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if n < 3 {
		t.Errorf("flush updated %d tokens, want at least the 3 used", n)
	}
	if h := journalHead(t, srv); h != head+1 {
		t.Errorf("flush wrote %d events, want 1 batched event", h-head)
	}
	// The index now holds last_used_at (a restart keeps it).
	err = srv.Index.View(func(tx library.ReadTx) error {
		for _, id := range ids {
			tok, err := tx.Token(id)
			if err != nil {
				return err
			}
			if tok.LastUsedAt == nil {
				t.Errorf("token %s: last_used_at not stored", id)
			}
		}
		evs, err := tx.Events(head, 0)
		if err != nil || len(evs) != 1 || evs[0].Type != library.EvTokensUsed {
			t.Errorf("flush event %v %v", evs, err)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	// Nothing used since: no event.
	if n, err := srv.Lib.FlushTokenUsage(context.Background()); err != nil || n != 0 {
		t.Errorf("idle flush: %d %v", n, err)
	}
	admin.json("GET", "/tokens", nil).must(t, 200) // the admin's use is pending again
}

// TestTokenPruning: tokens expired for longer than the retention are
// deleted (their secret no longer authenticates at all), and exchanged ID
// tokens are forgotten once their own expiry has passed.
func TestTokenPruning(t *testing.T) {
	var mu sync.Mutex
	offset := time.Duration(0)
	now := func() time.Time { mu.Lock(); defer mu.Unlock(); return time.Now().Add(offset) }
	advance := func(d time.Duration) { mu.Lock(); offset += d; mu.Unlock() }
	e := newOIDCEnv(t, testenv.ServerOptions{Now: now})

	var short api.TokenView
	e.admin.json("POST", "/tokens", map[string]any{"name": "short", "role": "reader", "ttl": "1h"}).must(t, 201).decode(t, &short)
	e.exchange(e.is.Sign(t, e.claims(), "")).must(t, 201)

	if n, err := e.srv.Lib.PruneTokens(context.Background()); err != nil || n != 0 {
		t.Fatalf("prune before expiry: %d %v", n, err)
	}
	advance(2 * time.Hour) // expired, still within the retention
	c := newClient(t, e.srv, short.Token)
	if r := c.json("GET", "/products/app", nil); r.errCode() != api.CodeTokenExpired {
		t.Fatalf("expired: %d %s", r.status, r.body)
	}
	advance(library.ExpiredTokenRetention)
	n, err := e.srv.Lib.PruneTokens(context.Background())
	if err != nil || n != 2 { // the 1h token and the minted 15m token
		t.Fatalf("prune: %d tokens, %v; want 2", n, err)
	}
	if findToken(t, e.admin, short.ID) != nil {
		t.Error("pruned token still listed")
	}
	if r := c.json("GET", "/products/app", nil); r.status != 401 || r.errCode() != api.CodeUnauthenticated {
		t.Errorf("pruned token: %d %s, want 401 UNAUTHENTICATED", r.status, r.body)
	}
	var pruned map[string]any
	err = e.srv.Index.View(func(tx library.ReadTx) error {
		evs, err := tx.Events(0, 0)
		for _, ev := range evs {
			if ev.Type == library.EvTokensPruned {
				_ = json.Unmarshal(ev.Data, &pruned)
			}
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if pruned["id_tokens_forgotten"] != float64(1) {
		t.Errorf("prune event %v, want the exchanged ID token forgotten", pruned)
	}
}
