package app_test

import (
	"encoding/json"
	"fmt"
	"net/http/httptest"
	"testing"
	"time"
)

// Three nodes on one MinIO bucket, each writing: the retention loop runs
// on the retention lease's holder only (one node deletes every expired
// draft, the others none), and a hook registered through one node
// receives every event written through all three, without a gap.
func TestClusterRetentionRunsOnce(t *testing.T) {
	if testing.Short() {
		t.Skip("starts MinIO and three nodes")
	}
	env := newClusterEnv(t)
	rc := &receiver{seqs: map[uint64]int{}}
	hook := httptest.NewServer(rc)
	defer hook.Close()

	dirA := t.TempDir()
	a, err := env.start("a", dirA, "", env.secretsKey)
	if err != nil {
		t.Fatal(err)
	}
	b, err := env.start("b", t.TempDir(), dirA, env.secretsKey)
	if err != nil {
		t.Fatal(err)
	}
	c, err := env.start("c", t.TempDir(), dirA, env.secretsKey)
	if err != nil {
		t.Fatal(err)
	}
	nodes := []*lnode{a, b, c}
	code, body := b.call(t, "POST", "/webhooks", fmt.Sprintf(`{"url":%q,"secret":%q}`, hook.URL+hookPath+"?"+hookQuery, hookSecret))
	if code != 201 {
		t.Fatalf("create webhook through b: %d %s", code, body)
	}
	if code, body := c.call(t, "POST", "/products", `{"name":"ret"}`); code != 201 {
		t.Fatalf("create product through c: %d %s", code, body)
	}
	waitFor(t, "a to see the product", 5*time.Second, func() bool { code, _ := a.call(t, "GET", "/products/ret", ""); return code == 200 })
	if code, body := a.call(t, "PUT", "/products/ret/policy", `{"retention":{"drafts_days":1}}`); code != 200 {
		t.Fatalf("policy through a: %d %s", code, body)
	}
	const drafts = 24
	for i := range drafts {
		n := nodes[i%3]
		for {
			code, body := n.call(t, "POST", "/products/ret/releases", fmt.Sprintf(`{"version":"1.0.%d"}`, i))
			if code == 201 {
				break
			}
			if code != 404 { // 404: this node has not yet applied the policy or product
				t.Fatalf("draft 1.0.%d through %s: %d %s", i, n.name, code, body)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	for _, n := range nodes {
		if d, _ := n.a.Lib.RetentionTotals(); d != 0 {
			t.Fatalf("%s deleted %d fresh drafts", n.name, d)
		}
	}

	// Three days later every draft has expired: one node deletes them all.
	env.offset.Store(int64(72 * time.Hour))
	waitFor(t, "every node to see the drafts deleted", 30*time.Second, func() bool {
		for _, n := range nodes {
			_, body := n.call(t, "GET", "/products/ret/releases", "")
			var l struct{ Releases []json.RawMessage }
			if json.Unmarshal(body, &l) != nil || len(l.Releases) != 0 {
				return false
			}
		}
		return true
	})
	total, deleters := 0, 0
	for _, n := range nodes {
		d, _ := n.a.Lib.RetentionTotals()
		total += int(d)
		if d > 0 {
			deleters++
			if !n.a.RetentionLease.Held() {
				t.Errorf("%s deleted %d drafts without holding the retention lease", n.name, d)
			}
		}
	}
	if total != drafts || deleters != 1 {
		t.Fatalf("%d drafts deleted by %d nodes, want %d by one", total, deleters, drafts)
	}

	// Every event, whichever node wrote it, reached the hook.
	head, _, err := a.a.Index.Head()
	if err != nil {
		t.Fatal(err)
	}
	hooks, _, err := a.a.Index.Webhooks()
	if err != nil || len(hooks) != 1 {
		t.Fatalf("a's hooks: %+v %v", hooks, err)
	}
	// The hook receives every event from its own creation event on.
	evs, err := a.a.Index.EventsAfter(0, 0)
	if err != nil {
		t.Fatal(err)
	}
	var first uint64
	for _, e := range evs {
		if e.Type == "webhook.created" && e.Subject == hooks[0].ID {
			first = e.Seq
		}
	}
	if first == 0 {
		t.Fatal("no webhook.created event")
	}
	holder := holders(nodes, webhookLease)
	if len(holder) != 1 {
		t.Fatalf("webhook lease holders %v", holder)
	}
	waitFor(t, "every event delivered", 30*time.Second, func() bool { return len(rc.missing(first, head)) == 0 })
	rc.mu.Lock()
	defer rc.mu.Unlock()
	if len(rc.bad) > 0 {
		t.Fatalf("bad deliveries: %v", rc.bad)
	}
	t.Logf("%d events (seq %d..%d) written through 3 nodes delivered by %s; %d drafts deleted by one node", head-first+1, first, head, holder[0], total)
}
