package index

import (
	"fmt"
	"os"
	"path/filepath"

	bolt "go.etcd.io/bbolt"
)

// Snapshot copies a consistent image of the whole index into an unlinked
// temporary file next to it and returns that file, positioned at its start,
// with its size. The read transaction lasts only as long as the local copy:
// a client downloading the backup slowly never holds the index (a write
// that must grow the bbolt mmap waits for every open read transaction).
// The caller closes the file; its space is freed then.
func (ix *Index) Snapshot() (*os.File, int64, error) {
	f, err := os.CreateTemp(filepath.Dir(ix.db.Path()), ".backup-*.db")
	if err != nil {
		return nil, 0, fmt.Errorf("backup: temporary file: %w", err)
	}
	// Unlinked at once: nothing is left behind by a crash or an aborted
	// download, and nobody else can open it.
	_ = os.Remove(f.Name())
	var n int64
	err = ix.db.View(func(tx *bolt.Tx) error {
		var err error
		n, err = tx.WriteTo(f)
		return err
	})
	if err == nil {
		_, err = f.Seek(0, 0)
	}
	if err != nil {
		f.Close()
		return nil, 0, fmt.Errorf("backup: copy the index: %w", err)
	}
	return f, n, nil
}
