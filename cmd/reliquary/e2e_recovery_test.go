package main

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/reliquary/reliquary/internal/journal"
	"github.com/reliquary/reliquary/internal/testenv"
	"github.com/reliquary/reliquary/storage"
)

// copyDir copies a directory tree (the data directory of a stopped
// server), every file writable.
func copyDir(t *testing.T, from, to string) {
	t.Helper()
	err := filepath.WalkDir(from, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(from, p)
		dst := filepath.Join(to, rel)
		if d.IsDir() {
			return os.MkdirAll(dst, 0o755)
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(dst, b, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
}

func journalFile(dir string, seq uint64) string {
	return filepath.Join(dir, "blobs", filepath.FromSlash(storage.JournalKey(seq)))
}

// journalObject finds the commit object that holds event seq (a group
// commit holds several, DESIGN §9): its first seq and its events.
func journalObject(t *testing.T, dir string, seq uint64) (uint64, []*journal.Event) {
	t.Helper()
	for k := seq; k >= 1; k-- {
		b, err := os.ReadFile(journalFile(dir, k))
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		evs, err := journal.DecodeObject(k, b)
		if err != nil {
			t.Fatal(err)
		}
		if seq-k >= uint64(len(evs)) {
			return 0, nil
		}
		return k, evs
	}
	return 0, nil
}

func readEvent(t *testing.T, dir string, seq uint64) *journal.Event {
	t.Helper()
	k, evs := journalObject(t, dir, seq)
	if evs == nil {
		t.Fatalf("no journal object holds event %d", seq)
	}
	return evs[seq-k]
}

// writeObject writes a commit object's events as they are (tampered:
// no check that they follow each other).
func writeObject(t *testing.T, dir string, first uint64, evs []*journal.Event) {
	t.Helper()
	var lines [][]byte
	for _, e := range evs {
		b, err := json.Marshal(e)
		if err != nil {
			t.Fatal(err)
		}
		lines = append(lines, b)
	}
	if err := os.WriteFile(journalFile(dir, first), bytes.Join(lines, []byte("\n")), 0o644); err != nil {
		t.Fatal(err)
	}
}

// writeEvent replaces the event at pos (the seq whose place it takes) in
// the object that holds it, or writes a new object after the journal.
func writeEventAt(t *testing.T, dir string, pos uint64, e *journal.Event) {
	t.Helper()
	k, evs := journalObject(t, dir, pos)
	if evs == nil {
		writeObject(t, dir, pos, []*journal.Event{e})
		return
	}
	evs[pos-k] = e
	writeObject(t, dir, k, evs)
}

func writeEvent(t *testing.T, dir string, e *journal.Event) {
	t.Helper()
	writeEventAt(t, dir, e.Seq, e)
}

// dropFrom removes events from seq on from the bucket's journal.
func dropFrom(t *testing.T, dir string, seq, head uint64) {
	t.Helper()
	for s := head; s >= seq; s-- {
		k, evs := journalObject(t, dir, s)
		if evs == nil {
			continue
		}
		if k >= seq {
			if err := os.Remove(journalFile(dir, k)); err != nil {
				t.Fatal(err)
			}
			s = k
			continue
		}
		writeObject(t, dir, k, evs[:seq-k])
		return
	}
}

// bucketHead is the last event in the bucket's journal.
func bucketHead(t *testing.T, store storage.BlobStore) uint64 {
	t.Helper()
	next, err := journal.ReadMirror(t.Context(), store)
	if err != nil {
		t.Fatal(err)
	}
	var head uint64
	for {
		e, err := next()
		if errors.Is(err, io.EOF) {
			return head
		}
		if err != nil {
			t.Fatal(err)
		}
		head = e.Seq
	}
}

// checkpointSizes lists the sizes of the mirrored checkpoints.
func checkpointSizes(t *testing.T, dir string) []uint64 {
	t.Helper()
	es, err := os.ReadDir(filepath.Join(dir, "blobs", filepath.FromSlash(storage.JournalCheckpointPrefix)))
	if err != nil {
		t.Fatal(err)
	}
	var out []uint64
	for _, e := range es {
		n, err := strconv.ParseUint(strings.TrimSuffix(e.Name(), ".txt"), 10, 64)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, n)
	}
	slices.Sort(out)
	return out
}

// brokenSeq runs a command expected to fail with exit 1 and returns the
// broken_seq of its JSON report.
func brokenSeq(t *testing.T, m *machine, args ...string) (uint64, result) {
	t.Helper()
	r := m.expect(1, args...)
	var rep struct {
		BrokenSeq uint64 `json:"broken_seq"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &rep); err != nil {
		t.Fatalf("%v: report %q: %v", args, r.stdout, err)
	}
	return rep.BrokenSeq, r
}

// TestVerifiedRecovery: audit verify --from-bucket --key and index rebuild
// --from-bucket --key check every event against the signed checkpoints in
// journal/checkpoints/: a forged, an edited (chain re-hashed or not), a
// reordered and a truncated journal are each refused, naming the first
// bad seq; audit verify --deep finds an edit made to index.db directly.
func TestVerifiedRecovery(t *testing.T) {
	srv := testenv.StartServer(t, testenv.ServerOptions{Workers: true})
	tm := newTeam(t, srv, "hr")
	for _, v := range []string{"1.0.0", "1.1.0", "1.2.0"} {
		tm.release(t, srv, "hr", v, "a.tar.gz", []byte("bytes of "+v))
	}
	head, _, err := srv.Index.Head()
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		keys := srv.Objects(t, storage.JournalCheckpointKey(head))
		if len(keys) == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no checkpoint of size %d mirrored", head)
		}
		time.Sleep(50 * time.Millisecond)
	}
	srv.Stop()
	// Events committed while it stopped (token use flushed at shutdown)
	// are in the bucket too, with their checkpoint.
	head = bucketHead(t, srv.Store)
	keyFile := filepath.Join(t.TempDir(), "key.pub")
	if err := os.WriteFile(keyFile, srv.Signer.PublicKeyPEM(), 0o644); err != nil {
		t.Fatal(err)
	}
	admin := newMachine(t, "http://127.0.0.1:9", srv.AdminToken)
	scenario := func(name string) (string, []string, []string) {
		dir := filepath.Join(t.TempDir(), name)
		copyDir(t, srv.DataDir, dir)
		audit := []string{"audit", "verify", "--from-bucket", "--data-dir", dir, "--key", keyFile}
		rebuild := []string{"index", "rebuild", "--from-bucket", "--data-dir", dir, "--key", keyFile, "--out", filepath.Join(dir, "rebuilt.db")}
		return dir, audit, rebuild
	}
	cps := checkpointSizes(t, srv.DataDir)
	// lastCheckpointBefore is the largest checkpoint size below seq.
	lastCheckpointBefore := func(seq uint64) uint64 {
		var n uint64
		for _, s := range cps {
			if s < seq {
				n = s
			}
		}
		return n
	}

	_, audit, rebuild := scenario("intact")
	admin.ok(audit...)
	// After a key rotation: the new key pinned, the one that signed the
	// checkpoints passed as retired.
	newKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, _ := x509.MarshalPKIXPublicKey(&newKey.PublicKey)
	newKeyFile := filepath.Join(t.TempDir(), "new.pub")
	if err := os.WriteFile(newKeyFile, pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}), 0o644); err != nil {
		t.Fatal(err)
	}
	rotated := []string{"audit", "verify", "--from-bucket", "--data-dir", srv.DataDir, "--key", newKeyFile}
	if r := admin.expect(1, rotated...); !strings.Contains(r.stderr, "not signed by any") {
		t.Fatalf("checkpoints verified with the wrong key: %s", r)
	}
	admin.ok(append(rotated, "--retired-keys", keyFile)...)
	if r := admin.ok(rebuild...); !strings.Contains(r.stdout, "rebuilt") {
		t.Fatalf("rebuild: %s", r)
	}

	cases := []struct {
		name   string
		tamper func(dir string)
		want   uint64
		reason string
	}{
		{"forged event appended", func(dir string) {
			last := readEvent(t, dir, head)
			forged := &journal.Event{Time: time.Now(), Actor: "admin", Type: "token.created", Subject: "backdoor",
				Data: json.RawMessage(`{"changes":[{"bucket":"tokens","key":"YmFja2Rvb3I=","value":{"id":"backdoor","role":"admin"}}]}`)}
			if err := forged.Seal(last.Seq, last.Hash); err != nil {
				t.Fatal(err)
			}
			writeEvent(t, dir, forged)
		}, head + 1, "not covered by any signed checkpoint"},
		{"edited event, chain re-hashed", func(dir string) {
			prev := readEvent(t, dir, 4)
			for seq := uint64(5); seq <= head; seq++ {
				e := readEvent(t, dir, seq)
				if seq == 5 {
					e.Actor = "mallory"
				}
				if err := e.Seal(prev.Seq, prev.Hash); err != nil {
					t.Fatal(err)
				}
				writeEvent(t, dir, e)
				prev = e
			}
		}, lastCheckpointBefore(5) + 1, "do not match the checkpoint"},
		{"edited event", func(dir string) {
			e := readEvent(t, dir, 7)
			e.Actor = "mallory"
			writeEvent(t, dir, e)
		}, 7, "hash does not match"},
		{"reordered events", func(dir string) {
			a, b := readEvent(t, dir, 8), readEvent(t, dir, 9)
			a.Seq, b.Seq = 9, 8
			writeEventAt(t, dir, 9, a)
			writeEventAt(t, dir, 8, b)
		}, 8, ""},
		{"dropped tail", func(dir string) {
			dropFrom(t, dir, head-1, head)
		}, head - 1, "truncated"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			admin := newMachine(t, "http://127.0.0.1:9", srv.AdminToken)
			dir, audit, rebuild := scenario(strings.ReplaceAll(c.name, " ", "-"))
			c.tamper(dir)
			seq, r := brokenSeq(t, admin, audit...)
			if seq != c.want || !strings.Contains(r.stdout+r.stderr, c.reason) {
				t.Fatalf("audit verify names seq %d, want %d (%q): %s", seq, c.want, c.reason, r)
			}
			r = admin.expect(1, rebuild...)
			if !strings.Contains(r.stderr, "seq "+strconv.FormatUint(c.want, 10)) {
				t.Fatalf("index rebuild: %s", r)
			}
			if _, err := os.Stat(filepath.Join(dir, "rebuilt.db")); err == nil {
				t.Fatal("a refused rebuild left an index behind")
			}
		})
	}
	// The forged event passes the unkeyed chain check: only the signed log
	// catches it.
	dir, _, _ := scenario("forged-unkeyed")
	cases[0].tamper(dir)
	admin.ok("audit", "verify", "--from-bucket", "--data-dir", dir)

	// A checkpoint signed by another key is refused outright.
	dir, audit, _ = scenario("foreign-checkpoint")
	other := testenv.StartServer(t, testenv.ServerOptions{Workers: true})
	otm := newTeam(t, other, "hr")
	otm.release(t, other, "hr", "1.0.0", "a.tar.gz", []byte("x"))
	deadline = time.Now().Add(10 * time.Second)
	for len(other.Objects(t, storage.JournalCheckpointPrefix)) == 0 && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	other.Stop()
	foreign := other.Objects(t, storage.JournalCheckpointPrefix)
	if len(foreign) == 0 {
		t.Fatal("the other server mirrored no checkpoint")
	}
	b, err := os.ReadFile(filepath.Join(other.DataDir, "blobs", filepath.FromSlash(foreign[0])))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "blobs", filepath.FromSlash(storage.JournalCheckpointKey(head+50))), b, 0o644); err != nil {
		t.Fatal(err)
	}
	if r := admin.expect(1, audit...); !strings.Contains(r.stderr, "not signed by any") {
		t.Fatalf("a foreign checkpoint: %s", r)
	}

	// An edit made to index.db directly: the chain is intact, --deep finds it.
	dir, _, _ = scenario("edited-index")
	db, err := bolt.Open(filepath.Join(dir, "index.db"), 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	edited := false
	err = db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket([]byte("releases"))
		return b.ForEach(func(k, v []byte) error {
			if !edited && bytes.Contains(v, []byte(`"state":"released"`)) {
				edited = true
				return b.Put(k, bytes.Replace(v, []byte(`"state":"released"`), []byte(`"state":"approved"`), 1))
			}
			return nil
		})
	})
	db.Close()
	if err != nil || !edited {
		t.Fatalf("edit index.db: %v (edited %v)", err, edited)
	}
	admin.ok("audit", "verify", "--data-dir", dir)
	r := admin.expect(1, "audit", "verify", "--data-dir", dir, "--deep")
	if !strings.Contains(r.stderr, "bucket releases") || !strings.Contains(r.stderr, "edited in index.db") {
		t.Fatalf("audit verify --deep of an edited index: %s", r)
	}
	intact, _, _ := scenario("intact-deep")
	admin.ok("audit", "verify", "--data-dir", intact, "--deep")
}

// TestVerifiedRecoveryOnMinIO: the checkpoints are mirrored to a MinIO
// bucket, audit verify and index rebuild with --key accept the intact
// journal there, and refuse an event forged into the bucket through the
// S3 API, naming its seq.
func TestVerifiedRecoveryOnMinIO(t *testing.T) {
	srv := testenv.StartServer(t, testenv.ServerOptions{Store: "s3", Workers: true})
	tm := newTeam(t, srv, "hr")
	tm.release(t, srv, "hr", "1.0.0", "a.tar.gz", []byte("one"))
	head, _, err := srv.Index.Head()
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for len(srv.Objects(t, storage.JournalCheckpointKey(head))) == 0 {
		if time.Now().After(deadline) {
			t.Fatalf("no checkpoint of size %d in the bucket", head)
		}
		time.Sleep(50 * time.Millisecond)
	}
	srv.Stop()
	// Events committed while it stopped (token use flushed at shutdown)
	// are in the bucket too, with their checkpoint.
	head = bucketHead(t, srv.Store)
	keyFile := filepath.Join(t.TempDir(), "key.pub")
	if err := os.WriteFile(keyFile, srv.Signer.PublicKeyPEM(), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg := srv.S3
	s3 := []string{"--storage", "s3", "--s3-endpoint", cfg.Endpoint, "--s3-bucket", cfg.Bucket,
		"--s3-access-key", cfg.AccessKey, "--s3-secret-key", cfg.SecretKey, "--s3-insecure", "--data-dir", t.TempDir()}
	admin := newMachine(t, "http://127.0.0.1:9", srv.AdminToken)
	audit := append([]string{"audit", "verify", "--from-bucket", "--key", keyFile}, s3...)
	admin.ok(audit...)
	admin.ok(append([]string{"log", "verify", "--from-bucket", "--key", keyFile}, s3...)...)
	admin.ok(append([]string{"index", "rebuild", "--from-bucket", "--key", keyFile, "--out", filepath.Join(t.TempDir(), "ok.db")}, s3...)...)

	var last *journal.Event
	next, err := journal.ReadMirror(t.Context(), srv.Store)
	if err != nil {
		t.Fatal(err)
	}
	for e, err := next(); !errors.Is(err, io.EOF); e, err = next() {
		if err != nil {
			t.Fatal(err)
		}
		last = e
	}
	forged := &journal.Event{Time: time.Now(), Actor: "admin", Type: "token.created", Subject: "backdoor", Data: json.RawMessage(`{}`)}
	if err := forged.Seal(last.Seq, last.Hash); err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(forged)
	if _, err := srv.Store.Put(t.Context(), storage.JournalKey(forged.Seq), bytes.NewReader(b), int64(len(b)), storage.PutOptions{}); err != nil {
		t.Fatal(err)
	}
	if seq, r := brokenSeq(t, admin, audit...); seq != head+1 {
		t.Fatalf("forged event in the bucket: seq %d, want %d: %s", seq, head+1, r)
	}
	out := filepath.Join(t.TempDir(), "forged.db")
	if r := admin.expect(1, append([]string{"index", "rebuild", "--from-bucket", "--key", keyFile, "--out", out}, s3...)...); !strings.Contains(r.stderr, "seq "+strconv.FormatUint(head+1, 10)) {
		t.Fatalf("rebuild of a forged bucket: %s", r)
	}
}
