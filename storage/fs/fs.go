// Package fs is the embedded default BlobStore: objects are plain files under
// a root directory, laid out exactly as the keys read, so the directory is a
// browsable library on its own.
//
// Every operation goes through an os.Root, so no key (and no symlink planted
// under the root) can reach outside it. A Put writes a temporary file under
// <root>/.tmp, fsyncs it, links it to its final name (link(2) never replaces
// an existing name, which is what makes Put create-only), removes the
// temporary name and fsyncs the directory.
package fs

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	iofs "io/fs"
	"net/url"
	"os"
	"path"
	"sort"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/reliquary/reliquary/storage"
)

const tmpDir = ".tmp"

// Store is a BlobStore on a local directory.
type Store struct {
	root *os.Root
	dir  string
	// synced, when set (tests), is told every directory syncDir fsyncs.
	synced func(dir string)
}

var _ storage.BlobStore = (*Store)(nil)

// New opens (creating it when missing) the directory dir as a store.
// Leftover temporary files of an earlier crash are removed.
func New(dir string) (*Store, error) {
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return nil, fmt.Errorf("create blob directory: %w", err)
	}
	root, err := os.OpenRoot(dir)
	if err != nil {
		return nil, fmt.Errorf("open blob directory: %w", err)
	}
	_ = root.RemoveAll(tmpDir)
	if err := root.Mkdir(tmpDir, 0o700); err != nil && !errors.Is(err, iofs.ErrExist) {
		root.Close()
		return nil, fmt.Errorf("create %s: %w", path.Join(dir, tmpDir), err)
	}
	return &Store{root: root, dir: dir}, nil
}

// Close releases the root directory handle.
func (s *Store) Close() error { return s.root.Close() }

// Dir is the directory the store lives in.
func (s *Store) Dir() string { return s.dir }

var bufPool = sync.Pool{New: func() any { b := make([]byte, 256<<10); return &b }}

// Put implements storage.BlobStore.
func (s *Store) Put(ctx context.Context, key string, r io.Reader, size int64, _ storage.PutOptions) (storage.Info, error) {
	if err := storage.ValidateKey(key); err != nil {
		return storage.Info{}, err
	}
	tmp := path.Join(tmpDir, randomName())
	f, err := s.root.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o640)
	if err != nil {
		return storage.Info{}, mapErr("create temporary file", err)
	}
	committed := false
	defer func() {
		if !committed {
			f.Close()
			_ = s.root.Remove(tmp)
		}
	}()

	var src io.Reader = ctxReader{ctx, r}
	if size >= 0 {
		src = io.LimitReader(src, size+1) // one byte more tells a longer source
	}
	bp := bufPool.Get().(*[]byte)
	n, err := io.CopyBuffer(struct{ io.Writer }{f}, src, *bp)
	bufPool.Put(bp)
	if err != nil {
		return storage.Info{}, mapErr("write "+key, err)
	}
	if size >= 0 && n != size {
		return storage.Info{}, fmt.Errorf("put %s: read %d bytes, expected %d: %w", key, n, size, storage.ErrSizeMismatch)
	}
	if err := f.Sync(); err != nil {
		return storage.Info{}, mapErr("sync "+key, err)
	}
	if err := f.Close(); err != nil {
		return storage.Info{}, mapErr("close "+key, err)
	}
	if err := ctx.Err(); err != nil {
		return storage.Info{}, err
	}
	if err := s.link(tmp, key); err != nil {
		return storage.Info{}, err
	}
	committed = true
	_ = s.root.Remove(tmp)
	if err := s.syncDir(path.Dir(key)); err != nil {
		return storage.Info{}, err
	}
	fi, err := s.root.Stat(key)
	if err != nil {
		return storage.Info{}, mapErr("stat "+key, err)
	}
	return storage.Info{Key: key, Size: fi.Size(), ModTime: fi.ModTime()}, nil
}

// link gives the temporary file its final name, never replacing one. A
// concurrent Delete may remove the freshly made parent directory, so a
// missing parent is retried a few times.
func (s *Store) link(tmp, key string) error {
	var err error
	for range 3 {
		if err = s.mkdirAllSynced(path.Dir(key)); err != nil {
			return err
		}
		err = s.root.Link(tmp, key)
		switch {
		case err == nil:
			return nil
		case errors.Is(err, iofs.ErrExist):
			return fmt.Errorf("put %s: %w", key, storage.ErrExists)
		case errors.Is(err, iofs.ErrNotExist):
			continue
		default:
			return mapErr("link "+key, err)
		}
	}
	return mapErr("link "+key, err)
}

