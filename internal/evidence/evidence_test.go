package evidence_test

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"strings"
	"testing"

	protobundle "github.com/sigstore/protobuf-specs/gen/pb-go/bundle/v1"
	protodsse "github.com/sigstore/protobuf-specs/gen/pb-go/dsse"
	"github.com/sigstore/sigstore/pkg/signature"
	sigdsse "github.com/sigstore/sigstore/pkg/signature/dsse"
	"google.golang.org/protobuf/encoding/protojson"

	"github.com/reliquary/reliquary/internal/evidence"
)

// signer is an ECDSA P-256 key, as `cosign generate-key-pair` makes.
type signer struct {
	priv *ecdsa.PrivateKey
	pem  string
}

func newSigner(t testing.TB) signer {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalPKIXPublicKey(&k.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	return signer{priv: k, pem: string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}))}
}

// envelope signs a statement with sigstore's DSSE wrapper (what cosign
// attest-blob uses) and returns the envelope JSON.
func (s signer) envelope(t testing.TB, statement []byte) []byte {
	t.Helper()
	sv, err := signature.LoadECDSASignerVerifier(s.priv, crypto.SHA256)
	if err != nil {
		t.Fatal(err)
	}
	env, err := sigdsse.WrapSigner(sv, evidence.PayloadType).SignMessage(bytes.NewReader(statement))
	if err != nil {
		t.Fatal(err)
	}
	return env
}

func statement(predicateType string, predicate any, digests ...string) []byte {
	subj := []map[string]any{}
	for i, d := range digests {
		subj = append(subj, map[string]any{"name": "file" + string(rune('a'+i)), "digest": map[string]string{"sha256": d}})
	}
	b, _ := json.Marshal(map[string]any{"_type": "https://in-toto.io/Statement/v1", "subject": subj,
		"predicateType": predicateType, "predicate": predicate})
	return b
}

func digestOf(s string) string { sum := sha256.Sum256([]byte(s)); return hex.EncodeToString(sum[:]) }

