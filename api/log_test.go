package api_test

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"strconv"
	"strings"
	"testing"

	"github.com/transparency-dev/merkle/proof"
	"github.com/transparency-dev/merkle/rfc6962"

	"github.com/reliquary/reliquary/internal/signing"
	"github.com/reliquary/reliquary/internal/transparency"
)

// indepCheckpoint parses and checks a checkpoint note with nothing but the
// standard library: body lines, the em-dash signature line, the 4-byte
// key hint and an ECDSA signature over SHA-256 of the body.
func indepCheckpoint(t *testing.T, pub *ecdsa.PublicKey, note []byte) (uint64, []byte) {
	t.Helper()
	i := bytes.LastIndex(note, []byte("\n\n"))
	if i < 0 {
		t.Fatalf("checkpoint has no blank line:\n%s", note)
	}
	body := note[:i+1]
	lines := strings.Split(strings.TrimSuffix(string(body), "\n"), "\n")
	if len(lines) != 3 || lines[0] != transparency.DefaultOrigin {
		t.Fatalf("checkpoint body %q", body)
	}
	size, err := strconv.ParseUint(lines[1], 10, 64)
	if err != nil {
		t.Fatal(err)
	}
	root, err := base64.StdEncoding.DecodeString(lines[2])
	if err != nil || len(root) != 32 {
		t.Fatalf("root %q", lines[2])
	}
	sigLine := strings.TrimSuffix(string(note[i+2:]), "\n")
	rest, ok := strings.CutPrefix(sigLine, "— "+transparency.DefaultOrigin+" ")
	if !ok {
		t.Fatalf("signature line %q", sigLine)
	}
	raw, err := base64.StdEncoding.DecodeString(rest)
	if err != nil || len(raw) < 5 {
		t.Fatalf("signature %q", rest)
	}
	der, _ := x509.MarshalPKIXPublicKey(pub)
	spki := sha256.Sum256(der)
	if !bytes.Equal(raw[:4], spki[:4]) {
		t.Fatalf("key hint %x, want %x", raw[:4], spki[:4])
	}
	digest := sha256.Sum256(body)
	if !ecdsa.VerifyASN1(pub, digest[:], raw[4:]) {
		t.Fatal("checkpoint signature does not verify with crypto/ecdsa")
	}
	return size, root
}

