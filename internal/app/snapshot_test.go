package app_test

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/reliquary/reliquary/internal/app"
	"github.com/reliquary/reliquary/internal/secrets"
	"github.com/reliquary/reliquary/internal/signing"
	"github.com/reliquary/reliquary/internal/snapshot"
	"github.com/reliquary/reliquary/internal/testenv"
	"github.com/reliquary/reliquary/storage"
	"github.com/reliquary/reliquary/storage/s3"
)

func post(t *testing.T, url, token, body string) {
	t.Helper()
	req, _ := http.NewRequest("POST", url, strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 201 {
		t.Fatalf("POST %s: %d %s", url, resp.StatusCode, b)
	}
}

// freshNode starts a node on an empty data dir holding only the library's
// signing key, over store; it returns the app, its server and its log.
func freshNode(t *testing.T, keyFrom string, store storage.BlobStore) (*app.App, *httptest.Server, *testenv.SyncBuffer) {
	t.Helper()
	dir := t.TempDir()
	key, err := os.ReadFile(filepath.Join(keyFrom, signing.DefaultKeyFile))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, signing.DefaultKeyFile), key, 0o600); err != nil {
		t.Fatal(err)
	}
	// Every node of one library shares the secrets key (webhook records
	// are sealed under it), as --secrets-key does in a cluster.
	logs := &testenv.SyncBuffer{}
	a, err := app.New(t.Context(), app.Config{DataDir: dir, Store: store, Logger: slog.New(slog.NewTextHandler(logs, nil)),
		SecretsKey:     filepath.Join(keyFrom, secrets.DefaultKeyFile),
		MirrorInterval: 20 * time.Millisecond, SnapshotInterval: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Close() })
	hs := httptest.NewServer(a.Handler())
	t.Cleanup(hs.Close)
	return a, hs, logs
}

// sameLibrary checks two nodes hold the same journal chain and answer a
// few reads identically.
func sameLibrary(t *testing.T, want, got *app.App, wantURL, gotURL, token string) {
	t.Helper()
	ws, wh, err1 := want.Index.Head()
	gs, gh, err2 := got.Index.Head()
	if err1 != nil || err2 != nil || ws != gs || wh != gh {
		if e, err := want.Index.Event(ws); err == nil {
			t.Logf("event %d: %s %s by %s", ws, e.Type, e.Subject, e.Actor)
		}
		t.Fatalf("journal head: want %d %s (%v), got %d %s (%v)", ws, wh, err1, gs, gh, err2)
	}
	for _, p := range []string{"/api/v1/products?limit=1000", fmt.Sprintf("/api/v1/events?after=%d", ws-20),
		"/api/v1/products/p007", "/api/v1/tokens", "/readyz"} {
		wc, wb := get(t, wantURL+p, token)
		gc, gb := get(t, gotURL+p, token)
		if wc != 200 || gc != wc || gb != wb {
			t.Errorf("GET %s: want %d %.200s\ngot %d %.200s", p, wc, wb, gc, gb)
		}
	}
}