func (s *Store) syncDir(dir string) error {
	if s.synced != nil {
		s.synced(dir)
	}
	d, err := s.root.Open(dir)
	if err != nil {
		return mapErr("open directory "+dir, err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return mapErr("sync directory "+dir, err)
	}
	return nil
}

// Get implements storage.BlobStore.
func (s *Store) Get(_ context.Context, key string, offset, length int64) (io.ReadCloser, storage.Info, error) {
	if err := storage.ValidateKey(key); err != nil {
		return nil, storage.Info{}, err
	}
	f, err := s.root.Open(key)
	if err != nil {
		return nil, storage.Info{}, mapErr("open "+key, err)
	}
	fi, err := f.Stat()
	if err != nil || !fi.Mode().IsRegular() {
		f.Close()
		if err == nil {
			err = iofs.ErrNotExist
		}
		return nil, storage.Info{}, mapErr("stat "+key, err)
	}
	info := storage.Info{Key: key, Size: fi.Size(), ModTime: fi.ModTime()}
	if offset < 0 || offset > fi.Size() || (offset == fi.Size() && offset > 0) {
		f.Close()
		return nil, info, fmt.Errorf("get %s at %d of %d: %w", key, offset, fi.Size(), storage.ErrInvalidRange)
	}
	if length < 0 || offset+length > fi.Size() {
		length = fi.Size() - offset
	}
	return &sectionReadCloser{io.NewSectionReader(f, offset, length), f}, info, nil
}

type sectionReadCloser struct {
	*io.SectionReader
	f *os.File
}

func (r *sectionReadCloser) Close() error { return r.f.Close() }

// Stat implements storage.BlobStore.
func (s *Store) Stat(_ context.Context, key string) (storage.Info, error) {
	if err := storage.ValidateKey(key); err != nil {
		return storage.Info{}, err
	}
	fi, err := s.root.Lstat(key)
	if err != nil {
		return storage.Info{}, mapErr("stat "+key, err)
	}
	if !fi.Mode().IsRegular() {
		return storage.Info{}, fmt.Errorf("stat %s: %w", key, storage.ErrNotFound)
	}
	return storage.Info{Key: key, Size: fi.Size(), ModTime: fi.ModTime()}, nil
}

// Delete implements storage.BlobStore. Empty parent directories are removed
// too, so a deleted release leaves no empty folders behind.
func (s *Store) Delete(_ context.Context, key string) error {
	if err := storage.ValidateKey(key); err != nil {
		return err
	}
	if err := s.root.Remove(key); err != nil && !errors.Is(err, iofs.ErrNotExist) {
		return mapErr("delete "+key, err)
	}
	for dir := path.Dir(key); dir != "."; dir = path.Dir(dir) {
		if s.root.Remove(dir) != nil { // fails when not empty: stop there
			break
		}
	}
	return nil
}

// List implements storage.BlobStore.
func (s *Store) List(ctx context.Context, prefix string, fn func(storage.Info) error) error {
	if err := storage.ValidatePrefix(prefix); err != nil {
		return err
	}
	start := "."
	if i := strings.LastIndexByte(prefix, '/'); i >= 0 {
		start = prefix[:i]
	}
	fsys := s.root.FS()
	err := iofs.WalkDir(fsys, start, func(p string, d iofs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, iofs.ErrNotExist) {
				return nil
			}
			return err
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		if d.IsDir() {
			if p == tmpDir {
				return iofs.SkipDir
			}
			// Prune directories that cannot hold a match.
			if p != "." && !strings.HasPrefix(p+"/", prefix) && !strings.HasPrefix(prefix, p+"/") {
				return iofs.SkipDir
			}
			return nil
		}
		if !d.Type().IsRegular() || !strings.HasPrefix(p, prefix) {
			return nil
		}
		fi, err := d.Info()
		if err != nil {
			if errors.Is(err, iofs.ErrNotExist) {
				return nil // deleted while walking
			}
			return err
		}
		return fn(storage.Info{Key: p, Size: fi.Size(), ModTime: fi.ModTime()})
	})
	if err != nil {
		return mapErr("list "+prefix, err)
	}
	return nil
}

// PresignGet implements storage.BlobStore: files are served by the service.
func (s *Store) PresignGet(context.Context, string, time.Duration, string) (*url.URL, error) {
	return nil, fmt.Errorf("presigned URLs on the filesystem store: %w", storage.ErrUnsupported)
}

// Ping implements storage.BlobStore: the root and its temporary directory
// must still be there and writable.
func (s *Store) Ping(context.Context) error {
	name := path.Join(tmpDir, "ping-"+randomName())
	f, err := s.root.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return mapErr("write to "+s.dir, err)
	}
	f.Close()
	_ = s.root.Remove(name)
	return nil
}

// Leftovers lists the temporary files of writes in progress or interrupted;
// a store at rest has none. Used by tests and fsck.
func (s *Store) Leftovers(context.Context) ([]string, error) {
	entries, err := iofs.ReadDir(s.root.FS(), tmpDir)
	if err != nil {
		return nil, err
	}
	names := make([]string, 0, len(entries))
	for _, e := range entries {
		names = append(names, e.Name())
	}
	sort.Strings(names)
	return names, nil
}

// RemoveLeftovers deletes every temporary file. Only for a store no
// server is writing to (fsck --repair).
func (s *Store) RemoveLeftovers(ctx context.Context) error {
	names, err := s.Leftovers(ctx)
	if err != nil {
		return err
	}
	for _, n := range names {
		if err := s.root.Remove(path.Join(tmpDir, n)); err != nil && !errors.Is(err, iofs.ErrNotExist) {
			return mapErr("remove "+n, err)
		}
	}
	return nil
}

func randomName() string {
	var b [12]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// mapErr turns OS errors into the storage sentinels.
func mapErr(op string, err error) error {
	switch {
	case errors.Is(err, iofs.ErrNotExist):
		return fmt.Errorf("%s: %w", op, storage.ErrNotFound)
	case errors.Is(err, syscall.ENOSPC), errors.Is(err, syscall.EDQUOT), errors.Is(err, syscall.EFBIG):
		return fmt.Errorf("%s: %w: %w", op, storage.ErrNoSpace, err)
	case errors.Is(err, syscall.ENOTDIR):
		return fmt.Errorf("%s: %w", op, storage.ErrNotFound)
	case errors.Is(err, syscall.EROFS), errors.Is(err, syscall.EIO):
		return fmt.Errorf("%s: %w: %w", op, storage.ErrUnavailable, err)
	}
	return fmt.Errorf("%s: %w", op, err)
}

// ctxReader stops a copy as soon as the context ends.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}
