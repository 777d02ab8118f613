package cluster_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/reliquary/reliquary/internal/journal"
	"github.com/reliquary/reliquary/internal/testenv"
	"github.com/reliquary/reliquary/storage"
	"github.com/reliquary/reliquary/storage/s3"
)

// TestClusterKillsAndPartition is DESIGN §9's proof. Three nodes on one
// bucket; six clients send register writes, linearizable register reads
// (X-Reliquary-Min-Seq: latest) and release creations to all of them in
// turn while nodes are SIGKILLed and restarted and one node is cut off
// from MinIO (its proxy) for a while. Then:
//   - the cut-off node acknowledged no write while cut, and answered 503;
//   - the bucket's journal/ objects form one hash chain 1..N (no seq
//     twice, no fork), and every node's /events is exactly that chain;
//   - every acknowledged release is on every node, every acknowledged
//     register write is in the chain;
//   - porcupine finds the register history linearizable (and rejects
//     doctored copies of it);
//   - enough happened: minimum numbers of acknowledged writes and reads,
//     every planned kill done, the partition done.
//
// RELIQUARY_CLUSTER_SECONDS (default 40) and RELIQUARY_CLUSTER_KILLS
// (default 4) size it; `make chaos` runs it longer with more kills.
func TestClusterKillsAndPartition(t *testing.T) {
	if testing.Short() {
		t.Skip("a 3-node cluster run (-short)")
	}
	dur := time.Duration(testenv.EnvInt("RELIQUARY_CLUSTER_SECONDS", 40)) * time.Second
	kills := testenv.EnvInt("RELIQUARY_CLUSTER_KILLS", 4)
	began := time.Now()
	c := newCluster(t, 3)

	// The products, through the first node, before the clients start.
	for _, p := range []string{registerProduct(0), registerProduct(1), registerProduct(2), ackProduct} {
		if st, b, _, _, err := call(http.MethodPost, c.nodes[0].url()+"/api/v1/products", map[string]any{"name": p}, nil); st != http.StatusCreated {
			t.Fatalf("create product %s: %d %s %v", p, st, b, err)
		}
	}

	h := &history{t0: time.Now()}
	w := &workload{c: c, h: h, clients: 6}
	stop := make(chan struct{})
	var stopOnce sync.Once
	halt := func() { stopOnce.Do(func() { close(stop) }) }
	t.Cleanup(halt) // a t.Fatal in the schedule must not leave the clients running
	var wg sync.WaitGroup
	wg.Go(func() { w.run(stop) })

	// The schedule: the partition of the last node from 35% of the run for
	// a quarter of it (10-20 s); kills spread evenly, round robin over the
	// nodes, never of the node that is cut off.
	cut := c.nodes[2]
	cutFrom := dur * 35 / 100
	cutLen := min(max(dur/4, 10*time.Second), 20*time.Second)
	var cutAt, healAt int64
	var killed []string
	type action struct {
		at time.Duration
		do func()
	}
	actions := []action{
		{cutFrom, func() {
			cut.proxy.Cut()
			cutAt = h.now()
			t.Logf("%5.1fs partition: node %d cut off from MinIO", time.Since(h.t0).Seconds(), cut.id)
		}},
		{cutFrom + cutLen, func() {
			cut.proxy.Heal()
			healAt = h.now()
			t.Logf("%5.1fs partition healed", time.Since(h.t0).Seconds())
		}},
	}
	for i := range kills {
		actions = append(actions, action{dur * time.Duration(i+1) / time.Duration(kills+1), func() {
			victim := c.nodes[i%len(c.nodes)]
			if victim == cut && cut.proxy.IsCut() {
				victim = c.nodes[(i+1)%len(c.nodes)]
			}
			victim.kill()
			killed = append(killed, fmt.Sprintf("node%d@%.1fs", victim.id, time.Since(h.t0).Seconds()))
			time.Sleep(300 * time.Millisecond)
			victim.start()
			t.Logf("%5.1fs node %d killed and restarted", time.Since(h.t0).Seconds(), victim.id)
		}})
	}
	sort.SliceStable(actions, func(i, j int) bool { return actions[i].at < actions[j].at })
	schedule := func() {
		for _, a := range actions {
			time.Sleep(time.Until(h.t0.Add(a.at)))
			a.do()
		}
		time.Sleep(time.Until(h.t0.Add(dur)))
	}
	schedule()
	halt()
	wg.Wait()
	workTime := time.Since(h.t0)
	records := h.all()

	for _, n := range c.nodes {
		if !n.running() {
			t.Fatalf("node %d is not running at the end of the run:\n%s", n.id, n.log)
		}
	}

	// Figures.
	count := map[string]map[outcome]int{kindWrite: {}, kindRead: {}, kindRelease: {}}
	for _, r := range records {
		count[r.kind][r.out]++
	}
	t.Logf("%d requests in %s: register writes %v, reads %v, releases %v; kills %d %v; partition %.1fs",
		len(records), workTime.Round(time.Millisecond), count[kindWrite], count[kindRead], count[kindRelease],
		len(killed), killed, float64(healAt-cutAt)/1e9)

	// Enough happened for the checks below to mean something.
	if len(killed) != kills {
		t.Errorf("%d kills done, %d planned", len(killed), kills)
	}
	if cut.proxy.Cuts() != 1 || cutAt == 0 || healAt <= cutAt {
		t.Errorf("the partition did not happen: cuts %d, from %d to %d", cut.proxy.Cuts(), cutAt, healAt)
	}
	minimum := int(dur/time.Second) / 2
	if n := count[kindWrite][outOK]; n < minimum {
		t.Errorf("only %d acknowledged register writes (want at least %d)", n, minimum)
	}
	if n := count[kindRead][outOK]; n < minimum {
		t.Errorf("only %d register reads answered (want at least %d)", n, minimum)
	}
	if n := count[kindRelease][outOK]; n < minimum/2 {
		t.Errorf("only %d acknowledged releases (want at least %d)", n, minimum/2)
	}

	// While cut off, the node acknowledged no write and answered writes
	// 503, and answered no linearizable read (it cannot read the bucket's
	// head). A request sent during the partition and answered after the
	// heal may succeed: it is not counted.
	var cutWrites, cut503, cutReads int
	for _, r := range records {
		if r.node != cut.id || r.call < cutAt || r.ret > healAt {
			continue
		}
		if r.kind == kindRead {
			if r.out == outOK {
				t.Errorf("node %d answered a linearizable read (%s = %d) while cut off from the bucket (%d..%d ms)",
					cut.id, registerProduct(r.key), r.value, r.call/1e6, r.ret/1e6)
			}
			cutReads++
			continue
		}
		cutWrites++
		switch {
		case r.out == outOK:
			t.Errorf("node %d acknowledged a %s while cut off from the bucket (seq %d, %d..%d ms)", cut.id, r.kind, r.seq, r.call/1e6, r.ret/1e6)
		case r.status == http.StatusServiceUnavailable:
			cut503++
		default:
			t.Errorf("node %d answered a %s with %d %s (%s) while cut off: want 503", cut.id, r.kind, r.status, r.code, r.err)
		}
	}
	t.Logf("cut-off node: %d writes answered during the partition, %d of them 503; %d reads", cutWrites, cut503, cutReads)
	if cutWrites < 2 {
		t.Errorf("only %d writes to the cut-off node were answered during the partition", cutWrites)
	}
	if os.Getenv("RELIQUARY_CLUSTER_DEBUG") != "" {
		for _, r := range records {
			if r.node == cut.id && r.ret >= cutAt && r.call <= healAt {
				t.Logf("cut node: %s %d..%d ms (cut %d..%d) %d %s %s %s", r.kind, r.call/1e6, r.ret/1e6, cutAt/1e6, healAt/1e6, r.status, r.code, r.out, r.err)
			}
		}
	}

	// The bucket's journal is one chain, and every node holds exactly that
	// chain. A node may show events committed after the bucket was read
	// (a node's own background writes): the bucket is then read again.
	phase := time.Now()
	chain := bucketChain(t, c.s3)
	nodeEvs := make([][]*journal.Event, len(c.nodes))
	for i, n := range c.nodes {
		nodeEvs[i] = nodeEvents(t, n, uint64(len(chain)))
		if len(nodeEvs[i]) > len(chain) {
			chain = bucketChain(t, c.s3)
		}
	}
	t.Logf("bucket journal: %d events in one chain (read in %s)", len(chain), time.Since(phase).Round(time.Millisecond))
	for i, n := range c.nodes {
		evs := nodeEvs[i]
		if len(evs) < len(chain) {
			evs = nodeEvents(t, n, uint64(len(chain)))
		}
		if len(evs) != len(chain) {
			t.Errorf("node %d: %d events, the bucket %d", n.id, len(evs), len(chain))
			for _, e := range evs[min(len(evs), len(chain)):] {
				t.Errorf("node %d: event %d (%s %s by %s at %s) is not in the bucket", n.id, e.Seq, e.Type, e.Subject, e.Actor, e.Time.Format(time.RFC3339Nano))
			}
		}
		for i := range min(len(evs), len(chain)) {
			if evs[i].Seq != chain[i].Seq || evs[i].Hash != chain[i].Hash || evs[i].PrevHash != chain[i].PrevHash {
				t.Errorf("node %d: event %d is seq %d hash %.12s prev %.12s, the bucket's seq %d hash %.12s prev %.12s: a fork",
					n.id, i+1, evs[i].Seq, evs[i].Hash, evs[i].PrevHash, chain[i].Seq, chain[i].Hash, chain[i].PrevHash)
				break
			}
		}
	}

	// Every acknowledged change is on every node.
	phase = time.Now()
	written := policyValues(chain)
	for _, r := range records {
		if r.out != outOK {
			continue
		}
		switch r.kind {
		case kindRelease:
			minSeq := "latest"
			if r.seq > 0 {
				minSeq = strconv.FormatUint(r.seq, 10)
			}
			for _, n := range c.nodes {
				st, b, _, _, err := call(http.MethodGet, n.url()+"/api/v1/products/"+ackProduct+"/releases/"+r.version, nil,
					map[string]string{"X-Reliquary-Min-Seq": minSeq})
				if st != http.StatusOK {
					t.Errorf("acknowledged release %s (seq %d, via node %d) on node %d: %d %s %v", r.version, r.seq, r.node, n.id, st, b, err)
				}
			}
		case kindWrite:
			if !written[registerProduct(r.key)][r.value] {
				t.Errorf("acknowledged write %s := %d (seq %d, via node %d) is not in the journal", registerProduct(r.key), r.value, r.seq, r.node)
			}
		}
	}

	t.Logf("acknowledged changes checked in %s", time.Since(phase).Round(time.Millisecond))

	res, took := checkLinearizable(t, records)
	t.Logf("porcupine: %d register operations %s in %s; whole test %s",
		len(operations(records)), res, took.Round(time.Millisecond), time.Since(began).Round(time.Second))
	if t.Failed() {
		for _, n := range c.nodes {
			t.Logf("node %d log (last 3000 bytes):\n%s", n.id, tailString(n.log.String(), 3000))
		}
	}
}