// TestFreshNodeCatchesUpFromASnapshotOnMinIO: a node writing to a MinIO
// bucket leaves signed snapshots every SnapshotEvery events and keeps only
// the newest three; they hold no webhook secret. A node started on an
// empty data dir installs the newest, replays only the tail after it, and
// answers exactly like the first (same chain head, same reads). A newer
// snapshot signed with another key and a corrupted copy of the newest are
// refused, and the next node falls back to the older snapshot, still
// answering identically.
func TestFreshNodeCatchesUpFromASnapshotOnMinIO(t *testing.T) {
	store, err := s3.New(testenv.SharedMinIO(t).Config(t))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	dirA := t.TempDir()
	var token string
	a, err := app.New(ctx, app.Config{DataDir: dirA, Store: store, MirrorInterval: 10 * time.Millisecond,
		SnapshotEvery: 40, SnapshotInterval: 20 * time.Millisecond, WebhookAllowPrivate: true,
		TokenMaintenanceInterval: time.Hour, // no token.used events while the nodes are compared
		AdminTokenGenerated:      func(s string) { token = s }})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	hsA := httptest.NewServer(a.Handler())
	defer hsA.Close()
	ran := make(chan error, 1)
	go func() { ran <- a.Run(ctx) }()
	defer func() { cancel(); <-ran }()

	const secret = "hook-secret-that-must-stay-on-this-node"
	post(t, hsA.URL+"/api/v1/webhooks", token, `{"url":"http://127.0.0.1:9/hook","secret":"`+secret+`"}`)
	// Write until node A has written five snapshots after the first,
	// watching the bucket: each at least 40 events after the one before,
	// and never more than the three newest kept.
	var listed []snapshot.Listed
	var seen []uint64
	next := 0
	for deadline := time.Now().Add(60 * time.Second); len(seen) < 6; {
		if time.Now().After(deadline) {
			t.Fatalf("snapshots seen: %v", seen)
		}
		post(t, hsA.URL+"/api/v1/products", token, fmt.Sprintf(`{"name":"p%03d"}`, next))
		next++
		if listed, err = snapshot.List(ctx, store); err != nil {
			t.Fatal(err)
		}
		if len(listed) > 0 && (len(seen) == 0 || listed[0].Seq > seen[len(seen)-1]) {
			seen = append(seen, listed[0].Seq)
		}
	}
	for i := 2; i < len(seen); i++ {
		if seen[i] < seen[i-1]+40 {
			t.Fatalf("snapshots %v: not 40 events apart", seen)
		}
	}
	// The pruning follows the write: wait for it.
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if listed, err = snapshot.List(ctx, store); err != nil {
			t.Fatal(err)
		}
		if len(listed) <= 3 || time.Now().After(deadline) {
			break
		}
	}
	if len(listed) != 3 || listed[0].Seq != seen[len(seen)-1] || listed[2].Seq != seen[len(seen)-3] {
		t.Fatalf("snapshots kept: %+v, want the 3 newest of %v", listed, seen)
	}
	newest, older := listed[0].Seq, listed[1].Seq
	rc, _, err := store.Get(ctx, storage.SnapshotKey(newest), 0, -1)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(rc)
	rc.Close()
	if bytes.Contains(body, []byte(secret)) || !bytes.Contains(body, []byte("p007")) {
		t.Fatalf("snapshot %d: holds the webhook secret %v, holds the products %v", newest, bytes.Contains(body, []byte(secret)), bytes.Contains(body, []byte("p007")))
	}
	// A tail the snapshot does not hold.
	for i := next; i < next+15; i++ {
		post(t, hsA.URL+"/api/v1/products", token, fmt.Sprintf(`{"name":"p%03d"}`, i))
	}
	for deadline := time.Now().Add(10 * time.Second); a.Mirror.Lag() > 0 && time.Now().Before(deadline); {
		time.Sleep(10 * time.Millisecond)
	}

	b, hsB, logB := freshNode(t, dirA, store)
	if !strings.Contains(logB.String(), "installed the bucket's index snapshot") || !strings.Contains(logB.String(), storage.SnapshotKey(newest)) {
		t.Fatalf("node B did not install snapshot %d:\n%s", newest, logB)
	}
	sameLibrary(t, a, b, hsA.URL, hsB.URL, token)
	// Webhooks are journaled, sealed under the shared secrets key: the
	// snapshot carries them (never their secret in clear, checked above).
	if code, body := get(t, hsB.URL+"/api/v1/webhooks", token); code != 200 || !strings.Contains(body, "127.0.0.1:9/hook") {
		t.Errorf("node B's webhooks: %d %s (the snapshot carries the sealed hook)", code, body)
	}

	// Forge a snapshot at the head signed with another key. The forgery
	// is a genuine image of the index at the head: only the
	// signature's key is wrong.
	snap, err := a.Index.WriteClusterSnapshot()
	if err != nil {
		t.Fatal(err)
	}
	genuine, err := os.ReadFile(snap.Path)
	os.Remove(snap.Path)
	if err != nil {
		t.Fatal(err)
	}
	head, headHash := snap.Seq, snap.Hash
	other, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	forger, err := signing.NewSigner(other)
	if err != nil {
		t.Fatal(err)
	}
	st := snapshot.Statement{Format: snapshot.Format, Seq: head, HeadHash: headHash, Size: int64(len(genuine)),
		SHA256: fmt.Sprintf("%x", sha256.Sum256(genuine)), KeyID: forger.KeyID()}
	sig, err := forger.Sign(ctx, st.Message())
	if err != nil {
		t.Fatal(err)
	}
	st.Signature = base64.StdEncoding.EncodeToString(sig)
	raw, _ := json.Marshal(st)
	for k, v := range map[string][]byte{storage.SnapshotKey(head): genuine, storage.SnapshotSigKey(head): raw} {
		if _, err := store.Put(ctx, k, bytes.NewReader(v), int64(len(v)), storage.PutOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	// Then corrupt the newest genuine snapshot (one byte). (Forged first:
	// node A, still running, sees a snapshot at its head and writes none.)
	if err := store.Delete(ctx, storage.SnapshotKey(newest)); err != nil {
		t.Fatal(err)
	}
	bad := bytes.Clone(body)
	bad[len(bad)/2] ^= 0xff
	if _, err := store.Put(ctx, storage.SnapshotKey(newest), bytes.NewReader(bad), int64(len(bad)), storage.PutOptions{}); err != nil {
		t.Fatal(err)
	}
	c, hsC, logC := freshNode(t, dirA, store)
	out := logC.String()
	if strings.Count(out, "index snapshot refused") != 2 || !strings.Contains(out, storage.SnapshotKey(head)) ||
		!strings.Contains(out, "installed the bucket's index snapshot") || !strings.Contains(out, "key="+storage.SnapshotKey(older)) {
		t.Fatalf("node C: want the forged (%d) and corrupted (%d) snapshots refused and %d installed:\n%s", head, newest, older, out)
	}
	sameLibrary(t, a, c, hsA.URL, hsC.URL, token)
}
