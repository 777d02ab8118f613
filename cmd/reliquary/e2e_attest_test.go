package main

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sigstore/sigstore/pkg/signature"
	sigdsse "github.com/sigstore/sigstore/pkg/signature/dsse"

	"github.com/reliquary/reliquary/api/client"
	"github.com/reliquary/reliquary/internal/testenv"
)

// TestAttestThroughTheCLI: an admin sets the attestation key and the
// required predicate type with policy set, CI pushes and attests with
// reliquary attest, show lists the evidence, and approve fails until the
// evidence is there.
func TestAttestThroughTheCLI(t *testing.T) {
	srv := testenv.StartServer(t, testenv.ServerOptions{})
	tm := newTeam(t, srv, "hr")
	admin := newMachine(t, srv.URL, srv.AdminToken)
	ci := newMachine(t, srv.URL, tm.ci)
	rm := newMachine(t, srv.URL, tm.alice)

	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, _ := x509.MarshalPKIXPublicKey(&k.PublicKey)
	pub := filepath.Join(admin.home, "cosign.pub")
	if err := os.WriteFile(pub, pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	const tests = "https://example.com/test-report/v1"
	if r := admin.ok("policy", "set", "hr", "--attestation-key", pub, "--required-attestations", tests); !strings.Contains(r.stdout, tests) {
		t.Fatalf("policy set: %s", r)
	}
	var pol client.Policy
	admin.jsonOut(&pol, "policy", "get", "hr")
	if len(pol.AttestationKeys) != 1 {
		t.Fatalf("policy %+v", pol)
	}
	// Changing another setting keeps the evidence settings.
	admin.ok("policy", "set", "hr", "--required-approvals", "1")
	admin.jsonOut(&pol, "policy", "get", "hr")
	if len(pol.AttestationKeys) != 1 || len(pol.RequiredAttestations) != 1 {
		t.Fatalf("policy set --required-approvals dropped the evidence settings: %+v", pol)
	}

	data := []byte("hr build 1.0.0")
	file := filepath.Join(ci.home, "hr.tar.gz")
	if err := os.WriteFile(file, data, 0o600); err != nil {
		t.Fatal(err)
	}
	ci.ok("push", "hr@1.0.0", file, "--seal")
	rm.expect(1, "approve", "hr@1.0.0")

	sum := sha256.Sum256(data)
	st, _ := json.Marshal(map[string]any{"_type": "https://in-toto.io/Statement/v1", "predicateType": tests, "predicate": map[string]any{"passed": 10},
		"subject": []any{map[string]any{"name": "hr.tar.gz", "digest": map[string]string{"sha256": hex.EncodeToString(sum[:])}}}})
	sv, err := signature.LoadECDSASignerVerifier(k, crypto.SHA256)
	if err != nil {
		t.Fatal(err)
	}
	env, err := sigdsse.WrapSigner(sv, "application/vnd.in-toto+json").SignMessage(bytes.NewReader(st))
	if err != nil {
		t.Fatal(err)
	}
	attFile := filepath.Join(ci.home, "hr.intoto.json")
	if err := os.WriteFile(attFile, env, 0o600); err != nil {
		t.Fatal(err)
	}
	var a client.Attestation
	ci.jsonOut(&a, "attest", "hr@1.0.0", attFile)
	if a.PredicateType != tests || len(a.Subjects) != 1 {
		t.Fatalf("attest: %+v", a)
	}
	if r := ci.ok("attest", "hr@1.0.0", attFile); !strings.Contains(r.stderr, "already had") {
		t.Fatalf("attest again: %s", r)
	}
	ci.expect(2, "attest", "hr@1.0.0")
	if r := ci.expect(1, "attest", "hr@1.0.0", file); !strings.Contains(r.stderr, "INVALID_ATTESTATION") {
		t.Fatalf("attest a non-attestation: %s", r)
	}
	if r := ci.ok("show", "hr@1.0.0"); !strings.Contains(r.stdout, "EVIDENCE") || !strings.Contains(r.stdout, tests) || !strings.Contains(r.stdout, a.Digest) {
		t.Fatalf("show: %s", r)
	}
	rm.ok("approve", "hr@1.0.0")
}
