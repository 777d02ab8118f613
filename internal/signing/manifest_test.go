package signing

import (
	"bytes"
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

const digestA = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"
const digestB = "60303ae22b998861bce3b28f33eec1be758a213c86c93c076dbe9f558c11c752"

func sampleRelease() ReleaseManifest {
	return ReleaseManifest{
		Product:  "hr",
		Version:  "1.2.3",
		Type:     "emergency",
		ChangeID: "CHG0042",
		CIIDs:    []string{"CI-HR-APP", "CI-HR-DB"},
		Artifacts: []ManifestArtifact{
			{Name: "hr-setup.exe", SHA256: digestB, Size: 2048, MediaType: "application/vnd.microsoft.portable-executable", OS: "windows", Arch: "amd64"},
			{Name: "hr-1.2.3.tar.gz", SHA256: digestA, Size: 1 << 40, MediaType: "application/gzip", OS: "linux", Arch: "arm64"},
			{Name: "README.txt", SHA256: digestA, Size: 0, MediaType: "text/plain"},
		},
		SealedBy: "alice",
		SealedAt: time.Date(2026, 1, 2, 4, 4, 5, 123456789, time.FixedZone("CET", 3600)),
	}
}

func sampleBaseline() BaselineManifest {
	return BaselineManifest{
		Name:        "prod-2026-01",
		Description: "production, January",
		ChangeID:    "CHG0100",
		Releases: []BaselineMember{
			{Product: "payroll", Version: "2.0.0", Type: "major"},
			{Product: "hr", Version: "1.2.3", Type: "emergency"},
		},
		CreatedBy: "bob",
		CreatedAt: time.Date(2026, 1, 31, 12, 0, 0, 0, time.UTC),
	}
}

func TestReleaseManifestMarshal(t *testing.T) {
	m := sampleRelease()
	b, err := m.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	want := `{"artifacts":[` +
		`{"media_type":"text/plain","name":"README.txt","sha256":"` + digestA + `","size":0},` +
		`{"arch":"arm64","media_type":"application/gzip","name":"hr-1.2.3.tar.gz","os":"linux","sha256":"` + digestA + `","size":1099511627776},` +
		`{"arch":"amd64","media_type":"application/vnd.microsoft.portable-executable","name":"hr-setup.exe","os":"windows","sha256":"` + digestB + `","size":2048}],` +
		`"change_id":"CHG0042","ci_ids":["CI-HR-APP","CI-HR-DB"],"product":"hr","schema_version":1,` +
		`"sealed_at":"2026-01-02T03:04:05.123456789Z","sealed_by":"alice","type":"emergency","version":"1.2.3"}`
	if diff := cmp.Diff(want, string(b)); diff != "" {
		t.Errorf("Marshal mismatch (-want +got):\n%s", diff)
	}
	if m.Artifacts[0].Name != "hr-setup.exe" || m.SchemaVersion != 0 {
		t.Error("Marshal modified its receiver")
	}

	got, err := ParseReleaseManifest(b)
	if err != nil {
		t.Fatalf("ParseReleaseManifest: %v", err)
	}
	again, err := got.Marshal()
	if err != nil || !bytes.Equal(again, b) {
		t.Fatalf("round trip changed the bytes:\n%s\n%s (%v)", b, again, err)
	}
	if got.SchemaVersion != 1 || !got.SealedAt.Equal(m.SealedAt) || len(got.Artifacts) != 3 {
		t.Errorf("parsed manifest = %+v", got)
	}
}

func TestReleaseManifestEmptyListsAndOmitempty(t *testing.T) {
	m := ReleaseManifest{Product: "hr", Version: "2.0.0", Type: "major", SealedBy: "a", SealedAt: time.Unix(0, 0)}
	b, err := m.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	want := `{"artifacts":[],"ci_ids":[],"product":"hr","schema_version":1,"sealed_at":"1970-01-01T00:00:00Z","sealed_by":"a","type":"major","version":"2.0.0"}`
	if string(b) != want {
		t.Errorf("got  %s\nwant %s", b, want)
	}
	if _, err := ParseReleaseManifest(b); err != nil {
		t.Errorf("parse: %v", err)
	}
}

func TestParseReleaseManifestRejects(t *testing.T) {
	good, err := sampleRelease().Marshal()
	if err != nil {
		t.Fatal(err)
	}
	s := string(good)
	tests := []struct {
		name    string
		in      string
		wantErr error
	}{
		{"unknown field", strings.Replace(s, `{"artifacts"`, `{"extra":1,"artifacts"`, 1), ErrInvalidManifest},
		{"unknown nested field", strings.Replace(s, `"size":0}`, `"size":0,"signed":true}`, 1), ErrInvalidManifest},
		{"trailing data", s + "{}", ErrInvalidManifest},
		{"trailing newline", s + "\n", ErrNotCanonical},
		{"indented", strings.ReplaceAll(s, ",", ", "), ErrNotCanonical},
		{"keys reordered", `{"product":"hr",` + strings.Replace(s[1:], `"product":"hr",`, "", 1), ErrNotCanonical},
		{"artifacts unsorted", strings.Replace(s, "README.txt", "zz.txt", 1), ErrNotCanonical},
		{"null ci_ids", strings.Replace(s, `["CI-HR-APP","CI-HR-DB"]`, `null`, 1), ErrNotCanonical},
		{"non-UTC time", strings.Replace(s, `05.123456789Z`, `05.123456789+00:00`, 1), ErrNotCanonical},
		{"field name case", strings.Replace(s, `"product"`, `"Product"`, 1), ErrNotCanonical},
		{"duplicate key", strings.Replace(s, `"product":"hr"`, `"product":"hr","product":"hr"`, 1), ErrNotCanonical},
		{"html escaped", strings.Replace(s, `"sealed_by":"alice"`, `"sealed_by":"\u003calice\u003e"`, 1), ErrNotCanonical},
		{"schema 2", strings.Replace(s, `"schema_version":1`, `"schema_version":2`, 1), ErrInvalidManifest},
		{"no schema", strings.Replace(s, `"schema_version":1,`, ``, 1), ErrInvalidManifest},
		{"bad digest", strings.Replace(s, digestB, strings.ToUpper(digestB), 1), ErrInvalidManifest},
		{"duplicate artifact", strings.Replace(s, "hr-setup.exe", "hr-1.2.3.tar.gz", 1), ErrInvalidManifest},
		{"negative size", strings.Replace(s, `"size":2048`, `"size":-1`, 1), ErrInvalidManifest},
		{"not json", "manifest", ErrInvalidManifest},
		{"empty", "", ErrInvalidManifest},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if tc.in == s {
				t.Fatal("test case does not change the manifest")
			}
			_, err := ParseReleaseManifest([]byte(tc.in))
			if !errors.Is(err, tc.wantErr) {
				t.Errorf("err = %v, want %v", err, tc.wantErr)
			}
		})
	}
}

