package index

import (
	"encoding/json"
	"fmt"

	bolt "go.etcd.io/bbolt"

	"github.com/reliquary/reliquary/internal/journal"
)

// schemaVersion is SchemaVersion, as a variable only so a test can
// register a fake migration (and its change-set converter) and run the
// index one schema ahead. Production code never assigns it.
var schemaVersion = SchemaVersion

// changeMigrations[i] converts a journal change set expressed in index
// schema i+1 to schema i+2: what catch-up needs to replay an older event
// into an index already at the newer layout. Add one next to each entry
// of migrations whose layout change can be expressed per change; without
// it catch-up refuses the older event (Rebuild does not need it: it
// replays at the event's own schema and migrates the index).
var changeMigrations = []func([]Change) ([]Change, error){}

// changeSet is the part of an event's data that replay reads. Record
// writes changes_schema next to changes: the index schema the bucket
// names and key bytes are expressed in. An event without it predates the
// field and is schema 1.
type changeSet struct {
	Changes []Change `json:"changes"`
	Schema  int      `json:"changes_schema,omitempty"`
}

func decodeChangeSet(e *journal.Event) (changeSet, error) {
	var cs changeSet
	if err := json.Unmarshal(e.Data, &cs); err != nil {
		return cs, fmt.Errorf("event %d data: %w", e.Seq, err)
	}
	if cs.Schema == 0 {
		cs.Schema = 1
	}
	if cs.Schema < 1 {
		return cs, fmt.Errorf("event %d: changes_schema %d is not a schema", e.Seq, cs.Schema)
	}
	if cs.Schema > schemaVersion {
		return cs, fmt.Errorf("event %d: changes are in index schema %d, newer than this build's %d: upgrade reliquary", e.Seq, cs.Schema, schemaVersion)
	}
	return cs, nil
}

// eventSchema is the schema an event's change set is in (1 when absent or
// unreadable: replay reports the unreadable case itself).
func eventSchema(e *journal.Event) int {
	cs, err := decodeChangeSet(e)
	if err != nil {
		return 1
	}
	return cs.Schema
}

// indexSchema is the schema the open file records.
func indexSchema(btx *bolt.Tx) int {
	if v := btx.Bucket(bucketMeta).Get(keySchemaVersion); len(v) == 8 {
		return int(seqFromKey(v))
	}
	return schemaVersion
}

// migrateIndex runs the migrations from the file's schema up to target,
// inside btx, and records target.
func migrateIndex(btx *bolt.Tx, target int) error {
	have := indexSchema(btx)
	if target > schemaVersion || target > len(migrations)+1 {
		return fmt.Errorf("no migration to index schema %d", target)
	}
	for ; have < target; have++ {
		if err := migrations[have-1](btx); err != nil {
			return fmt.Errorf("migrate index schema %d → %d: %w", have, have+1, err)
		}
	}
	return btx.Bucket(bucketMeta).Put(keySchemaVersion, seqKey(uint64(have)))
}

// replayMode says what replay does with a change set whose schema is not
// the index's.
type replayMode int

const (
	// replayRebuild migrates the (rebuilding) index up to the event's
	// schema when the journal's schema goes up.
	replayRebuild replayMode = iota
	// replayCatchUp converts an older change set with changeMigrations
	// into the index's schema, or refuses it.
	replayCatchUp
)

// changesAt returns e's changes expressed in the index's schema.
func changesAt(btx *bolt.Tx, e *journal.Event, mode replayMode) ([]Change, error) {
	cs, err := decodeChangeSet(e)
	if err != nil || len(cs.Changes) == 0 {
		return nil, err
	}
	have := indexSchema(btx)
	if cs.Schema > have {
		if mode != replayRebuild {
			return nil, fmt.Errorf("event %d: changes are in index schema %d, the index is at %d", e.Seq, cs.Schema, have)
		}
		if err := migrateIndex(btx, cs.Schema); err != nil {
			return nil, fmt.Errorf("event %d: %w", e.Seq, err)
		}
		return cs.Changes, nil
	}
	changes := cs.Changes
	for s := cs.Schema; s < have; s++ {
		if s-1 >= len(changeMigrations) || changeMigrations[s-1] == nil {
			return nil, fmt.Errorf("event %d: changes are in index schema %d and no converter to schema %d exists: rebuild the index from the journal instead (reliquary rebuild)", e.Seq, s, s+1)
		}
		if changes, err = changeMigrations[s-1](changes); err != nil {
			return nil, fmt.Errorf("event %d: convert changes schema %d → %d: %w", e.Seq, s, s+1, err)
		}
	}
	return changes, nil
}
