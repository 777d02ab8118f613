package index

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/reliquary/reliquary/internal/journal"
	"github.com/reliquary/reliquary/internal/library"
)

var updateGolden = flag.Bool("update", false, "rewrite testdata/journal-schema1.jsonl from the scripted history")

const goldenJournal = "testdata/journal-schema1.jsonl"

// writeGoldenHistory drives a scripted history through the real library:
// every kind of change the journal carries at schema 1.
func writeGoldenHistory(t *testing.T) []*journal.Event {
	t.Helper()
	lib, ix := newLibrary(t)
	defer ix.Close()
	ctx := context.Background()
	admin := library.Principal{Name: "admin", Role: library.RoleAdmin}
	ok(lib.CreateProduct(ctx, admin, library.ProductInput{Name: "app"}))
	ok(lib.CreateProduct(ctx, admin, library.ProductInput{Name: "agent"}))
	for _, v := range []string{"1.0.0", "1.1.0", "1.2.0"} {
		approved(t, lib, "app", v, "linux")
		ok(lib.Promote(ctx, alice, "app", v, library.PromoteInput{To: "released", ChangeID: "CHG-" + v}))
	}
	approved(t, lib, "agent", "2.0.0", "")
	ok(lib.Promote(ctx, alice, "agent", "2.0.0", library.PromoteInput{To: "released", ChangeID: "CHG-A"}))
	ok(lib.Withdraw(ctx, alice, "app", "1.2.0", library.WithdrawInput{Reason: "broken", ChangeID: "CHG-W"}))
	ok(lib.CreateRelease(ctx, ci, "app", library.ReleaseInput{Version: "9.9.9"}))
	ok(lib.DeleteRelease(ctx, admin, "app", "9.9.9"))
	ok(lib.CreateBaseline(ctx, alice, library.BaselineInput{Name: "q4", ChangeID: "CHG-B",
		Releases: []library.ReleaseRef{{Product: "app", Version: "1.1.0"}, {Product: "agent", Version: "2.0.0"}}}))
	ok(lib.RecordDeployment(ctx, admin, library.DeploymentInput{Product: "app", Version: "1.1.0", Environment: "prod", Target: "host-1", Status: library.DeploySucceeded, ChangeID: "CHG-D"}))
	ok3(lib.CreateToken(ctx, admin, library.TokenInput{Name: "installer", Role: "reader"}))
	two := 2
	ok(lib.SetPolicy(ctx, admin, "app", library.PolicyInput{SupportedMinors: &two}))
	evs, err := ix.EventsAfter(0, 0)
	if err != nil {
		t.Fatal(err)
	}
	return evs
}

func readGolden(t *testing.T) []*journal.Event {
	t.Helper()
	raw, err := os.ReadFile(goldenJournal)
	if err != nil {
		t.Fatalf("%v (write it with go test ./internal/index -run TestGoldenJournal -update)", err)
	}
	var evs []*journal.Event
	sc := bufio.NewScanner(bytes.NewReader(raw))
	sc.Buffer(nil, 1<<24)
	for sc.Scan() {
		e, err := journal.Decode(sc.Bytes())
		if err != nil {
			t.Fatal(err)
		}
		evs = append(evs, e)
	}
	return evs
}

func feed(evs []*journal.Event) func() (*journal.Event, error) {
	i := 0
	return func() (*journal.Event, error) {
		if i == len(evs) {
			return nil, io.EOF
		}
		i++
		return evs[i-1], nil
	}
}

