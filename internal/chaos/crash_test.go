package chaos_test

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"os"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/reliquary/reliquary/internal/testenv"
)

// What the clients were told. An operation answered 2xx is acknowledged
// and must survive any crash; one that got no answer (the server died
// under it) may have happened or not, but never halfway; one answered with
// an error must not have happened.

type artifactRec struct {
	seed, size int64
	acked      bool // answered 2xx
	refused    bool // answered with an error: must not exist
	verified   bool // downloaded and checked after a restart
}

type releaseRec struct {
	product, version string
	state            string // last acknowledged state ("" while the create is unanswered)
	pending          string // state of a transition sent but unanswered
	artifacts        map[string]*artifactRec
}

type ledger struct {
	mu   sync.Mutex
	rels map[string]*releaseRec
	acks int // acknowledged changes
	// Unanswered operations found done / not done after a restart.
	unansweredDone, unansweredUndone int
}

func (l *ledger) add(product, version string) *releaseRec {
	l.mu.Lock()
	defer l.mu.Unlock()
	r := &releaseRec{product: product, version: version, pending: "draft", artifacts: map[string]*artifactRec{}}
	l.rels[product+"@"+version] = r
	return r
}

var stateOrder = []string{"draft", "candidate", "approved", "released", "withdrawn"}

// workload is the mixed client load of one round between two kills.
type workload struct {
	t       *testing.T
	l       *ledger
	ci      *caller // publisher: creates, uploads, seals
	rm1     *caller // release manager: approves, withdraws
	rm2     *caller // release manager: promotes
	uploads bool    // only uploads (issue 6's variant), no transitions
	errs    chan string
}

var sizes = []int64{0, 1 << 10, 37 << 10, 300 << 10, 1 << 20, 3<<20 + 17, 6 << 20}

// worker runs until the server dies (a transport error) or ctx ends.
func (w *workload) worker(ctx context.Context, round, id int, rnd *rand.Rand) {
	product := fmt.Sprintf("p%d", id%2)
	for seq := 0; ctx.Err() == nil; seq++ {
		version := fmt.Sprintf("%d.%d.%d", round+1, id, seq)
		rel := w.l.add(product, version)
		if !w.step(ctx, rel, "draft", w.ci, "POST", "/products/"+product+"/releases",
			map[string]any{"version": version, "change_id": "CHG-" + version}, 201) {
			return
		}
		n := 1 + rnd.IntN(3)
		if w.uploads {
			n = 1 << 30 // upload until the crash
		}
		for i := range n {
			name := fmt.Sprintf("a%d.bin", i)
			size := sizes[rnd.IntN(len(sizes))]
			if w.uploads {
				size = sizes[2+rnd.IntN(len(sizes)-2)]
				if rnd.IntN(8) == 0 {
					size = 17 << 20 // multipart on S3
				}
			}
			a := &artifactRec{seed: rnd.Int64(), size: size}
			w.l.mu.Lock()
			rel.artifacts[name] = a
			w.l.mu.Unlock()
			status, body, err := w.ci.upload(ctx, artifactPath(product, version, name), a.seed, a.size)
			if err != nil {
				return
			}
			w.l.mu.Lock()
			if status == 201 {
				a.acked = true
				w.l.acks++
			} else {
				a.refused = true
			}
			w.l.mu.Unlock()
			if status != 201 {
				w.errs <- fmt.Sprintf("upload %s@%s/%s: %d %s", product, version, name, status, body)
				return
			}
		}
		base := "/products/" + product + "/releases/" + version
		if !w.step(ctx, rel, "candidate", w.ci, "POST", base+"/seal", nil, 200) ||
			!w.step(ctx, rel, "approved", w.rm1, "POST", base+"/approvals", map[string]any{"comment": "ok"}, 200) ||
			!w.step(ctx, rel, "released", w.rm2, "POST", base+"/promote", map[string]any{"to": "released", "change_id": "CHG-" + version}, 200) {
			return
		}
		if rnd.IntN(3) == 0 && !w.step(ctx, rel, "withdrawn", w.rm1, "POST", base+"/withdraw",
			map[string]any{"reason": "backout", "change_id": "CHG-W-" + version}, 200) {
			return
		}
	}
}

// step sends one transition and records it; false when the worker must
// stop (no answer, or an unexpected one).
func (w *workload) step(ctx context.Context, rel *releaseRec, to string, c *caller, method, path string, in any, want int) bool {
	w.l.mu.Lock()
	rel.pending = to
	w.l.mu.Unlock()
	status, body, err := c.call(ctx, method, path, in)
	if err != nil {
		return false
	}
	w.l.mu.Lock()
	defer w.l.mu.Unlock()
	rel.pending = ""
	if status != want {
		w.errs <- fmt.Sprintf("%s %s: %d %s, want %d", method, path, status, body, want)
		return false
	}
	rel.state = to
	w.l.acks++
	return true
}

