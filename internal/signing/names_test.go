package signing

import (
	"errors"
	"strings"
	"testing"
)

// TestParseReleaseManifestRefusesBadArtifactNames: a signed, canonical
// manifest whose artifact name is a path (../../x, a/b, /abs), "." or "..",
// or otherwise breaks the artifact-name rule is refused by the parser.
func TestParseReleaseManifestRefusesBadArtifactNames(t *testing.T) {
	for _, name := range []string{"../../etc/cron.d/x", "..", ".", "a/b", "/etc/passwd", `..\..\x`, ".hidden", "-flag", "a b", strings.Repeat("a", 256), "ok\x00"} {
		m := sampleRelease()
		m.Artifacts = []ManifestArtifact{{Name: name, SHA256: digestA, Size: 1, MediaType: "x"}}
		m.SchemaVersion, m.SealedAt = ManifestSchemaVersion, m.SealedAt.UTC()
		b, err := Canonical(m)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := ParseReleaseManifest(b); !errors.Is(err, ErrInvalidManifest) {
			t.Errorf("name %q: err = %v, want ErrInvalidManifest", name, err)
		}
	}
	m := sampleRelease()
	m.Artifacts = []ManifestArtifact{{Name: "hr_1.2+b.tar.gz", SHA256: digestA, Size: 1, MediaType: "x"}}
	b, err := m.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ParseReleaseManifest(b); err != nil {
		t.Fatalf("a valid name is refused: %v", err)
	}
}
