package index

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/reliquary/reliquary/internal/journal"
	"github.com/reliquary/reliquary/internal/library"
)

// record writes n product events.
func record(t *testing.T, ix *Index, n int) {
	t.Helper()
	for i := range n {
		err := ix.Update(func(tx library.WriteTx) error {
			p := &library.Product{Name: fmt.Sprintf("p%d", i), Policy: library.DefaultPolicy(), CreatedAt: time.Now()}
			if err := tx.PutProduct(p); err != nil {
				return err
			}
			_, err := tx.Record(library.Event{Time: p.CreatedAt, Actor: "t", Type: library.EvProductCreated, Subject: p.Name, Data: p})
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
	}
}

// Editing one byte of one event in a copy of the index makes verification
// fail at exactly that seq.
func TestVerifyJournalFindsTheEditedEvent(t *testing.T) {
	dir := t.TempDir()
	ix, err := Open(filepath.Join(dir, "index.db"), Options{})
	if err != nil {
		t.Fatal(err)
	}
	record(t, ix, 12)
	rep, err := ix.VerifyJournal()
	if err != nil || !rep.OK || rep.HeadSeq != 12 {
		t.Fatalf("intact journal: %+v %v", rep, err)
	}
	copyPath := filepath.Join(dir, "copy.db")
	f, err := os.Create(copyPath)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ix.WriteTo(f); err != nil {
		t.Fatal(err)
	}
	f.Close()
	ix.Close()

	for _, seq := range []uint64{1, 7, 12} {
		t.Run(fmt.Sprint(seq), func(t *testing.T) {
			p := filepath.Join(t.TempDir(), "tampered.db")
			data, _ := os.ReadFile(copyPath)
			_ = os.WriteFile(p, data, 0o600)
			db, err := bolt.Open(p, 0o600, nil)
			if err != nil {
				t.Fatal(err)
			}
			err = db.Update(func(tx *bolt.Tx) error {
				b := tx.Bucket(bucketJournal)
				v := append([]byte(nil), b.Get(seqKey(seq))...)
				i := len(`{"seq":`) + len(fmt.Sprint(seq)) + len(`,"time":"2`) // a digit of the year
				v[i] ^= 0x01
				return b.Put(seqKey(seq), v)
			})
			db.Close()
			if err != nil {
				t.Fatal(err)
			}
			tampered, err := Open(p, Options{ReadOnly: true})
			if err != nil {
				t.Fatal(err)
			}
			defer tampered.Close()
			rep, err := tampered.VerifyJournal()
			if err != nil || rep.OK || rep.BrokenSeq != seq {
				t.Errorf("one byte of event %d edited: %+v, %v", seq, rep, err)
			}
		})
	}
}

// Rebuild from the events alone gives back the same index content.
func TestRebuildFromEvents(t *testing.T) {
	dir := t.TempDir()
	ix, err := Open(filepath.Join(dir, "index.db"), Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer ix.Close()
	record(t, ix, 30)
	evs, err := ix.EventsAfter(0, 0)
	if err != nil {
		t.Fatal(err)
	}
	i := 0
	n, err := Rebuild(filepath.Join(dir, "rebuilt.db"), func() (*journal.Event, error) {
		if i == len(evs) {
			return nil, io.EOF
		}
		// Round-trip through JSON, as the bucket mirror does.
		raw, _ := json.Marshal(evs[i])
		i++
		return journal.Decode(raw)
	})
	if err != nil || n != 30 {
		t.Fatalf("rebuild: %d events, %v", n, err)
	}
	re, err := Open(filepath.Join(dir, "rebuilt.db"), Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer re.Close()
	for _, b := range allBuckets {
		if !journaled(b) {
			continue
		}
		if a, z := dump(t, ix, b), dump(t, re, b); a != z {
			t.Errorf("bucket %s differs after rebuild:\n%s\n---\n%s", b, a, z)
		}
	}
	rep, err := re.VerifyJournal()
	if err != nil || !rep.OK || rep.HeadSeq != 30 {
		t.Errorf("rebuilt journal: %+v %v", rep, err)
	}
}

func dump(t *testing.T, ix *Index, bucket []byte) string {
	t.Helper()
	var out string
	_ = ix.db.View(func(tx *bolt.Tx) error {
		return tx.Bucket(bucket).ForEach(func(k, v []byte) error { out += fmt.Sprintf("%x=%s\n", k, v); return nil })
	})
	return out
}

// BenchmarkRebuild measures replaying events into a fresh index.
func BenchmarkRebuild(b *testing.B) {
	dir := b.TempDir()
	ix, err := Open(filepath.Join(dir, "index.db"), Options{})
	if err != nil {
		b.Fatal(err)
	}
	const n = 5000
	for start := 0; start < n; start += 500 {
		err := ix.Update(func(tx library.WriteTx) error {
			for i := start; i < start+500; i++ {
				p := &library.Product{Name: fmt.Sprintf("p%d", i), Policy: library.DefaultPolicy()}
				if err := tx.PutProduct(p); err != nil {
					return err
				}
				if _, err := tx.Record(library.Event{Time: time.Now(), Actor: "b", Type: library.EvProductCreated, Subject: p.Name, Data: p}); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			b.Fatal(err)
		}
	}
	evs, _ := ix.EventsAfter(0, 0)
	ix.Close()
	b.ResetTimer()
	for k := 0; b.Loop(); k++ {
		i := 0
		if _, err := Rebuild(filepath.Join(dir, fmt.Sprintf("r%d.db", k)), func() (*journal.Event, error) {
			if i == len(evs) {
				return nil, io.EOF
			}
			i++
			return evs[i-1], nil
		}); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(n*b.N)/b.Elapsed().Seconds(), "events/s")
}
