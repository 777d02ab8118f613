package testenv

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
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

var (
	buildOnce sync.Once
	binDir    string
	binPath   string
	buildErr  error
)

// ReliquaryBinary builds the reliquary command once per test binary (into a
// temporary directory StopShared removes) and returns its path.
func ReliquaryBinary(tb testing.TB) string {
	tb.Helper()
	buildOnce.Do(func() {
		binDir, buildErr = os.MkdirTemp("", "reliquary-bin-")
		if buildErr != nil {
			return
		}
		binPath = filepath.Join(binDir, "reliquary")
		out, err := exec.Command("go", "build", "-o", binPath, "github.com/reliquary/reliquary/cmd/reliquary").CombinedOutput()
		if err != nil {
			buildErr = errors.New("go build: " + err.Error() + "\n" + string(out))
		}
	})
	if buildErr != nil {
		tb.Fatal(buildErr)
	}
	return binPath
}