func TestReleaseManifestMarshalValidates(t *testing.T) {
	tests := map[string]func(*ReleaseManifest){
		"no product":         func(m *ReleaseManifest) { m.Product = "" },
		"no version":         func(m *ReleaseManifest) { m.Version = "" },
		"no type":            func(m *ReleaseManifest) { m.Type = "" },
		"zero sealed_at":     func(m *ReleaseManifest) { m.SealedAt = time.Time{} },
		"schema 3":           func(m *ReleaseManifest) { m.SchemaVersion = 3 },
		"empty artifact":     func(m *ReleaseManifest) { m.Artifacts[0].Name = "" },
		"duplicate artifact": func(m *ReleaseManifest) { m.Artifacts[1].Name = m.Artifacts[0].Name },
		"short digest":       func(m *ReleaseManifest) { m.Artifacts[0].SHA256 = "abc" },
	}
	for name, mutate := range tests {
		t.Run(name, func(t *testing.T) {
			m := sampleRelease()
			mutate(&m)
			if _, err := m.Marshal(); !errors.Is(err, ErrInvalidManifest) {
				t.Errorf("err = %v, want ErrInvalidManifest", err)
			}
		})
	}
}

func TestBaselineManifestRoundTrip(t *testing.T) {
	m := sampleBaseline()
	b, err := m.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	want := `{"change_id":"CHG0100","created_at":"2026-01-31T12:00:00Z","created_by":"bob","description":"production, January",` +
		`"name":"prod-2026-01","releases":[{"product":"hr","type":"emergency","version":"1.2.3"},` +
		`{"product":"payroll","type":"major","version":"2.0.0"}],"schema_version":1}`
	if diff := cmp.Diff(want, string(b)); diff != "" {
		t.Errorf("Marshal mismatch (-want +got):\n%s", diff)
	}
	got, err := ParseBaselineManifest(b)
	if err != nil {
		t.Fatalf("ParseBaselineManifest: %v", err)
	}
	m.SchemaVersion = 1
	m.Releases[0], m.Releases[1] = m.Releases[1], m.Releases[0]
	if diff := cmp.Diff(m, got); diff != "" {
		t.Errorf("parsed baseline (-want +got):\n%s", diff)
	}

	s := string(b)
	for name, bad := range map[string]string{
		"unknown field":     strings.Replace(s, `{"change_id"`, `{"x":1,"change_id"`, 1),
		"unsorted":          strings.Replace(s, `"product":"hr"`, `"product":"zz"`, 1),
		"duplicate product": strings.Replace(s, `"product":"payroll"`, `"product":"hr"`, 1),
		"whitespace":        " " + s,
	} {
		if _, err := ParseBaselineManifest([]byte(bad)); err == nil {
			t.Errorf("%s: parsed", name)
		}
	}
}

