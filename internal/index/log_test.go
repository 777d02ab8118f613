package index

import (
	"bytes"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/transparency-dev/merkle/proof"
	"github.com/transparency-dev/merkle/rfc6962"
	bolt "go.etcd.io/bbolt"

	"github.com/reliquary/reliquary/internal/library"
	"github.com/reliquary/reliquary/internal/signing"
)

// mth is RFC 6962's Merkle Tree Hash written out from its definition
// (§2.1), independent of the code under test.
func mth(leaves [][]byte) []byte {
	switch n := len(leaves); n {
	case 0:
		s := sha256.Sum256(nil)
		return s[:]
	case 1:
		s := sha256.Sum256(append([]byte{0}, leaves[0]...))
		return s[:]
	default:
		k := 1
		for k*2 < n {
			k *= 2
		}
		h := sha256.New()
		h.Write([]byte{1})
		h.Write(mth(leaves[:k]))
		h.Write(mth(leaves[k:]))
		return h.Sum(nil)
	}
}

// leavesOf are the canonical JSON of the index's events, as the audit
// feed's JSON canonicalised.
func leavesOf(t *testing.T, ix *Index) [][]byte {
	t.Helper()
	evs, err := ix.EventsAfter(0, 0)
	if err != nil {
		t.Fatal(err)
	}
	var out [][]byte
	for _, e := range evs {
		raw, err := json.Marshal(e)
		if err != nil {
			t.Fatal(err)
		}
		leaf, err := signing.CanonicalizeJSON(raw)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, leaf)
	}
	return out
}

// The tree kept in bbolt gives, at every size, the root RFC 6962 defines,
// and inclusion and consistency proofs that transparency-dev/merkle's
// verifier accepts; an index written before the log existed catches up
// when opened.
func TestLogMatchesAnIndependentTree(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "index.db")
	ix, err := Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	const n = 70
	record(t, ix, n)
	leaves := leavesOf(t, ix)
	if len(leaves) != n {
		t.Fatalf("%d leaves", len(leaves))
	}
	check := func(ix *Index) {
		t.Helper()
		if size, err := ix.LogSize(); err != nil || size != n {
			t.Fatalf("log size %d: %v", size, err)
		}
		for size := uint64(0); size <= n; size++ {
			root, err := ix.LogRoot(size)
			if err != nil {
				t.Fatal(err)
			}
			if want := mth(leaves[:size]); !bytes.Equal(root, want) {
				t.Fatalf("root at %d: %x, want %x", size, root, want)
			}
			for _, seq := range []uint64{1, size / 2, size} {
				if seq == 0 || seq > size {
					continue
				}
				p, err := ix.InclusionProof(seq-1, size)
				if err != nil {
					t.Fatal(err)
				}
				if err := proof.VerifyInclusion(rfc6962.DefaultHasher, seq-1, size, rfc6962.DefaultHasher.HashLeaf(leaves[seq-1]), p, root); err != nil {
					t.Fatalf("inclusion of %d in %d: %v", seq, size, err)
				}
			}
			for _, from := range []uint64{0, 1, size / 3, size} {
				if from > size {
					continue
				}
				p, err := ix.ConsistencyProof(from, size)
				if err != nil {
					t.Fatal(err)
				}
				if err := proof.VerifyConsistency(rfc6962.DefaultHasher, from, size, p, mth(leaves[:from]), root); err != nil {
					t.Fatalf("consistency %d → %d: %v", from, size, err)
				}
			}
		}
		if _, err := ix.LogRoot(n + 1); err == nil {
			t.Fatal("a root beyond the log")
		}
		if _, err := ix.InclusionProof(n, n+1); err == nil {
			t.Fatal("a proof beyond the log")
		}
	}
	check(ix)
	ix.Close()

	// An index from before the signed log: no tree at all.
	db, err := bolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Update(func(tx *bolt.Tx) error {
		if err := tx.DeleteBucket(bucketLogNodes); err != nil {
			return err
		}
		return tx.Bucket(bucketMeta).Delete(keyLogSize)
	}); err != nil {
		t.Fatal(err)
	}
	db.Close()
	ix, err = Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer ix.Close()
	check(ix)
}

