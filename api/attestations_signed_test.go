package api_test

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
	"io"
	"path/filepath"
	"slices"
	"testing"

	"github.com/sigstore/sigstore/pkg/signature"
	sigdsse "github.com/sigstore/sigstore/pkg/signature/dsse"

	"github.com/reliquary/reliquary/internal/fsck"
	"github.com/reliquary/reliquary/internal/index"
	"github.com/reliquary/reliquary/internal/journal"
	"github.com/reliquary/reliquary/internal/library"
	"github.com/reliquary/reliquary/internal/testenv"
)

// goAttester signs in-toto statements into DSSE envelopes with sigstore's
// DSSE wrapper, the code path cosign attest-blob uses, so these tests run
// where cosign is not installed.
type goAttester struct {
	sv  signature.SignerVerifier
	pem string
}

func newGoAttester(t *testing.T) goAttester {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	sv, err := signature.LoadECDSASignerVerifier(k, crypto.SHA256)
	if err != nil {
		t.Fatal(err)
	}
	der, _ := x509.MarshalPKIXPublicKey(&k.PublicKey)
	return goAttester{sv: sv, pem: string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}))}
}

func (a goAttester) attest(t *testing.T, predicateType string, predicate any, sha256Hex ...string) []byte {
	t.Helper()
	var subj []map[string]any
	for _, d := range sha256Hex {
		subj = append(subj, map[string]any{"name": "app.tar.gz", "digest": map[string]string{"sha256": d}})
	}
	st, _ := json.Marshal(map[string]any{"_type": "https://in-toto.io/Statement/v1", "subject": subj, "predicateType": predicateType, "predicate": predicate})
	env, err := sigdsse.WrapSigner(a.sv, "application/vnd.in-toto+json").SignMessage(bytes.NewReader(st))
	if err != nil {
		t.Fatal(err)
	}
	return env
}

