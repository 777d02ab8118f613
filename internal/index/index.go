// Package index is the library's index on bbolt: products, releases,
// artifacts, tokens and the journal, written together in short
// transactions. It implements library.Repo.
package index

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"syscall"
	"time"

	bolt "go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"

	"github.com/reliquary/reliquary/internal/journal"
	"github.com/reliquary/reliquary/internal/library"
)

// SchemaVersion is the index layout this build reads and writes.
const SchemaVersion = 1

// migrations[i] upgrades a schema at version i+1 to i+2; add one function
// per layout change, never edit an old one.
var migrations = []func(*bolt.Tx) error{}

// Index is the bbolt file.
type Index struct {
	db *bolt.DB
	// onCommit, when set, is told about events after their commit.
	onCommit func([]*journal.Event)
	// committer and catchUp commit through the bucket's journal
	// (commit.go); nil: local commits only.
	committer Committer
	catchUp   func(ctx context.Context) error
	publishMu sync.Mutex
	group     groupQueue // group_commit.go
}

var _ library.Repo = (*Index)(nil)

// Options tune Open.
type Options struct {
	// Timeout is how long to wait for the file lock (another process).
	Timeout time.Duration
	// ReadOnly opens without writing (offline verification).
	ReadOnly bool
	// AtSchema, when set, creates a new file at that schema and runs no
	// migration (Rebuild replays an old journal into the layout it was
	// written for). An existing file must already be at it.
	AtSchema int
}

// Open opens or creates the index file with mode 0600, creating every
// bucket and the schema version in one transaction and running pending
// migrations.
func Open(path string, o Options) (*Index, error) {
	if o.Timeout == 0 {
		o.Timeout = 5 * time.Second
	}
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: o.Timeout, ReadOnly: o.ReadOnly, FreelistType: bolt.FreelistMapType})
	if err != nil {
		if errors.Is(err, berrors.ErrTimeout) {
			return nil, fmt.Errorf("open index %s: locked by another process (is a server running?): %w", path, err)
		}
		return nil, fmt.Errorf("open index %s: %w", path, err)
	}
	if o.ReadOnly {
		if err := db.View(checkSchema); err != nil {
			db.Close()
			return nil, err
		}
		return &Index{db: db}, nil
	}
	if err := db.Update(func(tx *bolt.Tx) error { return initSchema(tx, o.AtSchema) }); err != nil {
		db.Close()
		return nil, fmt.Errorf("initialise index %s: %w", path, err)
	}
	ix := &Index{db: db}
	if err := ix.catchUpLog(); err != nil { // the signed log of an older index (log.go)
		db.Close()
		return nil, fmt.Errorf("initialise index %s: signed log: %w", path, err)
	}
	return ix, nil
}

func initSchema(tx *bolt.Tx, at int) error {
	if at < 0 || at > schemaVersion {
		return fmt.Errorf("index schema %d is not one this build knows (1..%d)", at, schemaVersion)
	}
	for _, b := range allBuckets {
		if _, err := tx.CreateBucketIfNotExists(b); err != nil {
			return err
		}
	}
	meta := tx.Bucket(bucketMeta)
	v := meta.Get(keySchemaVersion)
	if v == nil {
		if at == 0 {
			at = schemaVersion
		}
		return meta.Put(keySchemaVersion, seqKey(uint64(at)))
	}
	have := int(seqFromKey(v))
	if at != 0 {
		if have != at {
			return fmt.Errorf("index is at schema %d, not %d", have, at)
		}
		return nil
	}
	if have > schemaVersion {
		return fmt.Errorf("index schema %d is newer than this build's %d: upgrade reliquary", have, schemaVersion)
	}
	return migrateIndex(tx, schemaVersion)
}

func checkSchema(tx *bolt.Tx) error {
	meta := tx.Bucket(bucketMeta)
	if meta == nil {
		return errors.New("not a reliquary index (no meta bucket)")
	}
	if v := meta.Get(keySchemaVersion); v == nil || int(seqFromKey(v)) != schemaVersion {
		return fmt.Errorf("index schema is not %d", schemaVersion)
	}
	return nil
}

// Close closes the file.
func (ix *Index) Close() error { return ix.db.Close() }

// Path is the file's path.
func (ix *Index) Path() string { return ix.db.Path() }

// OnCommit registers a function told about every committed event (the
// event feed and the journal workers wake on it). It must not block.
func (ix *Index) OnCommit(fn func([]*journal.Event)) { ix.onCommit = fn }

// Ping checks the file is open and readable.
func (ix *Index) Ping() error {
	return ix.db.View(func(tx *bolt.Tx) error {
		if tx.Bucket(bucketMeta) == nil {
			return errors.New("index has no meta bucket")
		}
		return nil
	})
}

// WriteTo writes a consistent copy of the whole file (a hot backup).
func (ix *Index) WriteTo(w io.Writer) (int64, error) {
	var n int64
	err := ix.db.View(func(tx *bolt.Tx) error {
		var err error
		n, err = tx.WriteTo(w)
		return err
	})
	return n, err
}

// View implements library.Repo.
func (ix *Index) View(fn func(library.ReadTx) error) error {
	return ix.db.View(func(btx *bolt.Tx) error { return fn(&tx{btx: btx}) })
}

// Update implements library.Repo: UpdateContext without a request
// (commit.go).
func (ix *Index) Update(fn func(library.WriteTx) error) error {
	return ix.UpdateContext(context.Background(), fn)
}

// mapCommitErr names a full index volume with the library's sentinel, so
// callers answer "storage full" instead of an internal error. bbolt has
// rolled the transaction back: the file still holds the last commit.
func mapCommitErr(err error) error {
	full := []syscall.Errno{syscall.ENOSPC, syscall.EDQUOT, syscall.EFBIG}
	for _, e := range full {
		// bbolt v1.4 formats the errors of growing the file with %s
		// ("file resize error: ..."), which loses the chain: match the text.
		if errors.Is(err, e) || strings.Contains(err.Error(), ": "+e.Error()) {
			return fmt.Errorf("index commit: %w: %w", library.ErrIndexFull, err)
		}
	}
	return err
}

func getJSON[T any](b *bolt.Bucket, key []byte) (*T, error) {
	v := b.Get(key)
	if v == nil {
		return nil, nil
	}
	var out T
	if err := json.Unmarshal(v, &out); err != nil {
		return nil, fmt.Errorf("index record %q: %w", key, err)
	}
	return &out, nil
}
