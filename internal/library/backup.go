package library

import (
	"context"
	"os"
)

// Backup is a consistent copy of the whole index in a temporary file
// (taken in one short read transaction, already unlinked), which the
// caller streams and closes: a slow reader never holds the index.
// The copy holds every product and webhook: callers allow it only to an
// unscoped admin.
func (s *Service) Backup(context.Context) (*os.File, int64, error) {
	return s.journal.Snapshot()
}