// Reaching approved, promote and withdraw index the release's statement
// event; other approvals do not.
func TestStatementEvents(t *testing.T) {
	ix, err := Open(filepath.Join(t.TempDir(), "index.db"), Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer ix.Close()
	rec := func(typ string, data map[string]any) uint64 {
		var seq uint64
		if err := ix.Update(func(tx library.WriteTx) error {
			e, err := tx.Record(library.Event{Time: time.Now(), Actor: "a", Type: typ, Subject: "hr@1.0.0", Data: data})
			if e != nil {
				seq = e.Seq
			}
			return err
		}); err != nil {
			t.Fatal(err)
		}
		return seq
	}
	d := func(state string) map[string]any {
		return map[string]any{"product": "hr", "version": "1.0.0", "state": state}
	}
	rec(library.EvReleaseApproved, d("candidate"))
	if seq, _ := ix.StatementSeq("hr", "1.0.0"); seq != 0 {
		t.Fatalf("a first of two approvals made statement %d", seq)
	}
	a := rec(library.EvReleaseApproved, d("approved"))
	if seq, _ := ix.StatementSeq("hr", "1.0.0"); seq != a {
		t.Fatalf("statement seq %d, want %d", seq, a)
	}
	rec(library.EvReleaseSealed, d("candidate"))
	w := rec(library.EvReleaseWithdrawn, d(""))
	if seq, _ := ix.StatementSeq("hr", "1.0.0"); seq != w {
		t.Fatalf("statement seq %d, want %d", seq, w)
	}
	if err := ix.PutStatement("hr", "1.0.0", w, []byte("env-w")); err != nil {
		t.Fatal(err)
	}
	if err := ix.PutStatement("hr", "1.0.0", a, []byte("env-a")); err != nil {
		t.Fatal(err)
	}
	if seq, env, _ := ix.CachedStatement("hr", "1.0.0"); seq != w || string(env) != "env-w" {
		t.Fatalf("cache kept %d %q", seq, env)
	}
}

// benchIndex is an index of n events, made once per benchmark binary run.
func benchIndex(b *testing.B, n int) *Index {
	b.Helper()
	ix, err := Open(filepath.Join(b.TempDir(), "index.db"), Options{})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { ix.Close() })
	const batch = 2000
	for done := 0; done < n; done += batch {
		err := ix.Update(func(tx library.WriteTx) error {
			for i := done; i < done+batch && i < n; i++ {
				if _, err := tx.Record(library.Event{Time: time.Now(), Actor: "bench", Type: library.EvTokenCreated,
					Subject: fmt.Sprintf("t%d", i), Data: map[string]any{"i": i}}); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			b.Fatal(err)
		}
	}
	return ix
}

// BenchmarkLogAppend is the signed log's cost per event — the leaf hash
// and the tree nodes written in the event's own transaction — against a
// baseline measured in the same run: the journal's own work for the same
// event (its chain hash, its JSON, the journal and head writes). Both
// re-append the last 1,000 of 100,000 events in transactions rolled back.
func BenchmarkLogAppend(b *testing.B) {
	ix := benchIndex(b, 100_000)
	evs, err := ix.EventsAfter(99_000, 1000)
	if err != nil {
		b.Fatal(err)
	}
	var logT, journalT time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		_ = ix.db.Update(func(btx *bolt.Tx) error {
			start := time.Now()
			for _, e := range evs {
				h, err := e.ComputeHash()
				if err != nil || h != e.Hash {
					b.Fatal(err)
				}
				raw, err := json.Marshal(e)
				if err != nil {
					b.Fatal(err)
				}
				if err := btx.Bucket(bucketJournal).Put(seqKey(e.Seq), raw); err != nil {
					b.Fatal(err)
				}
				if err := btx.Bucket(bucketMeta).Put(keyJournalHead, encodeHead(e.Seq, e.Hash)); err != nil {
					b.Fatal(err)
				}
			}
			journalT += time.Since(start)
			start = time.Now()
			if err := btx.Bucket(bucketMeta).Put(keyLogSize, seqKey(99_000)); err != nil {
				return err
			}
			for _, e := range evs {
				if err := logAppend(btx, e); err != nil { // as Record does: the tree edge read back each time
					b.Fatal(err)
				}
			}
			logT += time.Since(start)
			return errRollback
		})
	}
	n := float64(b.N * len(evs))
	b.ReportMetric(float64(logT.Nanoseconds())/n, "log-ns/event")
	b.ReportMetric(float64(journalT.Nanoseconds())/n, "journal-ns/event")
	b.ReportMetric(float64(logT)/float64(journalT), "log/journal")
}

var errRollback = fmt.Errorf("rollback")

// BenchmarkInclusionProof100k is an inclusion proof of a random event in a
// tree of 100,000 events.
func BenchmarkInclusionProof100k(b *testing.B) {
	ix := benchIndex(b, 100_000)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := ix.InclusionProof(uint64(i*7919)%100_000, 100_000); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkConsistencyProof100k is a consistency proof between a random
// size and 100,000.
func BenchmarkConsistencyProof100k(b *testing.B) {
	ix := benchIndex(b, 100_000)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := ix.ConsistencyProof(1+uint64(i*7919)%99_999, 100_000); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkLogRoot100k is the root of the tree of 100,000 events (what a
// checkpoint signs).
func BenchmarkLogRoot100k(b *testing.B) {
	ix := benchIndex(b, 100_000)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, _, err := ix.LogHead(); err != nil {
			b.Fatal(err)
		}
	}
}
