package ui_test

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"strings"
	"testing"

	"github.com/sigstore/sigstore/pkg/signature"
	sigdsse "github.com/sigstore/sigstore/pkg/signature/dsse"

	"github.com/reliquary/reliquary/internal/evidence"
	"github.com/reliquary/reliquary/internal/library"
)

// TestUIReleaseEvidence: the release page lists the release's attestations
// (predicate type, digest, who attached it with which key).
func TestUIReleaseEvidence(t *testing.T) {
	st := setup(t, 0)
	ctx := context.Background()
	lib := st.srv.Lib
	admin, err := lib.Authenticate(st.srv.AdminToken)
	if err != nil {
		t.Fatal(err)
	}
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, _ := x509.MarshalPKIXPublicKey(&k.PublicKey)
	pub := string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}))
	two := 2
	if _, err := lib.SetPolicy(ctx, admin, "hr", library.PolicyInput{SupportedMinors: &two, AttestationKeys: []string{pub}}); err != nil {
		t.Fatal(err)
	}
	body := []byte("hr 1.2.0 for linux") // an artifact of hr@1.2.0 (setup)
	sum := sha256.Sum256(body)
	stmt, _ := json.Marshal(map[string]any{"_type": "https://in-toto.io/Statement/v1",
		"subject":       []map[string]any{{"name": "hr-linux.tar.gz", "digest": map[string]string{"sha256": hex.EncodeToString(sum[:])}}},
		"predicateType": "https://slsa.dev/provenance/v1", "predicate": map[string]any{"buildDefinition": map[string]any{"buildType": "make"}}})
	sv, err := signature.LoadECDSASignerVerifier(k, crypto.SHA256)
	if err != nil {
		t.Fatal(err)
	}
	env, err := sigdsse.WrapSigner(sv, evidence.PayloadType).SignMessage(bytes.NewReader(stmt))
	if err != nil {
		t.Fatal(err)
	}
	ci := library.Principal{Name: "ci", Role: library.RolePublisher}
	att, _, err := lib.AddAttestation(ctx, ci, "hr", "1.2.0", env)
	if err != nil {
		t.Fatal(err)
	}

	c := newFormClient(t, st.srv.URL)
	c.login(st.bob)
	status, _, page := c.get("/ui/products/hr/releases/1.2.0")
	if status != 200 {
		t.Fatalf("release page: %d", status)
	}
	i := strings.Index(page, `data-section="evidence"`)
	if i < 0 {
		t.Fatal("no evidence section on the release page")
	}
	section := page[i:]
	if j := strings.Index(section, "</section>"); j > 0 {
		section = section[:j]
	}
	for _, want := range []string{"https://slsa.dev/provenance/v1", att.Digest, "ci (key " + att.Signer + ")"} {
		if !strings.Contains(section, want) {
			t.Errorf("evidence section lacks %q:\n%s", want, section)
		}
	}
	// A release without evidence says so.
	_, _, page = c.get("/ui/products/hr/releases/1.1.0")
	if !strings.Contains(page, "No evidence") {
		t.Error("a release without attestations does not say it has none")
	}
}
