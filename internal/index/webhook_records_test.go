package index

import (
	"bytes"
	"encoding/json"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/reliquary/reliquary/internal/journal"
	"github.com/reliquary/reliquary/internal/library"
	"github.com/reliquary/reliquary/internal/secrets"
)

const (
	recURL    = "https://hooks.example.com/services/T0SECRETPATH?token=querysecret123"
	recSecret = "hook-hmac-secret-0123456789"
)

func testSecretsKey(t *testing.T, b byte) *secrets.Key {
	t.Helper()
	k, err := secrets.New(bytes.Repeat([]byte{b}, secrets.KeySize))
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func hookEvent(typ, id string) library.Event {
	return library.Event{Time: time.Now().UTC(), Actor: "admin", Type: typ, Subject: id,
		Data: map[string]any{"id": id, "host": "hooks.example.com"}}
}

func rebuildFrom(t *testing.T, ix *Index) *Index {
	t.Helper()
	evs, err := ix.EventsAfter(0, 0)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "rebuilt.db")
	if _, err := Rebuild(path, feed(evs)); err != nil {
		t.Fatal(err)
	}
	re, err := Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { re.Close() })
	return re
}

// A webhook's record travels in its creation event's change set with the
// URL and secret sealed (never in clear); it unseals with the key, a
// rebuild from the journal restores it, another key cannot read it and
// CheckWebhookSecrets says so; its deletion is journaled too.
func TestWebhookRecordsSealedInTheJournal(t *testing.T) {
	ix := openTest(t)
	w := &journal.Webhook{ID: "wh_1", URL: recURL, Secret: recSecret, Types: []string{"release.*"}, CreatedBy: "admin",
		CreatedAt: time.Now().UTC().Truncate(time.Second), Products: []string{"app"}}
	if err := ix.CreateWebhook(w, hookEvent(library.EvWebhookCreated, w.ID)); !errors.Is(err, ErrNoSecretsKey) {
		t.Fatalf("create without a secrets key: %v", err)
	}
	k := testSecretsKey(t, 1)
	ix.SetSecrets(k)
	if err := ix.CreateWebhook(w, hookEvent(library.EvWebhookCreated, w.ID)); err != nil {
		t.Fatal(err)
	}
	evs, err := ix.EventsAfter(0, 0)
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := json.Marshal(evs)
	for _, leak := range []string{"T0SECRETPATH", "querysecret123", recSecret} {
		if strings.Contains(string(raw), leak) {
			t.Fatalf("the journal carries %q", leak)
		}
	}
	if !strings.Contains(string(raw), `"bucket":"webhook_records"`) {
		t.Fatalf("the creation event carries no webhook record: %s", raw)
	}
	hooks, state, err := ix.Webhooks()
	if err != nil || len(hooks) != 1 || hooks[0].URL != recURL || hooks[0].Secret != recSecret || hooks[0].Unreadable != "" ||
		hooks[0].Products[0] != "app" || hooks[0].Types[0] != "release.*" {
		t.Fatalf("hooks %+v %v", hooks, err)
	}
	if next, ok, _ := ix.HookNext("wh_1"); !ok || state["wh_1"] != next-1 || next != evs[len(evs)-1].Seq {
		t.Fatalf("next %d, state %v, creation event %d", next, state, evs[len(evs)-1].Seq)
	}

	if rep, err := ix.VerifyDeep(t.TempDir()); err != nil || !rep.OK {
		t.Fatalf("deep verify: %+v %v", rep, err)
	}
	re := rebuildFrom(t, ix)
	if err := re.CheckWebhookSecrets(); err == nil {
		t.Fatal("an index without the key passed the check")
	}
	re.SetSecrets(testSecretsKey(t, 2))
	err = re.CheckWebhookSecrets()
	if err == nil || !strings.Contains(err.Error(), "--secrets-key") || !strings.Contains(err.Error(), k.ID()) {
		t.Fatalf("another key: %v", err)
	}
	if hooks, _, err := re.Webhooks(); err != nil || len(hooks) != 1 || hooks[0].Unreadable == "" || hooks[0].URL != "" || hooks[0].Secret != "" {
		t.Fatalf("hooks under another key: %+v %v", hooks, err)
	}
	re.SetSecrets(k)
	if err := re.CheckWebhookSecrets(); err != nil {
		t.Fatal(err)
	}
	hooks, _, err = re.Webhooks()
	if err != nil || len(hooks) != 1 || hooks[0].URL != recURL || hooks[0].Secret != recSecret {
		t.Fatalf("rebuilt hooks %+v %v", hooks, err)
	}
	// A node that never delivered to it starts at the hook's start.
	if next, ok, _ := re.HookNext("wh_1"); !ok || next != evs[len(evs)-1].Seq {
		t.Fatalf("rebuilt next %d %v", next, ok)
	}

	if err := ix.DeleteWebhook("wh_1", hookEvent(library.EvWebhookDeleted, "wh_1")); err != nil {
		t.Fatal(err)
	}
	if hooks, _, _ := rebuildFrom(t, ix).Webhooks(); len(hooks) != 0 {
		t.Fatalf("a deleted hook came back in a rebuild: %+v", hooks)
	}
	if err := ix.DeleteWebhook("wh_1", hookEvent(library.EvWebhookDeleted, "wh_1")); !errors.Is(err, journal.ErrWebhookNotFound) {
		t.Fatalf("second delete: %v", err)
	}
}

