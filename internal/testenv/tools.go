package testenv

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// CosignVersion is the pinned cosign `make test` installs.
const CosignVersion = "v2.6.5"

// Cosign returns the cosign binary ($RELIQUARY_COSIGN, the make test cache,
// or $PATH), skipping the test (failing it under CI=true) when missing.
func Cosign(tb testing.TB) string {
	tb.Helper()
	p := os.Getenv("RELIQUARY_COSIGN")
	if p == "" {
		if out, err := exec.Command("go", "env", "GOCACHE").Output(); err == nil {
			c := filepath.Join(strings.TrimSpace(string(out)), "reliquary-tools", "cosign-"+CosignVersion, "cosign")
			if _, err := os.Stat(c); err == nil {
				p = c
			}
		}
	}
	if p == "" {
		p, _ = exec.LookPath("cosign")
	}
	RequireTool(tb, "cosign", p, "go install github.com/sigstore/cosign/v2/cmd/cosign@"+CosignVersion+" and set RELIQUARY_COSIGN")
	return p
}