func tailString(s string, n int) string {
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
}

var (
	eventKey   = regexp.MustCompile(`^journal/(\d{20})\.json$`)
	segmentKey = regexp.MustCompile(`^journal/segments/(\d{20})-(\d{20})\.jsonl$`)
)

// bucketChain reads every event of the bucket's journal (per-event objects
// and segments), checks that no seq has two different events, that the
// seqs run 1..N without a gap and that the hashes chain; it returns the
// chain.
func bucketChain(t *testing.T, cfg s3.Config) []*journal.Event {
	t.Helper()
	st, err := s3.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	var keys []string
	if err := st.List(ctx, storage.JournalPrefix, func(i storage.Info) error { keys = append(keys, i.Key); return nil }); err != nil {
		t.Fatal(err)
	}
	bySeq := map[uint64]*journal.Event{}
	put := func(key string, b []byte) {
		e, err := journal.Decode(b)
		if err != nil {
			t.Fatalf("%s: %v", key, err)
		}
		if prev, ok := bySeq[e.Seq]; ok && prev.Hash != e.Hash {
			t.Errorf("seq %d has two events in the bucket: %.12s and %.12s (%s): a fork", e.Seq, prev.Hash, e.Hash, key)
		}
		bySeq[e.Seq] = e
	}
	// Objects are read 8 at a time (thousands of small GETs), decoded in
	// key order.
	bodies := make([][]byte, len(keys))
	errs := make([]error, len(keys))
	var next atomic.Int64
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for {
				i := int(next.Add(1)) - 1
				if i >= len(keys) {
					return
				}
				if !eventKey.MatchString(keys[i]) && !segmentKey.MatchString(keys[i]) {
					continue
				}
				rc, _, err := st.Get(ctx, keys[i], 0, -1)
				if err != nil {
					errs[i] = err
					continue
				}
				bodies[i], errs[i] = io.ReadAll(rc)
				rc.Close()
			}
		})
	}
	wg.Wait()
	for i, k := range keys {
		if errs[i] != nil {
			t.Fatalf("read %s: %v", k, errs[i])
		}
		switch {
		case eventKey.MatchString(k):
			// One event, or a group commit's events one a line.
			seq, _ := strconv.ParseUint(eventKey.FindStringSubmatch(k)[1], 10, 64)
			evs, err := journal.DecodeObject(seq, bodies[i])
			if err != nil {
				t.Fatalf("%s: %v", k, err)
			}
			for _, e := range evs {
				raw, _ := json.Marshal(e)
				put(k, raw)
			}
		case segmentKey.MatchString(k):
			sc := bufio.NewScanner(bytes.NewReader(bodies[i]))
			sc.Buffer(nil, 16<<20)
			for sc.Scan() {
				put(k, append([]byte(nil), sc.Bytes()...))
			}
		}
	}
	seqs := make([]uint64, 0, len(bySeq))
	for s := range bySeq {
		seqs = append(seqs, s)
	}
	sort.Slice(seqs, func(i, j int) bool { return seqs[i] < seqs[j] })
	v := journal.NewVerifier()
	chain := make([]*journal.Event, 0, len(seqs))
	for _, s := range seqs {
		if err := v.Add(bySeq[s]); err != nil {
			t.Fatalf("the bucket's journal: %v", err)
		}
		chain = append(chain, bySeq[s])
	}
	if len(chain) == 0 {
		t.Fatal("the bucket holds no journal")
	}
	return chain
}