// TestAttestationsJournaledAndKept: an attestation is journaled and
// evented, approval waits for the required predicate type, fsck counts
// the file as named (and --repair keeps it), and a rebuild of the index
// from the journal alone gives back the attestation and its type index.
func TestAttestationsJournaledAndKept(t *testing.T) {
	srv := testenv.StartServer(t, testenv.ServerOptions{})
	e := &cmdbEnv{t: t, srv: srv, admin: newClient(t, srv, srv.AdminToken)}
	e.ci = e.token("ci", "publisher")
	e.rm = e.token("alice", "release-manager")
	att := newGoAttester(t)
	e.admin.json("POST", "/products", map[string]any{"name": "svc"}).must(t, 201)
	e.admin.json("PUT", "/products/svc/policy", map[string]any{
		"attestation_keys": []string{att.pem}, "required_attestations": []string{"https://example.com/tests/v1"}}).must(t, 200)
	var p library.Product
	e.admin.json("GET", "/products/svc", nil).must(t, 200).decode(t, &p)
	if len(p.Policy.AttestationKeys) != 1 || p.Policy.RequiredAttestations[0] != "https://example.com/tests/v1" {
		t.Fatalf("policy %+v", p.Policy)
	}
	e.admin.hostileClient().json("PUT", "/products/svc/policy", map[string]any{"attestation_keys": []string{"not a key"}}).must(t, 400)

	blob := []byte("service build 42")
	sum := sha256.Sum256(blob)
	rel := "/products/svc/releases/2.0.0"
	e.ci.json("POST", "/products/svc/releases", map[string]any{"version": "2.0.0"}).must(t, 201)
	e.ci.do("PUT", rel+"/artifacts/app.tar.gz", bytes.NewReader(blob), "Content-Type", "application/octet-stream").must(t, 201)
	// Evidence may come while the release is a draft.
	e.ci.do("POST", rel+"/attestations", bytes.NewReader(att.attest(t, "https://slsa.dev/provenance/v1", map[string]any{"x": 1}, hex.EncodeToString(sum[:]))),
		"Content-Type", "application/octet-stream").must(t, 201)
	e.ci.json("POST", rel+"/seal", nil).must(t, 200)
	e.rm.json("POST", rel+"/approvals", nil).must(t, 409)
	var rec struct{ Digest string }
	e.ci.do("POST", rel+"/attestations", bytes.NewReader(att.attest(t, "https://example.com/tests/v1", map[string]any{"passed": 812}, hex.EncodeToString(sum[:]))),
		"Content-Type", "application/octet-stream").must(t, 201).decode(t, &rec)
	e.rm.json("POST", rel+"/approvals", nil).must(t, 200)
	// The approved statement, signed by the library, names both pieces of
	// evidence: the evidence is covered by the library's signature too.
	var env struct{ Payload []byte }
	e.rm.json("GET", rel+"/statement", nil).must(t, 200).decode(t, &env)
	var stmt struct {
		Predicate struct {
			State        string
			Attestations []string
		}
	}
	if err := json.Unmarshal(env.Payload, &stmt); err != nil {
		t.Fatal(err)
	}
	if stmt.Predicate.State != "approved" || len(stmt.Predicate.Attestations) != 2 || !slices.Contains(stmt.Predicate.Attestations, rec.Digest) {
		t.Errorf("approved statement's evidence: %+v (want 2 digests incl. %s)", stmt.Predicate, rec.Digest)
	}
	// The policy changed after the approval: promotion checks the evidence again.
	e.admin.json("PUT", "/products/svc/policy", map[string]any{"attestation_keys": []string{att.pem},
		"required_attestations": []string{"https://example.com/tests/v1", "https://spdx.dev/Document"}}).must(t, 200)
	if r := e.rm.json("POST", rel+"/promote", map[string]string{"to": "released", "change_id": "CHG-2"}); r.status != 409 || r.errCode() != "EVIDENCE_MISSING" {
		t.Fatalf("promote without the newly required evidence: %d %s", r.status, r.body)
	}

	// Evidence about a draft artifact that was deleted afterwards does not count.
	rel3 := "/products/svc/releases/3.0.0"
	e.ci.json("POST", "/products/svc/releases", map[string]any{"version": "3.0.0"}).must(t, 201)
	e.ci.do("PUT", rel3+"/artifacts/app.tar.gz", bytes.NewReader(blob), "Content-Type", "application/octet-stream").must(t, 201)
	e.ci.do("POST", rel3+"/attestations", bytes.NewReader(att.attest(t, "https://example.com/tests/v1", map[string]any{"passed": 1}, hex.EncodeToString(sum[:]))),
		"Content-Type", "application/octet-stream").must(t, 201)
	e.ci.do("DELETE", rel3+"/artifacts/app.tar.gz", nil).must(t, 204)
	e.ci.do("PUT", rel3+"/artifacts/app.tar.gz", bytes.NewReader([]byte("rebuilt")), "Content-Type", "application/octet-stream").must(t, 201)
	e.ci.json("POST", rel3+"/seal", nil).must(t, 200)
	if r := e.rm.json("POST", rel3+"/approvals", nil); r.status != 409 || r.errCode() != "EVIDENCE_MISSING" {
		t.Fatalf("approval on evidence of a deleted artifact: %d %s", r.status, r.body)
	}

	var page struct {
		Events []struct {
			Type    string
			Subject string
			Data    map[string]any
		}
	}
	e.admin.json("GET", "/events?after=0&limit=1000", nil).must(t, 200).decode(t, &page)
	n := 0
	for _, ev := range page.Events {
		if ev.Type == library.EvAttestationAdded && ev.Subject == "svc@2.0.0" {
			n++
			if ev.Data["digest"] == nil || ev.Data["predicate_type"] == nil || ev.Data["signer"] == nil {
				t.Errorf("event data %v", ev.Data)
			}
		}
	}
	if n != 2 {
		t.Fatalf("%d release.attestation_added events, want 2", n)
	}

	ctx := context.Background()
	rep, err := fsck.Run(ctx, srv.Index, srv.Store, fsck.Options{Deep: true, Repair: true})
	if err != nil || !rep.Clean() {
		t.Fatalf("fsck --deep --repair: %+v %v", rep, err)
	}
	e.ci.do("GET", rel+"/attestations/"+rec.Digest, nil).must(t, 200)

	evs, err := srv.Index.EventsAfter(0, 0)
	if err != nil {
		t.Fatal(err)
	}
	i := 0
	path := filepath.Join(t.TempDir(), "rebuilt.db")
	if _, err := index.Rebuild(path, func() (*journal.Event, error) {
		if i == len(evs) {
			return nil, io.EOF
		}
		raw, _ := json.Marshal(evs[i])
		i++
		return journal.Decode(raw)
	}); err != nil {
		t.Fatal(err)
	}
	re, err := index.Open(path, index.Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer re.Close()
	err = re.View(func(tx library.ReadTx) error {
		atts, err := tx.Attestations("svc", "2.0.0")
		if err != nil {
			return err
		}
		ok, err := tx.HasAttestationType("svc", "2.0.0", "https://example.com/tests/v1")
		if len(atts) != 2 || !ok || err != nil {
			t.Errorf("rebuilt index: %d attestations, type indexed %v, %v", len(atts), ok, err)
		}
		no, _ := tx.HasAttestationType("svc", "2.0.0", "https://example.com/tests")
		if no {
			t.Error("a prefix of a predicate type matched the type index")
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
