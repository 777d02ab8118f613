package api_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/reliquary/reliquary/internal/library"
	"github.com/reliquary/reliquary/internal/testenv"
)

const (
	slsaV1    = "https://slsa.dev/provenance/v1"
	cycloneDX = "https://cyclonedx.org/bom"
)

// cosignEnv runs the real cosign in a scratch directory with keys it made.
type cosignEnv struct {
	t              *testing.T
	bin, dir       string
	key, pub       string // the trusted pair
	otherKey       string // a pair the product does not trust
	otherPub, root string
}

func newCosignEnv(t *testing.T) *cosignEnv {
	t.Helper()
	e := &cosignEnv{t: t, bin: testenv.Cosign(t), dir: t.TempDir()}
	for _, name := range []string{"trusted", "other"} {
		d := filepath.Join(e.dir, name)
		if err := os.MkdirAll(d, 0o700); err != nil {
			t.Fatal(err)
		}
		cmd := exec.Command(e.bin, "generate-key-pair")
		cmd.Dir = d
		cmd.Env = e.env()
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("cosign generate-key-pair: %v\n%s", err, out)
		}
	}
	e.key, e.pub = filepath.Join(e.dir, "trusted", "cosign.key"), filepath.Join(e.dir, "trusted", "cosign.pub")
	e.otherKey, e.otherPub = filepath.Join(e.dir, "other", "cosign.key"), filepath.Join(e.dir, "other", "cosign.pub")
	e.root = e.write("trusted_root.json", []byte(`{"mediaType":"application/vnd.dev.sigstore.trustedroot+json;version=0.1"}`))
	return e
}

func (e *cosignEnv) env() []string {
	return append(os.Environ(), "COSIGN_PASSWORD=reliquary-test", "HOME="+e.dir, "TUF_ROOT="+filepath.Join(e.dir, "tuf"), "SIGSTORE_NO_CACHE=true")
}

func (e *cosignEnv) write(name string, b []byte) string {
	e.t.Helper()
	p := filepath.Join(e.dir, name)
	if err := os.WriteFile(p, b, 0o600); err != nil {
		e.t.Fatal(err)
	}
	return p
}

func (e *cosignEnv) read(p string) []byte {
	e.t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		e.t.Fatal(err)
	}
	return b
}