// nodeEvents reads a node's whole /events feed (as admin), after the node
// has applied head, and checks that its seqs run 1.. and its hashes link.
func nodeEvents(t *testing.T, n *node, head uint64) []*journal.Event {
	t.Helper()
	var out []*journal.Event
	after := uint64(0)
	for {
		st, b, _, _, err := call(http.MethodGet, fmt.Sprintf("%s/api/v1/events?after=%d&limit=1000", n.url(), after), nil,
			map[string]string{"X-Reliquary-Min-Seq": strconv.FormatUint(head, 10)})
		if st != http.StatusOK {
			t.Fatalf("node %d /events after %d: %d %s %v", n.id, after, st, b, err)
		}
		var page struct {
			Events    []*journal.Event `json:"events"`
			NextAfter uint64           `json:"next_after"`
		}
		if err := json.Unmarshal(b, &page); err != nil {
			t.Fatalf("node %d /events: %v", n.id, err)
		}
		if len(page.Events) == 0 {
			break
		}
		for _, e := range page.Events {
			if len(out) > 0 && (e.Seq != out[len(out)-1].Seq+1 || e.PrevHash != out[len(out)-1].Hash) {
				t.Errorf("node %d: seq %d (prev %.12s) follows seq %d (hash %.12s)", n.id, e.Seq, e.PrevHash, out[len(out)-1].Seq, out[len(out)-1].Hash)
			}
			out = append(out, e)
		}
		after = page.NextAfter
	}
	return out
}

// policyValues is, per product, every max_artifact_bytes value the
// chain's policy updates set: found anywhere in an event's data, and in
// JSON documents nested in its strings (a change set may carry records
// as strings).
func policyValues(chain []*journal.Event) map[string]map[int64]bool {
	out := map[string]map[int64]bool{}
	for _, e := range chain {
		if e.Type != "product.policy_updated" {
			continue
		}
		product, _, _ := strings.Cut(e.Subject, "@")
		if out[product] == nil {
			out[product] = map[int64]bool{}
		}
		collectValues(e.Data, out[product])
	}
	return out
}

func collectValues(raw []byte, into map[int64]bool) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var v any
	if dec.Decode(&v) != nil {
		return
	}
	var walk func(any)
	walk = func(v any) {
		switch x := v.(type) {
		case map[string]any:
			for k, y := range x {
				if n, ok := y.(json.Number); ok && k == "max_artifact_bytes" {
					if i, err := n.Int64(); err == nil {
						into[i] = true
					}
				}
				walk(y)
			}
		case []any:
			for _, y := range x {
				walk(y)
			}
		case string:
			if len(x) > 0 && (x[0] == '{' || x[0] == '[') {
				collectValues([]byte(x), into)
			}
		}
	}
	walk(v)
}