func keys(t testing.TB, pems ...string) []evidence.Key {
	t.Helper()
	k, err := evidence.ParseKeys(pems)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// bundleOf wraps a DSSE envelope in a Sigstore bundle v0.3 with a
// public-key hint, as cosign attest-blob --new-bundle-format writes it.
func bundleOf(t testing.TB, envJSON []byte) []byte {
	t.Helper()
	var env struct {
		PayloadType string `json:"payloadType"`
		Payload     string `json:"payload"`
		Signatures  []struct {
			KeyID string `json:"keyid"`
			Sig   string `json:"sig"`
		} `json:"signatures"`
	}
	if err := json.Unmarshal(envJSON, &env); err != nil {
		t.Fatal(err)
	}
	payload, _ := base64.StdEncoding.DecodeString(env.Payload)
	pe := &protodsse.Envelope{PayloadType: env.PayloadType, Payload: payload}
	for _, s := range env.Signatures {
		sig, _ := base64.StdEncoding.DecodeString(s.Sig)
		pe.Signatures = append(pe.Signatures, &protodsse.Signature{Keyid: s.KeyID, Sig: sig})
	}
	b := &protobundle.Bundle{MediaType: evidence.BundleMediaTypeV03,
		VerificationMaterial: &protobundle.VerificationMaterial{},
		Content:              &protobundle.Bundle_DsseEnvelope{DsseEnvelope: pe}}
	out, err := protojson.Marshal(b)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestParseAndVerify(t *testing.T) {
	good, other := newSigner(t), newSigner(t)
	d := digestOf("artifact bytes")
	st := statement("https://slsa.dev/provenance/v1", map[string]any{"builder": map[string]any{"id": "ci"}}, d)
	env := good.envelope(t, st)

	for name, raw := range map[string][]byte{
		"dsse":          env,
		"dsse-base64":   []byte(base64.StdEncoding.EncodeToString(env)),
		"bundle-v0.3":   bundleOf(t, env),
		"cosign-bundle": []byte(`{"base64Signature":"` + base64.StdEncoding.EncodeToString(env) + `","cert":""}`),
	} {
		t.Run(name, func(t *testing.T) {
			a, err := evidence.Parse(raw)
			if err != nil {
				t.Fatal(err)
			}
			if a.PredicateType != "https://slsa.dev/provenance/v1" || len(a.Subjects) != 1 || a.Subjects[0].SHA256 != d {
				t.Fatalf("parsed %+v", a)
			}
			id, err := a.Verify(keys(t, other.pem, good.pem))
			if err != nil {
				t.Fatal(err)
			}
			want := keys(t, good.pem)[0].ID
			if id != want || len(id) != evidence.KeyIDLength {
				t.Errorf("signer %q, want %q", id, want)
			}
			if _, err := a.Verify(keys(t, other.pem)); !errors.Is(err, evidence.ErrSignature) {
				t.Errorf("verified with the wrong key: %v", err)
			}
		})
	}
}

func TestRefusals(t *testing.T) {
	good := newSigner(t)
	d := digestOf("x")
	env := good.envelope(t, statement("https://example.com/test/v1", map[string]any{"ok": true}, d))
	var m map[string]any
	_ = json.Unmarshal(env, &m)

	tampered := func() []byte {
		st := statement("https://example.com/test/v1", map[string]any{"ok": false}, d)
		c := map[string]any{"payloadType": m["payloadType"], "payload": base64.StdEncoding.EncodeToString(st), "signatures": m["signatures"]}
		b, _ := json.Marshal(c)
		return b
	}()
	unsigned, _ := json.Marshal(map[string]any{"payloadType": m["payloadType"], "payload": m["payload"], "signatures": []any{}})
	otherType, _ := json.Marshal(map[string]any{"payloadType": "text/plain", "payload": m["payload"], "signatures": m["signatures"]})
	cases := []struct {
		name  string
		raw   []byte
		parse error // from Parse; nil: Parse passes and Verify must fail
	}{
		{"tampered payload", tampered, nil},
		{"unsigned", unsigned, evidence.ErrUnsigned},
		{"other payload type", otherType, evidence.ErrFormat},
		{"empty", nil, evidence.ErrFormat},
		{"not json", []byte("hello world"), evidence.ErrFormat},
		{"json array", []byte(`[1,2]`), evidence.ErrFormat},
		{"unknown object", []byte(`{"foo":"bar"}`), evidence.ErrFormat},
		{"bundle v0.1", []byte(`{"mediaType":"application/vnd.dev.sigstore.bundle+json;version=0.1"}`), evidence.ErrFormat},
		{"bundle with message signature", []byte(`{"mediaType":"` + evidence.BundleMediaTypeV03 + `","verificationMaterial":{},"messageSignature":{"signature":"AAAA"}}`), evidence.ErrFormat},
		{"huge", bytes.Repeat([]byte(" "), evidence.MaxAttestationBytes+1), evidence.ErrFormat},
		{"not a statement", good.envelope(t, []byte(`{"hello":"world"}`)), evidence.ErrStatement},
		{"subject without sha256", good.envelope(t, []byte(`{"_type":"https://in-toto.io/Statement/v1","subject":[{"name":"a","digest":{"sha512":"`+strings.Repeat("ab", 64)+`"}}],"predicateType":"x:y","predicate":{}}`)), evidence.ErrStatement},
		{"no subjects", good.envelope(t, []byte(`{"_type":"https://in-toto.io/Statement/v1","subject":[],"predicateType":"x:y","predicate":{}}`)), evidence.ErrStatement},
		{"bad predicate type", good.envelope(t, statement("has space", map[string]any{}, d)), evidence.ErrStatement},
		{"cyclonedx not a bom", good.envelope(t, statement("https://cyclonedx.org/bom", map[string]any{"foo": 1}, d)), evidence.ErrStatement},
		{"spdx not a document", good.envelope(t, statement("https://spdx.dev/Document", map[string]any{"foo": 1}, d)), evidence.ErrStatement},
	}
	ks := keys(t, good.pem)
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			a, err := evidence.Parse(c.raw)
			if c.parse != nil {
				if !errors.Is(err, c.parse) {
					t.Fatalf("Parse: %v, want %v", err, c.parse)
				}
				return
			}
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			if _, err := a.Verify(ks); !errors.Is(err, evidence.ErrSignature) {
				t.Fatalf("Verify: %v, want %v", err, evidence.ErrSignature)
			}
		})
	}
}

