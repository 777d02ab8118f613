package app

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/reliquary/reliquary/api"
)

// linkSecretFile holds the HMAC key of download links, so links survive a
// restart; a node of a cluster signs with its own.
const linkSecretFile = "link-secret"

// loadLinkSecret reads the data directory's link secret, creating it
// (mode 0600) on first start.
func loadLinkSecret(dataDir string) ([]byte, error) {
	p := filepath.Join(dataDir, linkSecretFile)
	b, err := os.ReadFile(p)
	switch {
	case err == nil && len(b) >= 32:
		return b, nil
	case err == nil:
		return nil, fmt.Errorf("download link secret %s is shorter than 32 bytes: delete it to make a new one", p)
	case !errors.Is(err, fs.ErrNotExist):
		return nil, fmt.Errorf("read download link secret: %w", err)
	}
	b = api.NewLinkSecret()
	f, err := os.OpenFile(p, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		if errors.Is(err, fs.ErrExist) { // another process made it first
			return loadLinkSecret(dataDir)
		}
		return nil, fmt.Errorf("create download link secret: %w", err)
	}
	if _, err := f.Write(b); err != nil {
		f.Close()
		return nil, fmt.Errorf("write download link secret: %w", err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return nil, fmt.Errorf("write download link secret: %w", err)
	}
	return b, f.Close()
}