type crashConfig struct {
	kills   int
	clients int
	uploads bool // issue 6's variant: uploads only
	store   string
}

// TestCrashUnderMixedWorkload SIGKILLs `reliquary serve` at random points
// of a mixed workload (uploads of 0 B to 6 MiB, seals, approvals,
// promotions, withdrawals from several clients). After each kill, with the
// server stopped: `audit verify` passes, `fsck --repair` finds nothing but
// orphans and partial writes, `fsck --deep` is clean; after the restart
// every acknowledged change is there and nothing unacknowledged is half
// visible. RELIQUARY_CHAOS_KILLS sets the number of kills (make chaos: 20).
func TestCrashUnderMixedWorkload(t *testing.T) {
	kills := testenv.EnvInt("RELIQUARY_CHAOS_KILLS", 3)
	t.Run("fs", func(t *testing.T) { crashTest(t, crashConfig{kills: kills, clients: 6, store: "fs"}) })
	if os.Getenv("RELIQUARY_CHAOS_KILLS") != "" {
		t.Run("s3", func(t *testing.T) { crashTest(t, crashConfig{kills: max(kills/4, 2), clients: 6, store: "s3"}) })
	}
}

// TestCrashWhileUploading is issue 6's crash test: SIGKILL while 8 clients
// upload; after the restart every upload answered 2xx is downloadable with
// its digest, none answered with an error is visible, one cut by the kill
// is either absent or complete; fsck --repair then fsck is clean.
func TestCrashWhileUploading(t *testing.T) {
	kills := max(testenv.EnvInt("RELIQUARY_CHAOS_KILLS", 2)/4, 2)
	for _, store := range []string{"fs", "s3"} {
		t.Run(store, func(t *testing.T) { crashTest(t, crashConfig{kills: kills, clients: 8, uploads: true, store: store}) })
	}
}

func crashTest(t *testing.T, cfg crashConfig) {
	var args []string
	if cfg.store == "s3" {
		args = s3Args(t, testenv.StartMinIO(t))
	}
	srv := newServer(t, t.TempDir(), args...)
	srv.start(nil)
	admin := newCaller(srv.url(), adminSecret, http.DefaultClient)
	for _, p := range []string{"p0", "p1"} {
		admin.must(t, 201, "POST", "/products", map[string]any{"name": p})
	}
	tokens := map[string]string{"ci": admin.newToken(t, "ci", "publisher"),
		"rm1": admin.newToken(t, "alice", "release-manager"), "rm2": admin.newToken(t, "bob", "release-manager")}

	seed := uint64(time.Now().UnixNano())
	t.Logf("random seed %d (%s store, %d clients, %d kills)", seed, cfg.store, cfg.clients, cfg.kills)
	rnd := rand.New(rand.NewPCG(seed, 1))
	l := &ledger{rels: map[string]*releaseRec{}}
	var orphans, partials int
	start := time.Now()
	for round := range cfg.kills {
		hc := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 16}}
		w := &workload{t: t, l: l, uploads: cfg.uploads, errs: make(chan string, 1024),
			ci: newCaller(srv.url(), tokens["ci"], hc), rm1: newCaller(srv.url(), tokens["rm1"], hc), rm2: newCaller(srv.url(), tokens["rm2"], hc)}
		ctx, cancel := context.WithCancel(context.Background())
		var wg sync.WaitGroup
		for id := range cfg.clients {
			r := rand.New(rand.NewPCG(rnd.Uint64(), uint64(id)))
			wg.Go(func() { w.worker(ctx, round, id, r) })
		}
		time.Sleep(time.Duration(150+rnd.IntN(1500)) * time.Millisecond)
		srv.kill()
		cancel()
		wg.Wait()
		hc.CloseIdleConnections()
		close(w.errs)
		for e := range w.errs {
			t.Errorf("round %d: %s", round, e)
		}

		// Offline, with the server stopped.
		if code, out := srv.tool("audit", "verify"); code != 0 {
			t.Fatalf("round %d: audit verify after SIGKILL: exit %d\n%s", round, code, out)
		}
		code, out := srv.tool("fsck", "--repair", "--json")
		var rep struct {
			Findings []struct{ Kind, Key, Detail string }
		}
		if err := json.NewDecoder(strings.NewReader(out[max(strings.Index(out, "{"), 0):])).Decode(&rep); err != nil || code > 1 {
			t.Fatalf("round %d: fsck --repair: exit %d %v\n%s", round, code, err, out)
		}
		for _, f := range rep.Findings {
			switch f.Kind {
			case "orphan":
				orphans++
			case "partial_write":
				partials++
			default:
				t.Errorf("round %d: fsck after SIGKILL: %s %s: %s", round, f.Kind, f.Key, f.Detail)
			}
		}
		if code, out := srv.tool("fsck", "--deep"); code != 0 {
			t.Errorf("round %d: fsck --deep after fsck --repair: exit %d\n%s", round, code, out)
		}

		srv.start(nil)
		verifyLedger(t, round, admin, l)
		if t.Failed() {
			t.Fatalf("stopping after round %d", round)
		}
	}
	srv.stop()
	byState := map[string]int{}
	arts := 0
	for _, r := range l.rels {
		byState[r.state]++
		arts += len(r.artifacts)
	}
	t.Logf("%d SIGKILLs in %s: all %d acknowledged changes present after every restart; operations cut by a kill: %d found complete, %d found absent, none half-done; final library: %d releases %v, %d artifacts, every one downloaded once with its digest; fsck --repair removed %d orphans and %d partial writes; audit verify and fsck --deep clean after every kill",
		cfg.kills, time.Since(start).Round(time.Second), l.acks, l.unansweredDone, l.unansweredUndone, len(l.rels), byState, arts, orphans, partials)
}