func serverKey(t *testing.T, c *client) *ecdsa.PublicKey {
	t.Helper()
	r := c.json("GET", "/signing/key", nil).must(t, 200)
	b, _ := pem.Decode(r.body)
	if b == nil {
		t.Fatalf("key %q", r.body)
	}
	k, err := x509.ParsePKIXPublicKey(b.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	return k.(*ecdsa.PublicKey)
}

type stmtView struct {
	KeyID     string
	Digest    string
	Predicate transparency.ReleasePredicate
}

// indepStatement checks a statement envelope with crypto/ecdsa over the
// DSSE PAE written out by hand, and the inclusion proof of its event with
// transparency-dev/merkle's proof package.
func indepStatement(t *testing.T, pub *ecdsa.PublicKey, env []byte) stmtView {
	t.Helper()
	var e struct {
		PayloadType string `json:"payloadType"`
		Payload     string `json:"payload"`
		Signatures  []struct {
			KeyID string `json:"keyid"`
			Sig   string `json:"sig"`
		} `json:"signatures"`
	}
	if err := json.Unmarshal(env, &e); err != nil {
		t.Fatal(err)
	}
	payload, err := base64.StdEncoding.DecodeString(e.Payload)
	if err != nil {
		t.Fatal(err)
	}
	if e.PayloadType != "application/vnd.in-toto+json" || len(e.Signatures) != 1 {
		t.Fatalf("envelope %s", env)
	}
	pae := fmt.Sprintf("DSSEv1 %d %s %d %s", len(e.PayloadType), e.PayloadType, len(payload), payload)
	sig, _ := base64.StdEncoding.DecodeString(e.Signatures[0].Sig)
	digest := sha256.Sum256([]byte(pae))
	if !ecdsa.VerifyASN1(pub, digest[:], sig) {
		t.Fatal("DSSE signature does not verify with crypto/ecdsa over the PAE")
	}
	var st struct {
		Type          string `json:"_type"`
		PredicateType string `json:"predicateType"`
		Subject       []struct {
			Digest map[string]string `json:"digest"`
		} `json:"subject"`
		Predicate transparency.ReleasePredicate `json:"predicate"`
	}
	if err := json.Unmarshal(payload, &st); err != nil {
		t.Fatal(err)
	}
	if st.Type != "https://in-toto.io/Statement/v1" || st.PredicateType != "https://reliquary.dev/release/v1" || len(st.Subject) != 1 {
		t.Fatalf("statement %s", payload)
	}
	p := st.Predicate
	size, root := indepCheckpoint(t, pub, []byte(p.Checkpoint))
	leaf, err := base64.StdEncoding.DecodeString(p.Leaf)
	if err != nil {
		t.Fatal(err)
	}
	var hashes [][]byte
	for _, h := range p.InclusionProof.Hashes {
		b, _ := base64.StdEncoding.DecodeString(h)
		hashes = append(hashes, b)
	}
	if p.InclusionProof.LogIndex != p.Seq-1 || p.InclusionProof.TreeSize != size {
		t.Fatalf("inclusion proof %+v for seq %d, checkpoint size %d", p.InclusionProof, p.Seq, size)
	}
	if err := proof.VerifyInclusion(rfc6962.DefaultHasher, p.Seq-1, size, rfc6962.DefaultHasher.HashLeaf(leaf), hashes, root); err != nil {
		t.Fatalf("inclusion proof: %v", err)
	}
	return stmtView{KeyID: e.Signatures[0].KeyID, Digest: st.Subject[0].Digest["sha256"], Predicate: p}
}

// auditLeaf is event seq as the audit feed serves it, in canonical form:
// what the log's leaf must be.
func auditLeaf(t *testing.T, admin *client, seq uint64) []byte {
	t.Helper()
	var page struct{ Events []json.RawMessage }
	admin.json("GET", fmt.Sprintf("/audit?after=%d&limit=1", seq-1), nil).must(t, 200).decode(t, &page)
	if len(page.Events) != 1 {
		t.Fatalf("no event %d", seq)
	}
	leaf, err := signing.CanonicalizeJSON(page.Events[0])
	if err != nil {
		t.Fatal(err)
	}
	return leaf
}

func TestReleaseStatementsAndProofs(t *testing.T) {
	e := newLifecycleEnv(t)
	pub := serverKey(t, e.admin)
	e.sealed("1.0.0")
	r := e.admin.json("GET", "/products/hr/releases/1.0.0/statement", nil).must(t, 404)
	if r.errCode() != "STATEMENT_NOT_FOUND" {
		t.Fatalf("a sealed, unapproved release: %s", r.body)
	}
	e.admin.json("GET", "/products/hr/releases/9.9.9/statement", nil).must(t, 404)

	e.rm1.json("POST", "/products/hr/releases/1.0.0/approvals", map[string]string{"comment": "ok"}).must(t, 200)
	env := e.admin.json("GET", "/products/hr/releases/1.0.0/statement", nil).must(t, 200).body
	approved := indepStatement(t, pub, env)
	rel := e.get("1.0.0")
	if p := approved.Predicate; p.State != "approved" || p.Product != "hr" || p.Version != "1.0.0" || len(p.Approvers) != 1 || p.Approvers[0] != "alice" ||
		approved.Digest != strings.TrimPrefix(rel.ManifestDigest, "sha256:") || p.Time == "" {
		t.Fatalf("approved statement: %+v digest %s (manifest %s)", p, approved.Digest, rel.ManifestDigest)
	}
	if got := auditLeaf(t, e.admin, approved.Predicate.Seq); string(got) != mustB64(t, approved.Predicate.Leaf) {
		t.Fatalf("leaf is not the canonical event:\n%s\n%s", got, mustB64(t, approved.Predicate.Leaf))
	}
	cp1 := e.admin.json("GET", "/log/checkpoint", nil).must(t, 200).body
	size1, root1 := indepCheckpoint(t, pub, cp1)

	e.rm1.json("POST", "/products/hr/releases/1.0.0/promote", map[string]string{"to": "released", "change_id": "CHG-9"}).must(t, 200)
	released := indepStatement(t, pub, e.admin.json("GET", "/products/hr/releases/1.0.0/statement", nil).must(t, 200).body)
	if p := released.Predicate; p.State != "released" || p.ChangeID != "CHG-9" || p.Seq <= approved.Predicate.Seq {
		t.Fatalf("released statement: %+v", p)
	}
	e.rm2.json("POST", "/products/hr/releases/1.0.0/withdraw", map[string]string{"reason": "bad", "change_id": "CHG-10"}).must(t, 200)
	wenv := e.admin.json("GET", "/products/hr/releases/1.0.0/statement", nil).must(t, 200).body
	withdrawn := indepStatement(t, pub, wenv)
	if p := withdrawn.Predicate; p.State != "withdrawn" || p.ChangeID != "CHG-10" {
		t.Fatalf("withdrawn statement: %+v", p)
	}
	// The same statement again (cached), and the code under test agrees.
	if again := e.admin.json("GET", "/products/hr/releases/1.0.0/statement", nil).must(t, 200).body; !bytes.Equal(again, wenv) {
		t.Fatal("the latest statement changed between two reads")
	}
	kr, err := signing.NewKeyring(nil, e.admin.json("GET", "/signing/key", nil).must(t, 200).body)
	if err != nil {
		t.Fatal(err)
	}
	v, err := transparency.VerifyStatement(context.Background(), wenv, kr, transparency.NewVerifier(kr, ""))
	if err != nil || v.Predicate.State != "withdrawn" {
		t.Fatalf("VerifyStatement: %v", err)
	}
	tampered := bytes.Replace(wenv, []byte(`"payload":"`), []byte(`"payload":"ey`), 1)
	if _, err := transparency.VerifyStatement(context.Background(), tampered, kr, transparency.NewVerifier(kr, "")); err == nil {
		t.Fatal("a tampered envelope verified")
	}

	// Consistency between the first checkpoint and the latest, checked by
	// the merkle proof package.
	cp2 := e.admin.json("GET", "/log/checkpoint", nil).must(t, 200).body
	size2, root2 := indepCheckpoint(t, pub, cp2)
	if size2 <= size1 {
		t.Fatalf("log did not grow: %d → %d", size1, size2)
	}
	var cons struct{ Hashes [][]byte }
	e.admin.json("GET", fmt.Sprintf("/log/proof/consistency?from=%d&to=%d", size1, size2), nil).must(t, 200).decode(t, &cons)
	if err := proof.VerifyConsistency(rfc6962.DefaultHasher, size1, size2, cons.Hashes, root1, root2); err != nil {
		t.Fatalf("consistency proof: %v", err)
	}
	// Every event's inclusion in the latest tree.
	for seq := uint64(1); seq <= size2; seq++ {
		var incl struct{ Hashes [][]byte }
		e.admin.json("GET", fmt.Sprintf("/log/proof/inclusion?seq=%d&size=%d", seq, size2), nil).must(t, 200).decode(t, &incl)
		leaf := rfc6962.DefaultHasher.HashLeaf(auditLeaf(t, e.admin, seq))
		if err := proof.VerifyInclusion(rfc6962.DefaultHasher, seq-1, size2, leaf, incl.Hashes, root2); err != nil {
			t.Fatalf("inclusion of %d in %d: %v", seq, size2, err)
		}
	}
	for _, q := range []string{"inclusion?seq=0&size=1", "inclusion?seq=2&size=1", fmt.Sprintf("inclusion?seq=1&size=%d", size2+1),
		"inclusion?seq=x&size=1", "inclusion?size=1", "consistency?from=2&to=1", fmt.Sprintf("consistency?from=1&to=%d", size2+1),
		"consistency?from=-1&to=1", "consistency?from=1&to=99999999999999999999999"} {
		if r := e.admin.hostileClient().json("GET", "/log/proof/"+q, nil); r.status != 400 || r.errCode() != "INVALID_INPUT" {
			t.Errorf("%s: %d %s", q, r.status, r.body)
		}
	}
}

func mustB64(t *testing.T, s string) string {
	t.Helper()
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
