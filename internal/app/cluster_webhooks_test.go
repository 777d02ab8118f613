package app_test

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/reliquary/reliquary/internal/app"
	"github.com/reliquary/reliquary/internal/index"
	"github.com/reliquary/reliquary/internal/journal"
	"github.com/reliquary/reliquary/internal/lease"
	"github.com/reliquary/reliquary/internal/secrets"
	"github.com/reliquary/reliquary/internal/signing"
	"github.com/reliquary/reliquary/internal/testenv"
	"github.com/reliquary/reliquary/storage"
	"github.com/reliquary/reliquary/storage/s3"
)

const (
	clusterAdmin = "rlq_cluster-test-admin-secret-0123456789"
	hookPath     = "/services/T0SECRETPATH/B0SECRET"
	hookQuery    = "token=querysecret123"
	hookSecret   = "hook-hmac-secret-0123456789"
	testLeaseTTL = 1500 * time.Millisecond
)

// cutStore is a store a test can cut a node off from (a partition): every
// call fails as unavailable while cut.
type cutStore struct {
	storage.BlobStore
	cut atomic.Bool
}

var errCut = fmt.Errorf("cut off by the test: %w", storage.ErrUnavailable)

func (c *cutStore) Put(ctx context.Context, key string, r io.Reader, size int64, o storage.PutOptions) (storage.Info, error) {
	if c.cut.Load() {
		return storage.Info{}, errCut
	}
	return c.BlobStore.Put(ctx, key, r, size, o)
}

func (c *cutStore) Get(ctx context.Context, key string, off, n int64) (io.ReadCloser, storage.Info, error) {
	if c.cut.Load() {
		return nil, storage.Info{}, errCut
	}
	return c.BlobStore.Get(ctx, key, off, n)
}

func (c *cutStore) List(ctx context.Context, prefix string, fn func(storage.Info) error) error {
	if c.cut.Load() {
		return errCut
	}
	return c.BlobStore.List(ctx, prefix, fn)
}

func (c *cutStore) Delete(ctx context.Context, key string) error {
	if c.cut.Load() {
		return errCut
	}
	return c.BlobStore.Delete(ctx, key)
}

// lnode is one app.New server of a test cluster.
type lnode struct {
	name  string
	dir   string
	a     *app.App
	hs    *httptest.Server
	store *cutStore
	stop  func()
}

type clusterEnv struct {
	t          *testing.T
	s3cfg      s3.Config
	secretsKey string // the key file every node is given
	// offset moves every node's library clock (retention ages).
	offset atomic.Int64
}

func (e *clusterEnv) now() time.Time { return time.Now().Add(time.Duration(e.offset.Load())) }