func TestSignedManifestTamperFails(t *testing.T) {
	s, err := NewSigner(newP256(t))
	if err != nil {
		t.Fatal(err)
	}
	b, err := sampleRelease().Marshal()
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

// FuzzParseReleaseManifest: whatever the parser accepts re-marshals to the
// same bytes, so a manifest has one encoding and one digest.
func FuzzParseReleaseManifest(f *testing.F) {
	good, err := sampleRelease().Marshal()
	if err != nil {
		f.Fatal(err)
	}
	f.Add(good)
	f.Add([]byte(`{"artifacts":[],"ci_ids":[],"product":"p","schema_version":1,"sealed_at":"1970-01-01T00:00:00Z","sealed_by":"","type":"major","version":"1.0.0"}`))
	f.Add([]byte(`{"schema_version":1}`))
	for _, name := range []string{"../../etc/passwd", "..", ".", "a/b", "/abs", "a\\b", "ok.tar.gz", "-x", ".hidden"} {
		m := sampleRelease()
		m.Artifacts = []ManifestArtifact{{Name: name, SHA256: strings.Repeat("a", 64), Size: 1, MediaType: "x"}}
		m.SchemaVersion, m.SealedAt = ManifestSchemaVersion, m.SealedAt.UTC()
		b, err := Canonical(m)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := ParseReleaseManifest(data)
		if err != nil {
			return
		}
		again, err := m.Marshal()
		if err != nil {
			t.Fatalf("accepted manifest does not marshal: %v", err)
		}
		if !bytes.Equal(again, data) {
			t.Fatalf("accepted non-canonical bytes:\n%q\n%q", data, again)
		}
		for _, a := range m.Artifacts {
			if !ValidArtifactName(a.Name) || a.Name != filepath.Base(a.Name) || a.Name == "." || a.Name == ".." ||
				strings.ContainsAny(a.Name, "/\\\x00") || !filepath.IsLocal(a.Name) {
				t.Fatalf("accepted artifact name %q, which is not a plain local file name", a.Name)
			}
		}
	})
}
