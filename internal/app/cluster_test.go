package app_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
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
	"github.com/reliquary/reliquary/internal/library"
	"github.com/reliquary/reliquary/internal/signing"
	"github.com/reliquary/reliquary/internal/testenv"
	"github.com/reliquary/reliquary/storage"
	"github.com/reliquary/reliquary/storage/fs"
	"github.com/reliquary/reliquary/storage/s3"
)

// A cluster node for the tests: app.New on its own data dir over a store
// shared with the other nodes, served on a loopback port.
type node struct {
	t    *testing.T
	a    *app.App
	url  string
	dir  string
	stop func()
}

// clusterStores opens one store per node on one bucket (or one directory).
type storeFactory func(t testing.TB) storage.BlobStore

func fsCluster(t testing.TB) storeFactory {
	dir := filepath.Join(t.TempDir(), "blobs")
	return func(t testing.TB) storage.BlobStore {
		st, err := fs.New(dir)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { st.Close() })
		return st
	}
}

func s3Cluster(t testing.TB) storeFactory {
	cfg := testenv.SharedMinIO(t).Config(t)
	return func(t testing.TB) storage.BlobStore {
		st, err := s3.New(cfg)
		if err != nil {
			t.Fatal(err)
		}
		return st
	}
}

// startNode starts a node over store. keyFrom, when set, is the data dir
// of a node whose signing key this one shares (every node of a library
// signs with the same key). run starts its background workers (the
// follower among them).
func startNode(t *testing.T, store storage.BlobStore, keyFrom string, run bool) *node {
	t.Helper()
	dir := t.TempDir()
	if keyFrom != "" {
		key, err := os.ReadFile(filepath.Join(keyFrom, signing.DefaultKeyFile))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, signing.DefaultKeyFile), key, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	a, err := app.New(t.Context(), app.Config{DataDir: dir, Store: store, AdminToken: testenv.AdminSecret,
		MirrorInterval: 20 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(a.Handler())
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	if run {
		go func() { a.Run(ctx); close(done) }()
	} else {
		close(done)
	}
	var once sync.Once
	n := &node{t: t, a: a, url: hs.URL, dir: dir}
	n.stop = func() {
		once.Do(func() {
			cancel()
			<-done
			hs.Close()
			a.Close()
		})
	}
	t.Cleanup(n.stop)
	return n
}

// do sends a request and returns the status, the body and the headers.
func (n *node) do(method, path, body string, hdr ...string) (int, string, http.Header) {
	n.t.Helper()
	req, err := http.NewRequest(method, n.url+path, strings.NewReader(body))
	if err != nil {
		n.t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+testenv.AdminSecret)
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		n.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), resp.Header
}

func (n *node) createProduct(name string) (int, uint64) {
	code, body, h := n.do("POST", "/api/v1/products", `{"name":"`+name+`"}`)
	seq, err := strconv.ParseUint(h.Get("X-Reliquary-Seq"), 10, 64)
	if err != nil {
		n.t.Errorf("create %s: %d %s: X-Reliquary-Seq %q", name, code, body, h.Get("X-Reliquary-Seq"))
	}
	return code, seq
}

func (n *node) head() uint64 {
	seq, _, err := n.a.Index.Head()
	if err != nil {
		n.t.Fatal(err)
	}
	return seq
}

// sameChain checks every node holds the same verified journal.
func sameChain(t *testing.T, nodes ...*node) []*journal.Event {
	t.Helper()
	var want []*journal.Event
	for i, n := range nodes {
		rep, err := n.a.Index.VerifyJournal()
		if err != nil || !rep.OK {
			t.Fatalf("node %d: journal does not verify: %+v %v", i, rep, err)
		}
		evs, err := n.a.Index.EventsAfter(0, 0)
		if err != nil {
			t.Fatal(err)
		}
		if i == 0 {
			want = evs
			continue
		}
		if len(evs) != len(want) {
			t.Fatalf("node %d holds %d events, node 0 %d", i, len(evs), len(want))
		}
		for k := range evs {
			if evs[k].Seq != want[k].Seq || evs[k].Hash != want[k].Hash {
				t.Fatalf("node %d differs from node 0 at seq %d", i, want[k].Seq)
			}
		}
	}
	return want
}

func waitAll(t *testing.T, seq uint64, nodes ...*node) {
	t.Helper()
	for i, n := range nodes {
		ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
		err := n.a.Lib.WaitForSeq(ctx, seq)
		cancel()
		if err != nil {
			t.Fatalf("node %d: %v", i, err)
		}
	}
}

// TestClusterWritersThroughAllNodes: three nodes on one bucket (MinIO) or
// one directory (fs); nine clients create products through all of them at
// once, some racing for the same names. Every seq is used once, every node
// ends with the same chain, every acknowledged write is on every node with
// the seq it was acknowledged with, and each contested name was created
// exactly once (the others got 409 PRODUCT_EXISTS after re-deciding).
func TestClusterWritersThroughAllNodes(t *testing.T) {
	for name, mk := range map[string]func(testing.TB) storeFactory{"fs": fsCluster, "s3": s3Cluster} {
		t.Run(name, func(t *testing.T) {
			newStore := mk(t)
			n0 := startNode(t, newStore(t), "", true)
			nodes := []*node{n0, startNode(t, newStore(t), n0.dir, true), startNode(t, newStore(t), n0.dir, true)}
			type ack struct {
				name string
				seq  uint64
			}
			var mu sync.Mutex
			var acks []ack
			contested := map[string]int{}
			var wg sync.WaitGroup
			for c := range 9 {
				n := nodes[c%3]
				wg.Go(func() {
					for i := range 8 {
						names := []string{fmt.Sprintf("p-%d-%d", c, i), fmt.Sprintf("race-%d", i)}
						for _, pn := range names {
							code, seq := n.createProduct(pn)
							mu.Lock()
							switch code {
							case http.StatusCreated:
								acks = append(acks, ack{pn, seq})
								if strings.HasPrefix(pn, "race-") {
									contested[pn]++
								}
							case http.StatusConflict:
							default:
								t.Errorf("create %s: %d", pn, code)
							}
							mu.Unlock()
						}
					}
				})
			}
			wg.Wait()
			var top uint64
			seen := map[uint64]string{}
			for _, a := range acks {
				if other, dup := seen[a.seq]; dup {
					t.Errorf("seq %d acknowledged for %s and %s", a.seq, other, a.name)
				}
				seen[a.seq] = a.name
				top = max(top, a.seq)
			}
			for i := range 8 {
				if got := contested[fmt.Sprintf("race-%d", i)]; got != 1 {
					t.Errorf("race-%d was created %d times", i, got)
				}
			}
			if len(acks) != 9*8+8 {
				t.Errorf("%d acknowledged creates, want %d", len(acks), 9*8+8)
			}
			waitAll(t, top, nodes...)
			evs := sameChain(t, nodes...)
			bySeq := map[uint64]*journal.Event{}
			for _, e := range evs {
				bySeq[e.Seq] = e
			}
			for _, a := range acks {
				if e := bySeq[a.seq]; e == nil || e.Type != "product.created" || e.Subject != a.name {
					t.Errorf("seq %d was acknowledged for %s but holds %+v", a.seq, a.name, e)
				}
				for i, n := range nodes {
					if code, _, _ := n.do("GET", "/api/v1/products/"+a.name, ""); code != 200 {
						t.Errorf("node %d: product %s: %d", i, a.name, code)
					}
				}
			}
		})
	}
}

// TestClusterLostRaceReDecides: two nodes create the same release. B has
// not seen A's create when it decides (its follower is not running), so
// its commit loses the race for the seq; it catches up, re-runs the
// decision and answers the domain's 409 RELEASE_EXISTS. Racing at once,
// one gets 201 and the other 409.
func TestClusterLostRaceReDecides(t *testing.T) {
	newStore := s3Cluster(t)
	a := startNode(t, newStore(t), "", false)
	b := startNode(t, newStore(t), a.dir, false)
	if code, _ := a.createProduct("hr"); code != 201 {
		t.Fatalf("create product: %d", code)
	}
	if code, body, _ := b.do("GET", "/api/v1/products/hr", "", "X-Reliquary-Min-Seq", "latest"); code != 200 {
		t.Fatalf("B reads hr: %d %s", code, body)
	}
	if code, body, _ := a.do("POST", "/api/v1/products/hr/releases", `{"version":"1.0.0"}`); code != 201 {
		t.Fatalf("A creates 1.0.0: %d %s", code, body)
	}
	before := b.head()
	code, body, h := b.do("POST", "/api/v1/products/hr/releases", `{"version":"1.0.0"}`)
	if code != http.StatusConflict || !strings.Contains(body, "RELEASE_EXISTS") {
		t.Fatalf("B creates 1.0.0 after A: %d %s, want 409 RELEASE_EXISTS", code, body)
	}
	if b.head() != before+1 || h.Get("X-Reliquary-Seq") != strconv.FormatUint(b.head(), 10) {
		t.Errorf("B's head %d (was %d), X-Reliquary-Seq %q: it should have applied A's event", b.head(), before, h.Get("X-Reliquary-Seq"))
	}
	for i := range 5 {
		v := fmt.Sprintf(`{"version":"2.0.%d"}`, i)
		var codes [2]int
		var wg sync.WaitGroup
		for k, n := range []*node{a, b} {
			wg.Go(func() { codes[k], _, _ = n.do("POST", "/api/v1/products/hr/releases", v) })
		}
		wg.Wait()
		if min(codes[0], codes[1]) != 201 || max(codes[0], codes[1]) != 409 {
			t.Errorf("racing creates of %s: %v, want one 201 and one 409", v, codes)
		}
	}
	waitAll(t, max(a.head(), b.head()), a, b)
	sameChain(t, a, b)
}

// faultyStore wraps a store: ackLost makes the next commit PUT land and
// then answer a timeout; down makes every call fail as unreachable.
type faultyStore struct {
	storage.BlobStore
	ackLost atomic.Int32
	down    atomic.Bool
}

var errPartition = fmt.Errorf("dial tcp: connection refused (partitioned): %w", storage.ErrUnavailable)

func isCommit(key string) bool {
	return strings.HasPrefix(key, storage.JournalPrefix) && !strings.Contains(strings.TrimPrefix(key, storage.JournalPrefix), "/")
}

func (f *faultyStore) Put(ctx context.Context, key string, r io.Reader, size int64, o storage.PutOptions) (storage.Info, error) {
	if f.down.Load() {
		return storage.Info{}, errPartition
	}
	if isCommit(key) && f.ackLost.Add(-1) >= 0 {
		if _, err := f.BlobStore.Put(ctx, key, r, size, o); err != nil {
			return storage.Info{}, err
		}
		return storage.Info{}, fmt.Errorf("put %s: context deadline exceeded (the answer was lost): %w", key, storage.ErrUnavailable)
	}
	return f.BlobStore.Put(ctx, key, r, size, o)
}

func (f *faultyStore) Get(ctx context.Context, key string, off, n int64) (io.ReadCloser, storage.Info, error) {
	if f.down.Load() {
		return nil, storage.Info{}, errPartition
	}
	return f.BlobStore.Get(ctx, key, off, n)
}

func (f *faultyStore) Stat(ctx context.Context, key string) (storage.Info, error) {
	if f.down.Load() {
		return storage.Info{}, errPartition
	}
	return f.BlobStore.Stat(ctx, key)
}

func (f *faultyStore) List(ctx context.Context, prefix string, fn func(storage.Info) error) error {
	if f.down.Load() {
		return errPartition
	}
	return f.BlobStore.List(ctx, prefix, fn)
}

func (f *faultyStore) Ping(ctx context.Context) error {
	if f.down.Load() {
		return errPartition
	}
	return f.BlobStore.Ping(ctx)
}

// countCommits counts the commit objects holding an event of the given
// type and subject.
func countCommits(t *testing.T, store storage.BlobStore, typ, subject string) int {
	t.Helper()
	n := 0
	err := store.List(t.Context(), storage.JournalPrefix, func(i storage.Info) error {
		if !isCommit(i.Key) {
			return nil
		}
		rc, _, err := store.Get(t.Context(), i.Key, 0, -1)
		if err != nil {
			return err
		}
		b, _ := io.ReadAll(rc)
		rc.Close()
		var seq uint64
		fmt.Sscanf(strings.TrimPrefix(i.Key, storage.JournalPrefix), "%d.json", &seq)
		evs, err := journal.DecodeObject(seq, b)
		if err != nil {
			return err
		}
		for _, e := range evs {
			if e.Type == typ && e.Subject == subject {
				n++
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// TestClusterUnknownOutcome: the commit PUT lands but its answer is lost
// (a timeout). The node reads the object back, finds its own transaction
// and acknowledges it: committed exactly once, applied once. The same
// with the answer lost on a PUT that did not land is retried.
func TestClusterUnknownOutcome(t *testing.T) {
	for name, mk := range map[string]func(testing.TB) storeFactory{"fs": fsCluster, "s3": s3Cluster} {
		t.Run(name, func(t *testing.T) {
			newStore := mk(t)
			fst := &faultyStore{BlobStore: newStore(t)}
			a := startNode(t, fst, "", false)
			before := a.head()
			fst.ackLost.Store(1)
			code, seq := a.createProduct("hr")
			if code != 201 || seq != before+1 || a.head() != seq {
				t.Fatalf("create after a lost answer: %d seq %d head %d (was %d)", code, seq, a.head(), before)
			}
			if n := countCommits(t, fst.BlobStore, "product.created", "hr"); n != 1 {
				t.Fatalf("the bucket holds %d commits of hr", n)
			}
			b := startNode(t, newStore(t), a.dir, false)
			waitAll(t, seq, b)
			sameChain(t, a, b)
		})
	}
}

// TestClusterPartition: a node cut off from the store refuses writes with
// 503 STORAGE_UNAVAILABLE and applies nothing, while the other node goes
// on; healed, it catches up and writes again, and both hold one chain.
func TestClusterPartition(t *testing.T) {
	newStore := s3Cluster(t)
	fst := &faultyStore{BlobStore: newStore(t)}
	a := startNode(t, fst, "", true)
	b := startNode(t, newStore(t), a.dir, true)
	if code, _ := a.createProduct("before"); code != 201 {
		t.Fatal(code)
	}
	fst.down.Store(true)
	headA := a.head()
	code, body, h := a.do("POST", "/api/v1/products", `{"name":"cut-off"}`)
	if code != http.StatusServiceUnavailable || !strings.Contains(body, "STORAGE_UNAVAILABLE") || h.Get("Retry-After") == "" {
		t.Fatalf("write on a partitioned node: %d %s", code, body)
	}
	if a.head() != headA {
		t.Fatalf("the partitioned node applied a write: head %d, was %d", a.head(), headA)
	}
	var last uint64
	for i := range 5 {
		c, seq := b.createProduct(fmt.Sprintf("during-%d", i))
		if c != 201 {
			t.Fatalf("write on the healthy node: %d", c)
		}
		last = seq
	}
	if code, _, _ := a.do("GET", "/api/v1/products/during-4", "", "X-Reliquary-Min-Seq", strconv.FormatUint(last, 10)); code != http.StatusServiceUnavailable {
		t.Errorf("read-your-write on the partitioned node: %d, want 503", code)
	}
	fst.down.Store(false)
	if code, body, _ := a.do("GET", "/api/v1/products/during-4", "", "X-Reliquary-Min-Seq", strconv.FormatUint(last, 10)); code != 200 {
		t.Fatalf("read-your-write after healing: %d %s", code, body)
	}
	if code, _ := a.createProduct("cut-off"); code != 201 {
		t.Fatalf("write after healing: %d", code)
	}
	waitAll(t, max(a.head(), b.head()), a, b)
	evs := sameChain(t, a, b)
	for _, e := range evs {
		if e.Subject == "cut-off" && e.Seq <= last {
			t.Errorf("the refused write is in the journal at seq %d", e.Seq)
		}
	}
}

// TestClusterMinSeq: X-Reliquary-Min-Seq waits for the event (reading the
// bucket at once: B runs no follower loop here), answers 503
// NOT_CAUGHT_UP with Retry-After after 5 s for an event nobody committed,
// 400 for a bad value; "latest" reads to the bucket's head first.
func TestClusterMinSeq(t *testing.T) {
	newStore := fsCluster(t)
	a := startNode(t, newStore(t), "", false)
	b := startNode(t, newStore(t), a.dir, false)
	_, seq := a.createProduct("hr")
	if code, _, _ := b.do("GET", "/api/v1/products/hr", ""); code != 404 {
		t.Fatalf("B without Min-Seq (no follower running): %d, want 404 (stale)", code)
	}
	if code, body, _ := b.do("GET", "/api/v1/products/hr", "", "X-Reliquary-Min-Seq", strconv.FormatUint(seq, 10)); code != 200 {
		t.Fatalf("B with Min-Seq %d: %d %s", seq, code, body)
	}
	a.createProduct("crm")
	if code, body, _ := b.do("GET", "/api/v1/products/crm", "", "X-Reliquary-Min-Seq", "latest"); code != 200 {
		t.Fatalf("B with Min-Seq latest: %d %s", code, body)
	}
	for _, bad := range []string{"abc", "-1", "1e3", "+5", "123456789012345678901", "LATEST"} {
		code, body, _ := b.do("GET", "/api/v1/products", "", "X-Reliquary-Min-Seq", bad)
		if code != 400 || !strings.Contains(body, "INVALID_INPUT") {
			t.Errorf("Min-Seq %q: %d %s, want 400", bad, code, body)
		}
	}
	start := time.Now()
	code, body, h := b.do("GET", "/api/v1/products", "", "X-Reliquary-Min-Seq", strconv.FormatUint(seq+1000, 10))
	var env struct {
		Error struct{ Code string } `json:"error"`
	}
	_ = json.Unmarshal([]byte(body), &env)
	if code != 503 || env.Error.Code != "NOT_CAUGHT_UP" || h.Get("Retry-After") == "" {
		t.Fatalf("Min-Seq beyond the journal: %d %s (Retry-After %q)", code, body, h.Get("Retry-After"))
	}
	if d := time.Since(start); d < 4*time.Second || d > 8*time.Second {
		t.Errorf("NOT_CAUGHT_UP after %v, want about 5 s", d)
	}
}

// overwritingStore replaces existing objects: a store that ignores
// If-None-Match.
type overwritingStore struct{ storage.BlobStore }

func (o overwritingStore) Put(ctx context.Context, key string, r io.Reader, size int64, opts storage.PutOptions) (storage.Info, error) {
	_ = o.BlobStore.Delete(ctx, key)
	return o.BlobStore.Put(ctx, key, r, size, opts)
}

// TestClusterProbeRefusesOverwritingStore: a store that replaces an object
// on a create-only PUT is refused at start, naming the problem.
func TestClusterProbeRefusesOverwritingStore(t *testing.T) {
	st := newStore(t, t.TempDir())
	_, err := app.New(t.Context(), app.Config{DataDir: t.TempDir(), Store: overwritingStore{st}})
	if !errors.Is(err, app.ErrStoreOverwrites) || !strings.Contains(err.Error(), "If-None-Match") {
		t.Fatalf("app.New on an overwriting store: %v", err)
	}
	var left []string
	_ = st.List(t.Context(), app.ProbePrefix, func(i storage.Info) error { left = append(left, i.Key); return nil })
	if len(left) != 0 {
		t.Errorf("probe objects left behind: %v", left)
	}
	// The honest store passes the probe.
	a, err := app.New(t.Context(), app.Config{DataDir: t.TempDir(), Store: st})
	if err != nil {
		t.Fatal(err)
	}
	a.Close()
}

// TestClusterRefusesOtherSigningKey: a node whose signing key did not sign
// the bucket's journal (its checkpoints) refuses to start and says so.
func TestClusterRefusesOtherSigningKey(t *testing.T) {
	newStore := fsCluster(t)
	a := startNode(t, newStore(t), "", false)
	a.createProduct("hr")
	if _, err := a.a.Mirror.Pass(t.Context()); err != nil { // writes the signed checkpoint
		t.Fatal(err)
	}
	other := startNode(t, fsCluster(t)(t), "", false) // its own store and key...
	other.stop()
	dir := t.TempDir()
	key, err := os.ReadFile(filepath.Join(other.dir, signing.DefaultKeyFile))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, signing.DefaultKeyFile), key, 0o600); err != nil {
		t.Fatal(err)
	}
	_, err = app.New(t.Context(), app.Config{DataDir: dir, Store: newStore(t)}) // ...on a's bucket
	if !errors.Is(err, app.ErrKeyMismatch) || !strings.Contains(err.Error(), "--signing-key") {
		t.Fatalf("a node with another key: %v", err)
	}
	// The library's key starts.
	startNode(t, newStore(t), a.dir, false)
}

// TestClusterPublishesTheIndexTail: events an index holds that the bucket
// lacks (written before the bucket was the commit point, or offline by
// `token reset-admin`) are committed to the bucket at start, so another
// node sees them; the index's next write follows them.
func TestClusterPublishesTheIndexTail(t *testing.T) {
	newStore := fsCluster(t)
	dir := t.TempDir()
	ix, err := index.Open(filepath.Join(dir, "index.db"), index.Options{})
	if err != nil {
		t.Fatal(err)
	}
	lib := library.New(library.Config{Repo: ix})
	if _, err := lib.BootstrapAdmin(t.Context(), testenv.AdminSecret); err != nil {
		t.Fatal(err)
	}
	ix.Close()
	st := newStore(t)
	if has, _ := journal.HasJournal(t.Context(), st); has {
		t.Fatal("the bucket has a journal before the node started")
	}
	a, err := app.New(t.Context(), app.Config{DataDir: dir, Store: st})
	if err != nil {
		t.Fatal(err)
	}
	a.Close()
	a2 := startNode(t, st, dir, false)
	_, seq := a2.createProduct("hr")
	if seq != 2 {
		t.Fatalf("the first write after the tail: seq %d, want 2", seq)
	}
	b := startNode(t, newStore(t), dir, false)
	if code, body, _ := b.do("GET", "/api/v1/products/hr", "", "X-Reliquary-Min-Seq", "2"); code != 200 {
		t.Fatalf("another node with the admin token of the published tail: %d %s", code, body)
	}
	sameChain(t, a2, b)
}

func TestMain(m *testing.M) {
	code := m.Run()
	testenv.StopShared()
	os.Exit(code)
}
