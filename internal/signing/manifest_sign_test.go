package signing

import (
	"bytes"
	"context"
	"errors"
	"testing"
	"time"

	"github.com/reliquary/reliquary/internal/manifest"
)

func TestSignedManifestTamperFails(t *testing.T) {
	s, err := NewSigner(newP256(t))
	if err != nil {
		t.Fatal(err)
	}
	m := manifest.ReleaseManifest{Product: "hr", Version: "1.2.3", Type: "emergency", CIIDs: []string{},
		Artifacts: []manifest.ManifestArtifact{{Name: "hr-setup.exe", SHA256: "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
			Size: 2048, MediaType: "application/octet-stream"}},
		SealedBy: "alice", SealedAt: time.Date(2026, 1, 2, 4, 4, 5, 0, time.UTC)}
	b, err := m.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	sig, err := s.Sign(context.Background(), b)
	if err != nil {
		t.Fatal(err)
	}
	kr, err := NewKeyring(s)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := kr.Verify(b, sig); err != nil {
		t.Fatalf("verify manifest: %v", err)
	}
	tampered := bytes.Replace(b, []byte(`"size":2048`), []byte(`"size":2049`), 1)
	if _, err := kr.Verify(tampered, sig); !errors.Is(err, ErrVerification) {
		t.Fatalf("tampered manifest: err = %v, want ErrVerification", err)
	}
}