func newClusterEnv(t *testing.T) *clusterEnv {
	m := testenv.StartMinIO(t)
	key := filepath.Join(t.TempDir(), "secrets.key")
	var raw [32]byte
	for i := range raw {
		raw[i] = byte(i*7 + 3)
	}
	if err := os.WriteFile(key, []byte(hex.EncodeToString(raw[:])+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return &clusterEnv{t: t, s3cfg: m.Config(t), secretsKey: key}
}

func (e *clusterEnv) newStore() *cutStore {
	st, err := s3.New(e.s3cfg)
	if err != nil {
		e.t.Fatal(err)
	}
	return &cutStore{BlobStore: st}
}

// start wires and runs a node on dir; signingFrom, when set, is the data
// dir whose signing key it shares (a node joining a cluster).
func (e *clusterEnv) start(name, dir, signingFrom, secretsKey string) (*lnode, error) {
	t := e.t
	if signingFrom != "" {
		pem, err := os.ReadFile(filepath.Join(signingFrom, signing.DefaultKeyFile))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, signing.DefaultKeyFile), pem, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	st := e.newStore()
	a, err := app.New(t.Context(), app.Config{DataDir: dir, Store: st, AdminToken: clusterAdmin, SecretsKey: secretsKey,
		WebhookAllowPrivate: true, MirrorInterval: 20 * time.Millisecond, WebhookPoll: 50 * time.Millisecond,
		WebhookMinBackoff: 20 * time.Millisecond, WebhookMaxBackoff: 100 * time.Millisecond,
		LeaseTTL: testLeaseTTL, LeaseSkew: 100 * time.Millisecond, RetentionInterval: 50 * time.Millisecond,
		Logger: testLogger(name), Now: e.now})
	if err != nil {
		return nil, err
	}
	n := &lnode{name: name, dir: dir, a: a, hs: httptest.NewServer(a.Handler()), store: st}
	ctx, cancel := context.WithCancel(context.Background())
	ran := make(chan struct{})
	go func() { defer close(ran); _ = a.Run(ctx) }()
	var once sync.Once
	n.stop = func() {
		once.Do(func() {
			t0 := time.Now()
			cancel()
			<-ran
			t1 := time.Now()
			n.hs.Close()
			if d := time.Since(t0); d > 2*time.Second {
				t.Logf("stopping %s took %s (workers %s)", name, d, t1.Sub(t0))
			}
			if err := a.Close(); err != nil {
				t.Error(err)
			}
		})
	}
	t.Cleanup(n.stop)
	return n, nil
}

func (n *lnode) call(t *testing.T, method, path, body string) (int, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, n.hs.URL+"/api/v1"+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+clusterAdmin)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

func (n *lnode) mirrored(t *testing.T) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for n.a.Mirror.Lag() > 0 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if lag := n.a.Mirror.Lag(); lag != 0 {
		t.Fatalf("%s: mirror lags %v events", n.name, lag)
	}
}

// receiver records the seqs delivered to a hook, each delivery taking a
// little time so a stream is in flight when a node goes away.
type receiver struct {
	mu    sync.Mutex
	seqs  map[uint64]int
	total int
	bad   []string
	delay time.Duration
}

func (rc *receiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	time.Sleep(rc.delay)
	rc.mu.Lock()
	defer rc.mu.Unlock()
	if r.URL.Path != hookPath || r.URL.RawQuery != hookQuery || !journal.VerifySignature(hookSecret, body, r.Header.Get(journal.HeaderSignature)) {
		rc.bad = append(rc.bad, r.URL.String())
		w.WriteHeader(http.StatusBadRequest)
		return
	}
	d := r.Header.Get(journal.HeaderDelivery)
	seq, err := strconv.ParseUint(d[strings.LastIndexByte(d, '-')+1:], 10, 64)
	if err != nil {
		rc.bad = append(rc.bad, d)
		return
	}
	rc.seqs[seq]++
	rc.total++
}

func (rc *receiver) count() (distinct, total int) {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return len(rc.seqs), rc.total
}

// missing lists the seqs from..to never delivered.
func (rc *receiver) missing(from, to uint64) []uint64 {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	var out []uint64
	for s := from; s <= to; s++ {
		if rc.seqs[s] == 0 {
			out = append(out, s)
		}
	}
	return out
}

func holders(ns []*lnode, of func(*app.App) *lease.Lease) []string {
	var out []string
	for _, n := range ns {
		if of(n.a).Held() {
			out = append(out, n.name)
		}
	}
	return out
}

func waitFor(t *testing.T, what string, d time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	defer func(t0 time.Time) { t.Logf("waited %s for %s", time.Since(t0).Round(time.Millisecond), what) }(time.Now())
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func webhookLease(a *app.App) *lease.Lease   { return a.WebhookLease }
func retentionLease(a *app.App) *lease.Lease { return a.RetentionLease }

// Three nodes on one MinIO bucket: a hook registered on node a reaches b and
// c through the bucket's journal (sealed: the journal objects never show its
// secret or URL path or query), deliveries and retention run on one lease
// holder at a time, and every event reaches the hook, at least once and
// without a gap, while the delivering node is cut off from the bucket (it
// stops within its lease) and then closed mid-stream. A node with another
// secrets key refuses to start; a rebuild from the bucket restores the hook.
func TestClusterWebhooksOncePerCluster(t *testing.T) {
	if testing.Short() {
		t.Skip("starts MinIO and three nodes")
	}
	env := newClusterEnv(t)
	rc := &receiver{seqs: map[uint64]int{}, delay: 60 * time.Millisecond}
	hook := httptest.NewServer(rc)
	defer hook.Close()
	hookURL := hook.URL + hookPath + "?" + hookQuery

	dirA := t.TempDir()
	a, err := env.start("a", dirA, "", env.secretsKey)
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, "a to hold the webhook lease", 10*time.Second, func() bool { return a.a.WebhookLease.Held() })
	code, body := a.call(t, "POST", "/webhooks", fmt.Sprintf(`{"url":%q,"secret":%q}`, hookURL, hookSecret))
	if code != 201 {
		t.Fatalf("create webhook: %d %s", code, body)
	}
	var created struct{ ID string }
	_ = json.Unmarshal(body, &created)
	for i := range 90 {
		if code, body := a.call(t, "POST", "/products", fmt.Sprintf(`{"name":"p%03d"}`, i)); code != 201 {
			t.Fatalf("create product: %d %s", code, body)
		}
	}
	a.mirrored(t)
	head, _, err := a.a.Index.Head()
	if err != nil {
		t.Fatal(err)
	}
	start := head - 90 // the hook's creation event
	events := int(head - start + 1)

	// b and c join: they catch up from the bucket and know the hook, its
	// URL and secret unsealed, but do not deliver.
	b, err := env.start("b", t.TempDir(), dirA, env.secretsKey)
	if err != nil {
		t.Fatal(err)
	}
	c, err := env.start("c", t.TempDir(), dirA, env.secretsKey)
	if err != nil {
		t.Fatal(err)
	}
	nodes := []*lnode{a, b, c}
	for _, n := range []*lnode{b, c} {
		hooks, _, err := n.a.Index.Webhooks()
		if err != nil || len(hooks) != 1 || hooks[0].URL != hookURL || hooks[0].Secret != hookSecret {
			t.Fatalf("%s knows hooks %+v (%v)", n.name, hooks, err)
		}
	}
	if h := holders(nodes, webhookLease); len(h) != 1 || h[0] != "a" {
		t.Fatalf("webhook lease holders %v, want [a]", h)
	}
	for _, n := range nodes {
		want := `reliquary_lease_held{lease="webhooks"} 0`
		if n == a {
			want = `reliquary_lease_held{lease="webhooks"} 1`
		}
		if _, m := n.call(t, "GET", "/metrics", ""); !strings.Contains(string(m), want) {
			t.Fatalf("%s /metrics lacks %s", n.name, want)
		}
	}
	waitFor(t, "one retention lease holder", 3*testLeaseTTL, func() bool { return len(holders(nodes, retentionLease)) == 1 })
	for range 10 { // sampled over two renewals: never two holders
		if h := holders(nodes, retentionLease); len(h) > 1 {
			t.Fatalf("retention lease holders %v", h)
		}
		if h := holders(nodes, webhookLease); len(h) > 1 {
			t.Fatalf("webhook lease holders %v", h)
		}
		time.Sleep(testLeaseTTL / 10)
	}

	// a is cut off from the bucket mid-stream: it cannot renew, stops
	// delivering within its lease, and b or c takes over once the lease
	// has expired, resuming at the cursors a last carried forward.
	waitFor(t, "20 deliveries", 20*time.Second, func() bool { d, _ := rc.count(); return d >= 20 })
	// b and c deliver nothing (their delivery logs stay empty) but follow
	// a's cursors through the lease: their GET /webhooks shows progress.
	for _, n := range []*lnode{b, c} {
		waitFor(t, n.name+" to follow the holder's cursor", 3*testLeaseTTL, func() bool {
			_, body := n.call(t, "GET", "/webhooks", "")
			var l struct {
				Webhooks []struct {
					DeliveredSeq uint64 `json:"delivered_seq"`
				}
			}
			return json.Unmarshal(body, &l) == nil && len(l.Webhooks) == 1 && l.Webhooks[0].DeliveredSeq >= start
		})
		if _, body := n.call(t, "GET", "/webhooks/"+created.ID+"/deliveries", ""); !strings.Contains(string(body), `"deliveries":[]`) {
			t.Fatalf("%s, not holding the lease, delivered: %s", n.name, body)
		}
	}
	a.store.cut.Store(true)
	cutAt, _ := rc.count()
	waitFor(t, "a to let go of its lease", 2*testLeaseTTL, func() bool { return !a.a.WebhookLease.Held() })
	waitFor(t, "b or c to take the webhook lease", 4*testLeaseTTL, func() bool {
		h := holders(nodes, webhookLease)
		return len(h) == 1 && h[0] != "a"
	})
	var holder, last *lnode
	if b.a.WebhookLease.Held() {
		holder, last = b, c
	} else {
		holder, last = c, b
	}
	if _, body := last.call(t, "GET", "/webhooks/"+created.ID+"/deliveries", ""); !strings.Contains(string(body), `"deliveries":[]`) {
		t.Fatalf("%s, not holding the lease, delivered: %s", last.name, body)
	}

	// The new holder is closed mid-stream: its graceful close releases the
	// lease at once with its cursors, and the last node finishes.
	handedAt, _ := rc.count()
	waitFor(t, "deliveries by the new holder", 20*time.Second, func() bool { d, _ := rc.count(); return d >= handedAt+5 })
	if d, _ := rc.count(); d >= events {
		t.Fatalf("everything delivered before the holder closed (%d of %d): the receiver is too fast for this test", d, events)
	}
	holder.stop()
	waitFor(t, "the last node to take the webhook lease", 2*testLeaseTTL, func() bool { return last.a.WebhookLease.Held() })
	waitFor(t, "every event delivered", 30*time.Second, func() bool { return len(rc.missing(start, head)) == 0 })
	waitFor(t, "the last node to idle", 5*time.Second, func() bool {
		next, _, _ := last.a.Index.HookNext(created.ID)
		return next == head+1
	})
	distinct, total := rc.count()
	t.Logf("%d events delivered in %d deliveries (%d again); %d before the cut, %d at the first handover", distinct, total, total-distinct, cutAt, handedAt)
	// Without the cursors in the lease the first new holder would start
	// over from the hook's start and deliver the handedAt first events
	// again. With them it repeats only what a delivered after its last
	// renewal (a lease's overlap).
	if total-distinct >= handedAt {
		t.Fatalf("%d events delivered again: the new holders did not resume at the lease's cursors", total-distinct)
	}
	rc.mu.Lock()
	if len(rc.bad) > 0 {
		t.Fatalf("bad deliveries: %v", rc.bad)
	}
	rc.mu.Unlock()
	a.store.cut.Store(false)
	a.stop()
	waitFor(t, "the last node to run retention", 3*testLeaseTTL, func() bool { return last.a.RetentionLease.Held() })

	// The bucket's journal carries the hook sealed: never its secret, URL
	// path or query.
	checkBucketClean(t, last.store)

	// A node with another secrets key (here: one it generates) refuses to
	// start, naming the hook and the flag.
	_, err = env.start("d", t.TempDir(), dirA, "")
	if err == nil || !strings.Contains(err.Error(), "--secrets-key") || !strings.Contains(err.Error(), created.ID) {
		t.Fatalf("a node with another secrets key: %v", err)
	}

	// A rebuild from the bucket's journal restores the hook.
	next, err := journal.ReadMirror(t.Context(), last.store)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "rebuilt.db")
	if _, err := index.Rebuild(path, next); err != nil {
		t.Fatal(err)
	}
	rix, err := index.Open(path, index.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer rix.Close()
	sk, err := secrets.Load(env.secretsKey)
	if err != nil {
		t.Fatal(err)
	}
	rix.SetSecrets(sk)
	hooks, _, err := rix.Webhooks()
	if err != nil || len(hooks) != 1 || hooks[0].ID != created.ID || hooks[0].Secret != hookSecret || hooks[0].URL != hookURL {
		t.Fatalf("rebuilt hooks %+v (%v)", hooks, err)
	}
	if err := rix.CheckWebhookSecrets(); err != nil {
		t.Fatal(err)
	}
}

// checkBucketClean reads every journal object and segment in the bucket:
// the hook's record is there, sealed, and no secret or URL path or query.
func checkBucketClean(t *testing.T, st storage.BlobStore) {
	t.Helper()
	var all strings.Builder
	err := st.List(t.Context(), storage.JournalPrefix, func(in storage.Info) error {
		rc, _, err := st.Get(t.Context(), in.Key, 0, -1)
		if err != nil {
			return err
		}
		defer rc.Close()
		b, err := io.ReadAll(rc)
		all.Write(b)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	s := all.String()
	if !strings.Contains(s, `"webhook_records"`) || !strings.Contains(s, `"sealed":"v1:`) {
		t.Fatal("the bucket's journal does not carry the sealed webhook record")
	}
	for _, f := range []string{"T0SECRETPATH", "querysecret123", hookSecret, url.QueryEscape(hookSecret)} {
		if strings.Contains(s, f) {
			t.Errorf("the bucket's journal carries %q", f)
		}
	}
}

// testLogger shows warnings when RELIQUARY_TEST_LOG is set.
func testLogger(name string) *slog.Logger {
	if os.Getenv("RELIQUARY_TEST_LOG") == "" {
		return slog.New(slog.DiscardHandler)
	}
	return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo})).With("node", name)
}
