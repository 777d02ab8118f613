package main

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/reliquary/reliquary/internal/index"
	"github.com/reliquary/reliquary/internal/journal"
	"github.com/reliquary/reliquary/internal/library"
	"github.com/reliquary/reliquary/internal/signing"
	"github.com/reliquary/reliquary/internal/snapshot"
	"github.com/reliquary/reliquary/storage"
	"github.com/reliquary/reliquary/storage/fs"
)

// TestRebuildFromSnapshot: `index rebuild --from-bucket --from-snapshot`
// installs the bucket's snapshot that verifies with --key and replays the
// journal after it, ending at the bucket's head with the same chain; with
// another key the snapshot is refused, and the replay from seq 1 that
// follows refuses the journal too (no checkpoint signed by that key): no
// index is written.
func TestRebuildFromSnapshot(t *testing.T) {
	dir := t.TempDir()
	store, err := fs.New(filepath.Join(dir, "blobs"))
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	ix, err := index.Open(filepath.Join(dir, "index.db"), index.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer ix.Close()
	record := func(from, to int) {
		t.Helper()
		err := ix.Update(func(tx library.WriteTx) error {
			for i := from; i < to; i++ {
				if err := tx.PutProduct(&library.Product{Name: fmt.Sprintf("p%03d", i), Policy: library.DefaultPolicy()}); err != nil {
					return err
				}
				if _, err := tx.Record(library.Event{Time: time.Now(), Actor: "test", Type: "product.created", Subject: fmt.Sprintf("p%03d", i)}); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		// The events' commit objects, as a node's commit writes them.
		evs, err := ix.EventsAfter(uint64(from), to-from) // product i is event i+1
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range evs {
			raw, _ := json.Marshal(e)
			if _, err := store.Put(t.Context(), storage.JournalKey(e.Seq), bytes.NewReader(raw), int64(len(raw)), storage.PutOptions{}); err != nil && !errors.Is(err, storage.ErrExists) {
				t.Fatal(err)
			}
		}
		m := &journal.Mirror{Source: ix, State: ix, Store: store, Notifier: journal.NewNotifier(), Log: slog.Default()}
		for {
			n, err := m.Pass(t.Context())
			if err != nil {
				t.Fatal(err)
			}
			if n == 0 {
				break
			}
		}
	}
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	signer, err := signing.NewSigner(key)
	if err != nil {
		t.Fatal(err)
	}
	record(0, 60)
	snap, err := ix.WriteClusterSnapshot()
	if err != nil {
		t.Fatal(err)
	}
	defer os.Remove(snap.Path)
	if seq, err := snapshot.Publish(t.Context(), store, signer, snap); err != nil || seq != 60 {
		t.Fatalf("publish: %d %v", seq, err)
	}
	record(60, 75)
	head, hash, _ := ix.Head()

	pub := filepath.Join(dir, "reliquary.pub")
	if err := os.WriteFile(pub, signer.PublicKeyPEM(), 0o600); err != nil {
		t.Fatal(err)
	}
	other, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	otherSigner, _ := signing.NewSigner(other)
	otherPub := filepath.Join(dir, "other.pub")
	if err := os.WriteFile(otherPub, otherSigner.PublicKeyPEM(), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		key      string
		wantSnap uint64
	}{{pub, 60}, {otherPub, 0}} {
		out := filepath.Join(t.TempDir(), "index.db")
		var log bytes.Buffer
		got, from, err := rebuildFromSnapshot(t.Context(), store, &signedLogFlags{key: c.key}, out, &log)
		if c.wantSnap == 0 {
			if _, serr := os.Stat(out); err == nil || serr == nil || !bytes.Contains(log.Bytes(), []byte("index snapshot refused")) {
				t.Fatalf("--key %s: %v (index written: %v), log:\n%s", filepath.Base(c.key), err, serr == nil, log.String())
			}
			continue
		}
		if err != nil || got != head || from != c.wantSnap {
			t.Fatalf("--key %s: head %d from snapshot %d, %v; want %d from %d\n%s", filepath.Base(c.key), got, from, err, head, c.wantSnap, log.String())
		}
		rebuilt, err := index.Open(out, index.Options{ReadOnly: true})
		if err != nil {
			t.Fatal(err)
		}
		s, h, _ := rebuilt.Head()
		rep, _ := rebuilt.VerifyJournal()
		rebuilt.Close()
		if s != head || h != hash || !rep.OK {
			t.Fatalf("--key %s: rebuilt head %d %s (chain ok %v), want %d %s", filepath.Base(c.key), s, h, rep.OK, head, hash)
		}
	}
}