// Cursors handed over by the webhook lease move a hook forward, never
// back, and ignore hooks this node does not know.
func TestSeedHookCursors(t *testing.T) {
	ix := openTest(t)
	ix.SetSecrets(testSecretsKey(t, 1))
	w := &journal.Webhook{ID: "wh_1", URL: recURL, Secret: recSecret, CreatedAt: time.Now().UTC()}
	if err := ix.CreateWebhook(w, hookEvent(library.EvWebhookCreated, w.ID)); err != nil {
		t.Fatal(err)
	}
	if err := ix.SeedHookCursors(map[string]uint64{"wh_1": 40, "wh_unknown": 9}); err != nil {
		t.Fatal(err)
	}
	if err := ix.SeedHookCursors(map[string]uint64{"wh_1": 12}); err != nil {
		t.Fatal(err)
	}
	cur, err := ix.HookCursors()
	if err != nil || len(cur) != 1 || cur["wh_1"] != 40 {
		t.Fatalf("cursors %v %v", cur, err)
	}
	if err := ix.AdvanceHook("wh_1", 40, &journal.Delivery{Seq: 40, OK: true, Attempt: 1}); err != nil {
		t.Fatal(err)
	}
	if next, _, _ := ix.HookNext("wh_1"); next != 41 {
		t.Fatalf("next after delivering 40: %d", next)
	}

	// The hook is deleted through another node: this one applies the
	// record's deletion from the journal; its own state and log go at
	// the next prune.
	if d, _ := ix.Deliveries("wh_1", 10); len(d) != 1 {
		t.Fatalf("delivery log before the prune: %+v", d)
	}
	if n, err := ix.PruneHookState(); err != nil || n != 0 {
		t.Fatalf("pruned %d live hooks: %v", n, err)
	}
	if err := ix.db.Update(func(btx *bolt.Tx) error { return btx.Bucket(bucketWebhookRecords).Delete([]byte("wh_1")) }); err != nil {
		t.Fatal(err)
	}
	if n, err := ix.PruneHookState(); err != nil || n != 1 {
		t.Fatalf("pruned %d: %v", n, err)
	}
	if d, _ := ix.Deliveries("wh_1", 10); len(d) != 0 {
		t.Fatalf("the deleted hook's log is left: %+v", d)
	}
	if _, ok, _ := ix.HookNext("wh_1"); ok {
		t.Fatal("the deleted hook still has a next seq")
	}
}

// A node-local hook of the older "webhooks" bucket is moved into a sealed
// record with one webhook.sealed event, keeping its delivery state, so a
// rebuild knows it; a second pass moves nothing.
func TestSealLocalWebhooks(t *testing.T) {
	ix := openTest(t)
	ix.SetSecrets(testSecretsKey(t, 1))
	legacy, _ := json.Marshal(journal.Webhook{ID: "wh_old", URL: recURL, Secret: recSecret, CreatedBy: "admin", CreatedAt: time.Now().UTC()})
	if err := ix.db.Update(func(btx *bolt.Tx) error {
		if err := btx.Bucket(bucketWebhooks).Put([]byte("wh_old"), legacy); err != nil {
			return err
		}
		return btx.Bucket(bucketHookState).Put([]byte("wh_old"), seqKey(7))
	}); err != nil {
		t.Fatal(err)
	}
	if hooks, state, _ := ix.Webhooks(); len(hooks) != 1 || hooks[0].URL != recURL || state["wh_old"] != 6 {
		t.Fatalf("legacy hook before the move: %+v %v", hooks, state)
	}
	n, err := ix.SealLocalWebhooks(time.Now())
	if err != nil || n != 1 {
		t.Fatalf("moved %d: %v", n, err)
	}
	if n, err := ix.SealLocalWebhooks(time.Now()); err != nil || n != 0 {
		t.Fatalf("second pass moved %d: %v", n, err)
	}
	hooks, state, err := ix.Webhooks()
	if err != nil || len(hooks) != 1 || hooks[0].URL != recURL || hooks[0].Secret != recSecret || state["wh_old"] != 6 {
		t.Fatalf("after the move: %+v %v %v", hooks, state, err)
	}
	evs, _ := ix.EventsAfter(0, 0)
	if len(evs) != 1 || evs[0].Type != EvWebhookSealed || strings.Contains(string(evs[0].Data), "T0SECRETPATH") {
		t.Fatalf("events %+v", evs)
	}
	if rep, err := ix.VerifyDeep(t.TempDir()); err != nil || !rep.OK {
		t.Fatalf("deep verify after the move: %+v %v", rep, err)
	}
	re := rebuildFrom(t, ix)
	re.SetSecrets(testSecretsKey(t, 1))
	if hooks, _, _ := re.Webhooks(); len(hooks) != 1 || hooks[0].ID != "wh_old" || hooks[0].Secret != recSecret {
		t.Fatalf("rebuilt: %+v", hooks)
	}
	if next, _, _ := re.HookNext("wh_old"); next != 7 {
		t.Fatalf("rebuilt next %d, want the state carried in the record (7)", next)
	}
}
