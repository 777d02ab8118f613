package fs

import (
	"errors"
	iofs "io/fs"
	"path"
	"strings"
)

// mkdirAllSynced is MkdirAll under the root that also makes every directory
// it creates durable: a new directory's entry lives in its parent, so the
// parent of each created directory is fsynced (deepest first), not only the
// final one. Without it an acknowledged object could vanish on power loss
// with the directories that led to it.
func (s *Store) mkdirAllSynced(dir string) error {
	if dir == "." || dir == "" {
		return nil
	}
	var created []string
	cur := ""
	for _, part := range strings.Split(dir, "/") {
		cur = path.Join(cur, part)
		err := s.root.Mkdir(cur, 0o750)
		switch {
		case err == nil:
			created = append(created, cur)
		case errors.Is(err, iofs.ErrExist):
		default:
			return mapErr("create directory "+cur, err)
		}
	}
	for i := len(created) - 1; i >= 0; i-- {
		if err := s.syncDir(path.Dir(created[i])); err != nil {
			return err
		}
	}
	return nil
}