// verifyLedger checks the restarted server against what clients were told,
// then adopts what it shows (now durable) as the new baseline.
func verifyLedger(t *testing.T, round int, c *caller, l *ledger) {
	t.Helper()
	ctx := context.Background()
	l.mu.Lock()
	defer l.mu.Unlock()
	keys := make([]string, 0, len(l.rels))
	for k := range l.rels {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		r := l.rels[k]
		status, body, err := c.call(ctx, "GET", "/products/"+r.product+"/releases/"+r.version, nil)
		if err != nil {
			t.Fatalf("round %d: get %s: %v", round, k, err)
		}
		if status == 404 {
			l.unansweredUndone++
			if r.state != "" {
				t.Errorf("round %d: %s acknowledged as %s is gone after the restart", round, k, r.state)
			}
			delete(l.rels, k) // never created: forget it
			continue
		}
		var got struct {
			State     string
			Artifacts []struct {
				Name   string
				Size   int64
				SHA256 string
			}
		}
		if status != 200 || json.Unmarshal(body, &got) != nil {
			t.Fatalf("round %d: get %s: %d %s", round, k, status, body)
		}
		if got.State != r.state && got.State != r.pending {
			t.Errorf("round %d: %s is %s after the restart; acknowledged %q, unanswered %q", round, k, got.State, r.state, r.pending)
		}
		if slices.Index(stateOrder, got.State) >= 1 {
			if s, _, err := c.call(ctx, "GET", "/products/"+r.product+"/releases/"+r.version+"/manifest", nil); err != nil || s != 200 {
				t.Errorf("round %d: %s is %s but its manifest answers %d %v", round, k, got.State, s, err)
			}
		}
		switch {
		case r.pending != "" && got.State == r.pending:
			l.unansweredDone++
		case r.pending != "":
			l.unansweredUndone++
		}
		r.state, r.pending = got.State, ""
		listed := map[string]bool{}
		for _, a := range got.Artifacts {
			listed[a.Name] = true
			rec, ok := r.artifacts[a.Name]
			switch {
			case !ok:
				t.Errorf("round %d: %s lists artifact %s no client sent", round, k, a.Name)
				continue
			case rec.refused:
				t.Errorf("round %d: %s lists artifact %s whose upload was refused", round, k, a.Name)
			case a.Size != rec.size || a.SHA256 != digest(rec.seed, rec.size):
				t.Errorf("round %d: %s/%s listed with %d bytes %s, sent %d bytes %s", round, k, a.Name, a.Size, a.SHA256, rec.size, digest(rec.seed, rec.size))
			}
			if !rec.verified {
				s, sum, n, err := c.download(ctx, artifactPath(r.product, r.version, a.Name))
				if err != nil || s != 200 || n != rec.size || sum != digest(rec.seed, rec.size) {
					t.Errorf("round %d: download %s/%s: %d, %d of %d bytes, digest ok=%v, %v", round, k, a.Name, s, n, rec.size, sum == digest(rec.seed, rec.size), err)
				}
				rec.verified = true
			}
			if !rec.acked {
				l.unansweredDone++
			}
			rec.acked = true
		}
		for name, rec := range r.artifacts {
			if listed[name] {
				continue
			}
			if rec.acked {
				t.Errorf("round %d: %s/%s acknowledged with 201 is missing after the restart", round, k, name)
				continue
			}
			// Never committed: not downloadable either.
			if !rec.refused {
				l.unansweredUndone++
			}
			if s, _, _, err := c.download(ctx, artifactPath(r.product, r.version, name)); err != nil || s != 404 {
				t.Errorf("round %d: unacknowledged %s/%s is not listed but answers %d %v", round, k, name, s, err)
			}
			delete(r.artifacts, name)
		}
	}
}