func (e *cosignEnv) run(args ...string) (string, error) {
	cmd := exec.Command(e.bin, args...)
	cmd.Dir = e.dir
	cmd.Env = e.env()
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// attest runs cosign attest-blob --tlog-upload=false with the key and
// returns the file it wrote: the DSSE envelope (--output-signature), or
// with bundle the Sigstore bundle of --new-bundle-format.
func (e *cosignEnv) attest(key, typ, predicate, blob, out string, bundle bool) []byte {
	mode := "envelope"
	if bundle {
		mode = "bundle"
	}
	return e.attestAs(mode, key, typ, predicate, blob, out)
}

// attestAs writes mode "envelope" (the default output), "bundle" (the
// Sigstore bundle v0.3 of --new-bundle-format) or "legacy" (cosign's old
// --bundle file).
func (e *cosignEnv) attestAs(mode, key, typ, predicate, blob, out string) []byte {
	e.t.Helper()
	pred := e.write(out+".predicate.json", []byte(predicate))
	args := []string{"attest-blob", "--key", key, "--tlog-upload=false", "--yes", "--type", typ, "--predicate", pred}
	switch mode {
	case "bundle":
		args = append(args, "--new-bundle-format", "--bundle", filepath.Join(e.dir, out))
	case "legacy":
		args = append(args, "--bundle", filepath.Join(e.dir, out), "--output-signature", filepath.Join(e.dir, out+".sig"))
	default:
		args = append(args, "--output-signature", filepath.Join(e.dir, out))
	}
	if o, err := e.run(append(args, blob)...); err != nil {
		e.t.Fatalf("cosign %s: %v\n%s", strings.Join(args, " "), err, o)
	}
	return e.read(filepath.Join(e.dir, out))
}

func keyIDOfPEM(t *testing.T, pemBytes []byte) string {
	t.Helper()
	// The signer ID is the first 16 hex digits of the SHA-256 of the DER key.
	block := pemBlock(t, pemBytes)
	sum := sha256.Sum256(block)
	return hex.EncodeToString(sum[:])[:16]
}

func pemBlock(t *testing.T, b []byte) []byte {
	t.Helper()
	s := string(b)
	s = s[strings.Index(s, "-----\n")+6 : strings.LastIndex(s, "\n-----END")]
	der, err := base64.StdEncoding.DecodeString(strings.ReplaceAll(s, "\n", ""))
	if err != nil {
		t.Fatal(err)
	}
	return der
}

type attestationRecord struct {
	Digest        string `json:"digest"`
	PredicateType string `json:"predicate_type"`
	Signer        string `json:"signer"`
	Subjects      []struct {
		Name   string `json:"name"`
		SHA256 string `json:"sha256"`
	} `json:"subjects"`
	Format     string `json:"format"`
	UploadedBy string `json:"uploaded_by"`
}

// TestAttestationsWithCosign is the evidence story end to end with the
// real cosign: CI attests provenance and an SBOM of a sealed release with
// cosign attest-blob (the DSSE envelope and the Sigstore bundle v0.3), the
// release manager's approval is refused until both required predicate
// types are there, every bad input is refused with nothing stored, and the
// files served back still verify with cosign verify-blob-attestation.
func TestAttestationsWithCosign(t *testing.T) {
	stores(t, testAttestationsWithCosign)
}

func testAttestationsWithCosign(t *testing.T, store string) {
	ce := newCosignEnv(t)
	srv := testenv.StartServer(t, testenv.ServerOptions{Store: store})
	e := &cmdbEnv{t: t, srv: srv, admin: newClient(t, srv, srv.AdminToken)}
	e.ci = e.token("ci", "publisher")
	e.rm = e.token("alice", "release-manager")
	e.reader = e.token("auditor", "reader")
	e.admin.json("POST", "/products", map[string]any{"name": "app", "policy": map[string]any{
		"attestation_keys":      []string{string(ce.read(ce.pub))},
		"required_attestations": []string{slsaV1, cycloneDX},
	}}).must(t, 201)

	blob := bytes.Repeat([]byte("reliquary evidence "), 5000)
	blobPath := ce.write("app.tar.gz", blob)
	sum := sha256.Sum256(blob)
	artifactSHA := hex.EncodeToString(sum[:])
	rel := "/products/app/releases/1.0.0"
	e.ci.json("POST", "/products/app/releases", map[string]any{"version": "1.0.0"}).must(t, 201)
	e.ci.do("PUT", rel+"/artifacts/app.tar.gz", bytes.NewReader(blob), "Content-Type", "application/octet-stream").must(t, 201)
	e.ci.json("POST", rel+"/seal", nil).must(t, 200)

	approve := func() response { return e.rm.json("POST", rel+"/approvals", map[string]string{"comment": "ok"}) }
	missing := func(r response) []string {
		t.Helper()
		var body struct {
			Error struct {
				Code    string
				Details struct{ Missing []string }
			}
		}
		r.decode(t, &body)
		if r.status != 409 || body.Error.Code != "EVIDENCE_MISSING" {
			t.Fatalf("approval without evidence: %d %s", r.status, r.body)
		}
		return body.Error.Details.Missing
	}
	if got := missing(approve()); !slices.Equal(got, []string{cycloneDX, slsaV1}) {
		t.Fatalf("missing %v", got)
	}

	// Provenance as cosign's default output: the DSSE envelope.
	const provPred = `{"buildDefinition":{"buildType":"https://example.com/ci/v1","externalParameters":{}},"runDetails":{"builder":{"id":"https://ci.example.com"}}}`
	prov := ce.attest(ce.key, "slsaprovenance1", provPred, blobPath, "app.intoto.json", false)
	var rec attestationRecord
	e.ci.do("POST", rel+"/attestations", bytes.NewReader(prov), "Content-Type", "application/octet-stream").must(t, 201).decode(t, &rec)
	wantSigner := keyIDOfPEM(t, ce.read(ce.pub))
	if rec.PredicateType != slsaV1 || rec.Format != "dsse" || rec.Signer != wantSigner || len(rec.Subjects) != 1 || rec.Subjects[0].SHA256 != artifactSHA || rec.UploadedBy != "ci" {
		t.Fatalf("record %+v (want signer %s, subject %s)", rec, wantSigner, artifactSHA)
	}
	fileSum := sha256.Sum256(prov)
	if rec.Digest != "sha256:"+hex.EncodeToString(fileSum[:]) {
		t.Fatalf("digest %s is not the sha256 of the file", rec.Digest)
	}
	// The same file again is a retry.
	e.ci.do("POST", rel+"/attestations", bytes.NewReader(prov), "Content-Type", "application/octet-stream").must(t, 200)
	if got := missing(approve()); !slices.Equal(got, []string{cycloneDX}) {
		t.Fatalf("missing %v after provenance", got)
	}

	// Bad input: each refused with a 4xx and its code, nothing stored.
	before := srv.Objects(t, "products/app/releases/1.0.0/attestations/")
	var env map[string]any
	if err := json.Unmarshal(prov, &env); err != nil {
		t.Fatalf("cosign's default output is not a DSSE envelope: %v\n%s", err, prov)
	}
	reenv := func(mut func(m map[string]any)) []byte {
		m := map[string]any{}
		for k, v := range env {
			m[k] = v
		}
		mut(m)
		b, _ := json.Marshal(m)
		return b
	}
	payload, _ := base64.StdEncoding.DecodeString(env["payload"].(string))
	tamperedPayload := bytes.Replace(payload, []byte("https://ci.example.com"), []byte("https://evil.example.com"), 1)
	if bytes.Equal(tamperedPayload, payload) {
		t.Fatal("the test's tampering changed nothing")
	}
	other := ce.write("other.tar.gz", []byte("some other file"))
	cases := []struct {
		name   string
		body   []byte
		status int
		code   string
	}{
		{"unsigned", reenv(func(m map[string]any) { m["signatures"] = []any{} }), 400, "ATTESTATION_UNVERIFIED"},
		{"wrong key", ce.attest(ce.otherKey, "slsaprovenance1", provPred, blobPath, "wrong.intoto.json", false), 400, "ATTESTATION_UNVERIFIED"},
		{"tampered payload", reenv(func(m map[string]any) { m["payload"] = base64.StdEncoding.EncodeToString(tamperedPayload) }), 400, "ATTESTATION_UNVERIFIED"},
		{"subjects of other files", ce.attest(ce.key, "slsaprovenance1", provPred, other, "other.intoto.json", false), 400, "SUBJECT_MISMATCH"},
		{"unknown format", []byte(`{"kind":"attestation","data":"hello"}`), 400, "INVALID_ATTESTATION"},
		{"plain text", []byte("not an attestation at all"), 400, "INVALID_ATTESTATION"},
		{"old bundle media type", []byte(`{"mediaType":"application/vnd.dev.sigstore.bundle+json;version=0.1","dsseEnvelope":{}}`), 400, "INVALID_ATTESTATION"},
		{"sbom that is not one", ce.attest(ce.key, "cyclonedx", `{"hello":"world"}`, blobPath, "notabom.intoto.json", false), 400, "INVALID_ATTESTATION"},
		{"huge", bytes.Repeat([]byte("{"), 16<<20+1), 413, "BODY_TOO_LARGE"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := e.ci.hostileClient().do("POST", rel+"/attestations", bytes.NewReader(c.body), "Content-Type", "application/octet-stream")
			if r.status != c.status || r.errCode() != c.code {
				t.Errorf("%d %s, want %d %s: %s", r.status, r.errCode(), c.status, c.code, r.body)
			}
		})
	}
	if after := srv.Objects(t, "products/app/releases/1.0.0/attestations/"); !slices.Equal(after, before) {
		t.Fatalf("refused attestations left objects: %v, before %v", after, before)
	}
	// A reader cannot attach evidence.
	e.reader.do("POST", rel+"/attestations", bytes.NewReader(prov), "Content-Type", "application/octet-stream").must(t, 403)

	// The SBOM as a Sigstore bundle v0.3 (--new-bundle-format).
	sbom := ce.attest(ce.key, "cyclonedx", `{"bomFormat":"CycloneDX","specVersion":"1.5","version":1,"components":[]}`, blobPath, "app.sigstore.json", true)
	var brec attestationRecord
	e.ci.do("POST", rel+"/attestations", bytes.NewReader(sbom), "Content-Type", "application/json").must(t, 201).decode(t, &brec)
	if brec.PredicateType != cycloneDX || brec.Format != "sigstore-bundle-v0.3" || brec.Signer != wantSigner {
		t.Fatalf("bundle record %+v", brec)
	}
	var approved library.Release
	approve().must(t, 200).decode(t, &approved)
	if approved.State != library.StateApproved || !slices.Equal(approved.AttestationDigests, []string{rec.Digest, brec.Digest}) {
		t.Fatalf("after evidence: state %s, attestation_digests %v", approved.State, approved.AttestationDigests)
	}

	// cosign's legacy --bundle file is taken too (the release is approved,
	// not yet released: evidence may still come).
	legacy := ce.attestAs("legacy", ce.key, "slsaprovenance1", provPred, blobPath, "app.bundle.json")
	var lrec attestationRecord
	e.ci.do("POST", rel+"/attestations", bytes.NewReader(legacy), "Content-Type", "application/json").must(t, 201).decode(t, &lrec)
	if lrec.Format != "cosign-bundle" || lrec.Signer != wantSigner {
		t.Fatalf("legacy bundle record %+v", lrec)
	}

	var list struct{ Attestations []attestationRecord }
	e.reader.json("GET", rel+"/attestations", nil).must(t, 200).decode(t, &list)
	if len(list.Attestations) != 3 {
		t.Fatalf("list %+v", list)
	}
	e.reader.json("GET", rel+"/attestations?predicate_type="+cycloneDX, nil).must(t, 200).decode(t, &list)
	if len(list.Attestations) != 1 || list.Attestations[0].Digest != brec.Digest {
		t.Fatalf("list of %s: %+v", cycloneDX, list)
	}

	// Downloaded, each file is the uploaded bytes and cosign still verifies it.
	gotProv := e.reader.do("GET", rel+"/attestations/"+rec.Digest, nil).must(t, 200).body
	gotSBOM := e.reader.do("GET", rel+"/attestations/"+strings.TrimPrefix(brec.Digest, "sha256:"), nil).must(t, 200).body
	if !bytes.Equal(gotProv, prov) || !bytes.Equal(gotSBOM, sbom) {
		t.Fatal("downloaded attestations differ from the uploaded files")
	}
	provFile, sbomFile := ce.write("dl.intoto.json", gotProv), ce.write("dl.sigstore.json", gotSBOM)
	verifications := [][]string{
		{"verify-blob-attestation", "--key", ce.pub, "--signature", provFile, "--type", "slsaprovenance1", "--insecure-ignore-tlog", blobPath},
		{"verify-blob-attestation", "--key", ce.pub, "--bundle", sbomFile, "--new-bundle-format", "--trusted-root", ce.root, "--type", "cyclonedx", "--insecure-ignore-tlog", blobPath},
	}
	for _, args := range verifications {
		if out, err := ce.run(args...); err != nil || !strings.Contains(out, "Verified OK") {
			t.Errorf("cosign %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
	// And cosign refuses it for other bytes: the check above can fail.
	if out, err := ce.run("verify-blob-attestation", "--key", ce.pub, "--signature", provFile, "--type", "slsaprovenance1", "--insecure-ignore-tlog", other); err == nil {
		t.Errorf("cosign verified the provenance against another file:\n%s", out)
	}
	e.reader.json("GET", rel+"/attestations/sha256:"+strings.Repeat("0", 64), nil).must(t, 404)
	e.reader.hostileClient().json("GET", rel+"/attestations/nothex", nil).must(t, 400)

	// Once released, the evidence is closed.
	e.rm.json("POST", rel+"/promote", map[string]string{"to": "released", "change_id": "CHG-1"}).must(t, 200)
	if r := e.ci.do("POST", rel+"/attestations", bytes.NewReader(prov), "Content-Type", "application/octet-stream"); r.status != 409 || r.errCode() != "INVALID_STATE" {
		t.Errorf("attest a released release: %d %s", r.status, r.body)
	}
	// A product without attestation keys takes no evidence.
	e.admin.json("POST", "/products", map[string]any{"name": "nokeys"}).must(t, 201)
	e.ci.json("POST", "/products/nokeys/releases", map[string]any{"version": "1.0.0"}).must(t, 201)
	e.ci.do("PUT", "/products/nokeys/releases/1.0.0/artifacts/app.tar.gz", bytes.NewReader(blob), "Content-Type", "application/octet-stream").must(t, 201)
	if r := e.ci.do("POST", "/products/nokeys/releases/1.0.0/attestations", bytes.NewReader(prov), "Content-Type", "application/octet-stream"); r.status != 409 || r.errCode() != "NO_ATTESTATION_KEYS" {
		t.Errorf("attest without keys: %d %s", r.status, r.body)
	}
}