// checkGoldenAnswers asks the rebuilt library what the scripted history
// left behind.
func checkGoldenAnswers(t *testing.T, ix *Index) {
	t.Helper()
	ctx := context.Background()
	lib := library.New(library.Config{Repo: ix})
	admin := library.Principal{Name: "admin", Role: library.RoleAdmin}
	products := ok(lib.Products(ctx, admin))
	if len(products) != 2 {
		t.Fatalf("products: %d", len(products))
	}
	list, _, err := lib.Releases(ctx, "app", library.ReleaseFilter{Limit: library.MaxPage})
	if err != nil {
		t.Fatal(err)
	}
	states := map[string]library.State{}
	for _, r := range list {
		states[r.Version] = r.State
	}
	if len(states) != 3 || states["1.2.0"] != library.StateWithdrawn || states["1.1.0"] != library.StateReleased {
		t.Fatalf("app releases: %v", states)
	}
	res, err := lib.Resolve(ctx, "app", library.ResolveRequest{Current: true, OS: "linux"})
	if err != nil || res.Release.Version != "1.1.0" || len(res.Artifacts) != 1 {
		t.Fatalf("resolve: %+v %v", res, err)
	}
	toks := ok(lib.Tokens(ctx))
	if len(toks) != 1 || toks[0].Name != "installer" {
		t.Fatalf("tokens: %+v", toks)
	}
	b, err := lib.Baseline(ctx, "q4")
	if err != nil || len(b.Releases) != 2 {
		t.Fatalf("baseline: %+v %v", b, err)
	}
	p := ok(lib.Product(ctx, "app"))
	if p.Policy.SupportedMinors != 2 {
		t.Fatalf("policy: %+v", p.Policy)
	}
	if rep, err := ix.VerifyJournal(); err != nil || !rep.OK {
		t.Fatalf("verify: %+v %v", rep, err)
	}
}

