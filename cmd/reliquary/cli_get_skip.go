package main

import (
	"encoding/hex"
	"os"

	"github.com/spf13/cobra"

	"github.com/reliquary/reliquary/api/client"
)

// installedAlready reports whether path is a regular file of this size and
// SHA-256: `get` does not download it again (its signature is still
// checked).
func installedAlready(path string, size int64, sha string) bool {
	st, err := os.Stat(path)
	if err != nil || !st.Mode().IsRegular() || st.Size() != size {
		return false
	}
	sum, err := fileSHA256(path)
	return err == nil && hex.EncodeToString(sum) == sha
}

// partStarted reports whether a previous run left bytes in the part file.
func partStarted(path string) bool {
	st, err := os.Stat(path)
	return err == nil && st.Size() > 0
}

// restartPart throws a part file away and downloads the artifact whole,
// returning the new file's SHA-256.
func restartPart(cmd *cobra.Command, c *client.Client, r ref, name string, size int64, path string) ([]byte, error) {
	if err := os.Remove(path); err != nil && !os.IsNotExist(err) {
		return nil, err
	}
	if err := downloadPart(cmd, c, r, name, size, path, func(int64) {}); err != nil {
		return nil, err
	}
	return fileSHA256(path)
}