func TestSBOMPredicates(t *testing.T) {
	good := newSigner(t)
	d := digestOf("x")
	for _, c := range []struct {
		typ  string
		pred any
	}{
		{"https://cyclonedx.org/bom", map[string]any{"bomFormat": "CycloneDX", "specVersion": "1.5", "components": []any{}}},
		{"https://cyclonedx.org/bom/v1.5", map[string]any{"bomFormat": "CycloneDX", "specVersion": "1.5"}},
		{"https://spdx.dev/Document", map[string]any{"spdxVersion": "SPDX-2.3", "SPDXID": "SPDXRef-DOCUMENT"}},
		{"https://spdx.dev/Document/v3", map[string]any{"@context": "https://spdx.org/rdf/3.0.1/spdx-context.jsonld"}},
	} {
		if _, err := evidence.Parse(good.envelope(t, statement(c.typ, c.pred, d))); err != nil {
			t.Errorf("%s: %v", c.typ, err)
		}
	}
	big := map[string]any{"bomFormat": "CycloneDX", "specVersion": "1.5", "pad": strings.Repeat("a", evidence.MaxPredicateBytes)}
	if _, err := evidence.Parse(good.envelope(t, statement("https://cyclonedx.org/bom", big, d))); !errors.Is(err, evidence.ErrStatement) {
		t.Errorf("predicate over the limit: %v", err)
	}
}

func TestParseKeys(t *testing.T) {
	good := newSigner(t)
	for name, pems := range map[string][]string{
		"garbage":        {"not a key"},
		"private key":    {"-----BEGIN EC PRIVATE KEY-----\nAAAA\n-----END EC PRIVATE KEY-----\n"},
		"twice":          {good.pem, good.pem},
		"two in one":     {good.pem + good.pem},
		"too many":       slicesRepeat(newSigner(t).pem, evidence.MaxKeys+1),
		"truncated body": {strings.Replace(good.pem, "\n-----END", "AAAA\n-----END", 1)},
	} {
		if _, err := evidence.ParseKeys(pems); !errors.Is(err, evidence.ErrKey) {
			t.Errorf("%s: %v, want ErrKey", name, err)
		}
	}
}

func slicesRepeat(s string, n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = s
	}
	return out
}

// FuzzParse drives the envelope parser with arbitrary bytes: it must never
// panic, and whatever it accepts must carry a signature, a predicate type
// and sha256 subjects.
func FuzzParse(f *testing.F) {
	good := newSigner(f)
	env := good.envelope(f, statement("https://slsa.dev/provenance/v1", map[string]any{"a": 1}, digestOf("x")))
	f.Add(env)
	f.Add(bundleOf(f, env))
	f.Add([]byte(base64.StdEncoding.EncodeToString(env)))
	f.Add([]byte(`{"base64Signature":"` + base64.StdEncoding.EncodeToString(env) + `"}`))
	f.Add([]byte(`{"payloadType":"application/vnd.in-toto+json","payload":"e30=","signatures":[{"sig":"AA=="}]}`))
	f.Add([]byte(`{"mediaType":"application/vnd.dev.sigstore.bundle.v0.3+json","dsseEnvelope":{}}`))
	ks := keys(f, good.pem)
	f.Fuzz(func(t *testing.T, raw []byte) {
		a, err := evidence.Parse(raw)
		if err != nil {
			return
		}
		if len(a.Signatures) == 0 || a.PredicateType == "" || len(a.Subjects) == 0 {
			t.Fatalf("accepted without signature, predicate type or subjects: %+v", a)
		}
		for _, s := range a.Subjects {
			if len(s.SHA256) != 64 {
				t.Fatalf("subject digest %q", s.SHA256)
			}
		}
		_, _ = a.Verify(ks)
	})
}

// BenchmarkParseLargeSBOM parses and verifies a signed CycloneDX SBOM
// attestation near the size limit; B/op is the memory one upload costs.
func BenchmarkParseLargeSBOM(b *testing.B) {
	good := newSigner(b)
	comps := []map[string]any{}
	for i := 0; len(comps) < 40000; i++ {
		comps = append(comps, map[string]any{"type": "library", "name": "component-" + strings.Repeat("x", 100), "version": "1.0.0"})
	}
	env := good.envelope(b, statement("https://cyclonedx.org/bom", map[string]any{"bomFormat": "CycloneDX", "specVersion": "1.5", "components": comps}, digestOf("x")))
	ks := keys(b, good.pem)
	b.SetBytes(int64(len(env)))
	b.ReportAllocs()
	for b.Loop() {
		a, err := evidence.Parse(env)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := a.Verify(ks); err != nil {
			b.Fatal(err)
		}
	}
}
