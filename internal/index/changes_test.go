package index

import (
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/reliquary/reliquary/internal/library"
)

// A write without its journal event is rolled back; with it, the event
// carries the change.
func TestWritesNeedTheirEvent(t *testing.T) {
	ix, err := Open(filepath.Join(t.TempDir(), "index.db"), Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer ix.Close()
	p := &library.Product{Name: "app", Policy: library.DefaultPolicy()}
	err = ix.Update(func(tx library.WriteTx) error { return tx.PutProduct(p) })
	if !errors.Is(err, errUnrecorded) {
		t.Fatalf("unrecorded write: %v", err)
	}
	_ = ix.View(func(tx library.ReadTx) error {
		if _, err := tx.Product("app"); !errors.Is(err, library.ErrProductNotFound) {
			t.Errorf("unrecorded write is visible: %v", err)
		}
		return nil
	})
	err = ix.Update(func(tx library.WriteTx) error {
		if err := tx.PutProduct(p); err != nil {
			return err
		}
		_, err := tx.Record(library.Event{Time: time.Now(), Actor: "t", Type: library.EvProductCreated, Subject: "app"})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	_ = ix.View(func(tx library.ReadTx) error {
		evs, err := tx.Events(0, 10)
		if err != nil || len(evs) != 1 {
			t.Fatalf("events: %v %v", evs, err)
		}
		if !jsonContains(evs[0].Data, `"bucket":"products"`) {
			t.Errorf("event data lacks the change: %s", evs[0].Data)
		}
		return nil
	})
}

func jsonContains(b []byte, s string) bool {
	return strings.Contains(string(b), s)
}