// The committed schema-1 journal still rebuilds into an index that gives
// the same answers: it guards every future schema bump.
func TestGoldenJournalRebuild(t *testing.T) {
	if *updateGolden {
		var buf bytes.Buffer
		for _, e := range writeGoldenHistory(t) {
			raw, err := json.Marshal(e)
			if err != nil {
				t.Fatal(err)
			}
			buf.Write(raw)
			buf.WriteByte('\n')
		}
		if err := os.WriteFile(goldenJournal, buf.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	evs := readGolden(t)
	path := filepath.Join(t.TempDir(), "rebuilt.db")
	if _, err := Rebuild(path, feed(evs)); err != nil {
		t.Fatal(err)
	}
	ix, err := Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer ix.Close()
	checkGoldenAnswers(t, ix)
	if got := schemaOf(t, ix); got != SchemaVersion {
		t.Fatalf("rebuilt index at schema %d", got)
	}
}

func schemaOf(t *testing.T, ix *Index) int {
	t.Helper()
	var s int
	_ = ix.db.View(func(btx *bolt.Tx) error { s = indexSchema(btx); return nil })
	return s
}

// withFakeSchema2 makes this build one schema ahead for the test: its
// migration marks every product record, so the layout visibly changed.
func withFakeSchema2(t *testing.T) {
	oldV, oldM, oldC := schemaVersion, migrations, changeMigrations
	t.Cleanup(func() { schemaVersion, migrations, changeMigrations = oldV, oldM, oldC })
	schemaVersion = 2
	migrations = append(append([]func(*bolt.Tx) error{}, oldM...), func(btx *bolt.Tx) error {
		b := btx.Bucket(bucketProducts)
		var keys, vals [][]byte
		if err := b.ForEach(func(k, v []byte) error {
			var obj map[string]any
			if err := json.Unmarshal(v, &obj); err != nil {
				return err
			}
			obj["fake_schema2"] = true
			nv, err := json.Marshal(obj)
			keys, vals = append(keys, clone(k)), append(vals, nv)
			return err
		}); err != nil {
			return err
		}
		for i := range keys {
			if err := b.Put(keys[i], vals[i]); err != nil {
				return err
			}
		}
		return nil
	})
}

func productsMarked(t *testing.T, ix *Index) (marked, all int) {
	t.Helper()
	_ = ix.db.View(func(btx *bolt.Tx) error {
		return btx.Bucket(bucketProducts).ForEach(func(_, v []byte) error {
			all++
			if strings.Contains(string(v), `"fake_schema2":true`) {
				marked++
			}
			return nil
		})
	})
	return marked, all
}

// With a (fake) schema 2: an old journal rebuilds at schema 1 and ends
// migrated; a journal that switches schema mid-way replays each part at
// its own schema; catch-up refuses a schema-1 change set without a
// converter and takes it with one; a newer schema is refused.
func TestRebuildAcrossFakeSchema2(t *testing.T) {
	evs := readGolden(t)
	withFakeSchema2(t)
	dir := t.TempDir()

	old := filepath.Join(dir, "old.db")
	if _, err := Rebuild(old, feed(evs)); err != nil {
		t.Fatal(err)
	}
	ix, err := Open(old, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if s := schemaOf(t, ix); s != 2 {
		t.Fatalf("rebuilt old journal at schema %d, want 2", s)
	}
	if m, n := productsMarked(t, ix); n != 2 || m != 2 {
		t.Fatalf("migrated layout: %d of %d products marked", m, n)
	}
	checkGoldenAnswers(t, ix)

	// New events on the schema-2 index record changes_schema 2.
	lib := library.New(library.Config{Repo: ix, Now: func() time.Time { return time.Now() }})
	admin := library.Principal{Name: "admin", Role: library.RoleAdmin}
	ok(lib.CreateProduct(context.Background(), admin, library.ProductInput{Name: "later"}))
	all, err := ix.EventsAfter(0, 0)
	if err != nil {
		t.Fatal(err)
	}
	ix.Close()
	if s := eventSchema(all[len(all)-1]); s != 2 {
		t.Fatalf("new event records changes_schema %d", s)
	}
	mixed := filepath.Join(dir, "mixed.db")
	if _, err := Rebuild(mixed, feed(all)); err != nil {
		t.Fatal(err)
	}
	mix, err := Open(mixed, Options{})
	if err != nil {
		t.Fatal(err)
	}
	// The migration ran once, at the switch: the old products are marked,
	// the one created at schema 2 is as its event wrote it (unmarked).
	if m, n := productsMarked(t, mix); n != 3 || m != 2 {
		t.Fatalf("mid-way switch: %d of %d products marked", m, n)
	}
	mix.Close()

	// Catch-up: an index at schema 2 holding the first events refuses the
	// rest, expressed in schema 1, naming the first event with changes.
	k := 3
	part := filepath.Join(dir, "part.db")
	if _, err := Rebuild(part, feed(evs[:k])); err != nil {
		t.Fatal(err)
	}
	px, err := Open(part, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer px.Close()
	err = px.AppendJournal(evs[k:])
	if err == nil || !strings.Contains(err.Error(), "event 4:") || !strings.Contains(err.Error(), "schema 1") {
		t.Fatalf("catch-up of schema-1 changes without a converter: %v", err)
	}
	if seq, _, _ := px.Head(); seq != uint64(k) {
		t.Fatalf("refused catch-up moved the head to %d", seq)
	}
	changeMigrations = []func([]Change) ([]Change, error){func(c []Change) ([]Change, error) { return c, nil }}
	if err := px.AppendJournal(evs[k:]); err != nil {
		t.Fatalf("catch-up with a converter: %v", err)
	}

	// A change set newer than the build knows is refused, by seq.
	err = px.db.View(func(btx *bolt.Tx) error {
		_, err := changesAt(btx, &journal.Event{Seq: 77, Data: json.RawMessage(`{"changes":[{"bucket":"products","key":"eA=="}],"changes_schema":3}`)}, replayCatchUp)
		return err
	})
	if err == nil || !strings.Contains(err.Error(), "event 77") || !strings.Contains(err.Error(), "newer") {
		t.Fatalf("newer change set: %v", err)
	}
}

// Every journal written before changes_schema existed is schema 1.
func TestChangeSetWithoutSchemaIsSchema1(t *testing.T) {
	for data, want := range map[string]int{
		`{"changes":[{"bucket":"products","key":"eA==","delete":true}]}`:                    1,
		`{"changes":[{"bucket":"products","key":"eA==","delete":true}],"changes_schema":1}`: 1,
	} {
		if got := eventSchema(&journal.Event{Seq: 1, Data: json.RawMessage(data)}); got != want {
			t.Errorf("%s: schema %d, want %d", data, got, want)
		}
	}
	if _, err := decodeChangeSet(&journal.Event{Seq: 5, Data: json.RawMessage(`{"changes_schema":-1}`)}); err == nil || !strings.Contains(err.Error(), "event 5") {
		t.Errorf("negative schema: %v", err)
	}
}
