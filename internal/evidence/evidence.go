// Package evidence parses and verifies the in-toto attestations CI attaches
// to a release (DESIGN.md §12 "Evidence"): a DSSE envelope, or a Sigstore
// bundle v0.3 (JSON) holding one, exactly as `cosign attest-blob` writes
// them. Signatures are checked over the DSSE pre-authentication encoding
// with sigstore's verifiers against the product's attestation keys; the
// payload is an in-toto Statement (v1, or v0.1 as cosign v2 writes it)
// parsed with the in-toto attestation Go types.
//
// Nothing here touches the index or the store: Parse and Verify are pure
// functions of their input, so the fuzz target can drive them directly.
package evidence

import (
	"bytes"
	"crypto"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"strings"

	ita1 "github.com/in-toto/attestation/go/v1"
	ssldsse "github.com/secure-systems-lab/go-securesystemslib/dsse"
	protobundle "github.com/sigstore/protobuf-specs/gen/pb-go/bundle/v1"
	"github.com/sigstore/sigstore/pkg/signature"
	"google.golang.org/protobuf/encoding/protojson"

	"github.com/reliquary/reliquary/internal/library"
)

// Limits on what is accepted.
const (
	// MaxAttestationBytes is the largest attestation file accepted.
	MaxAttestationBytes = library.MaxAttestationBytes
	// MaxPredicateBytes bounds the predicate (an SBOM is the big one).
	MaxPredicateBytes = 10 << 20
	// MaxSubjects bounds the subjects of one statement.
	MaxSubjects = 1000
	// MaxSignatures bounds the signatures of one envelope.
	MaxSignatures = 16
	// MaxKeys bounds policy.attestation_keys.
	MaxKeys = 16
	// KeyIDLength is the length of a signer's key ID: the first hex
	// characters of the SHA-256 of its DER SubjectPublicKeyInfo (the same
	// convention as the library's own signing key IDs).
	KeyIDLength = 16
)

// PayloadType is the DSSE payload type of an in-toto statement.
const PayloadType = "application/vnd.in-toto+json"

// BundleMediaTypeV03 is the media type of a Sigstore bundle v0.3.
const BundleMediaTypeV03 = "application/vnd.dev.sigstore.bundle.v0.3+json"

// The formats an attestation file may come in.
const (
	FormatDSSE          = "dsse"
	FormatSigstoreV03   = "sigstore-bundle-v0.3"
	FormatCosignPayload = "cosign-bundle" // cosign's legacy --bundle file: {"base64Signature": <envelope>}
)

// Errors. Each has its own error code in the API.
var (
	// ErrFormat: not a DSSE envelope or a Sigstore bundle v0.3 holding one.
	ErrFormat = errors.New("unknown attestation format")
	// ErrStatement: the payload is not a valid in-toto statement, or its
	// predicate is not valid for its type.
	ErrStatement = errors.New("invalid in-toto statement")
	// ErrUnsigned: the envelope carries no signature.
	ErrUnsigned = errors.New("attestation is not signed")
	// ErrSignature: no signature verifies with any trusted key.
	ErrSignature = errors.New("no signature verifies with the product's attestation keys")
	// ErrKey: a policy key is not a usable PEM public key.
	ErrKey = errors.New("invalid attestation key")
)

// Subject is one subject of a statement: a name and its SHA-256.
type Subject struct {
	Name   string `json:"name"`
	SHA256 string `json:"sha256"`
}

// Signature is one DSSE signature.
type Signature struct {
	KeyID string
	Sig   []byte
}

// Attestation is a parsed, not yet verified, attestation file.
type Attestation struct {
	Format        string
	PayloadType   string
	Payload       []byte
	Signatures    []Signature
	PredicateType string
	Subjects      []Subject
}

// Parse reads an attestation file: a DSSE envelope (JSON, or that JSON in
// base64 as some tools print it), a Sigstore bundle v0.3 whose content is
// a DSSE envelope, or cosign's legacy bundle file. It checks the payload
// is an in-toto statement whose subjects all name a SHA-256 digest, and
// that an SBOM predicate is JSON of its type. It does not check signatures.
func Parse(raw []byte) (*Attestation, error) {
	if len(raw) > MaxAttestationBytes {
		return nil, fmt.Errorf("%w: larger than %d bytes", ErrFormat, MaxAttestationBytes)
	}
	a, err := parseContainer(bytes.TrimSpace(raw), 0)
	if err != nil {
		return nil, err
	}
	if a.PayloadType != PayloadType {
		return nil, fmt.Errorf("%w: payload type %q, want %q", ErrFormat, clip(a.PayloadType), PayloadType)
	}
	if len(a.Signatures) == 0 {
		return nil, ErrUnsigned
	}
	if len(a.Signatures) > MaxSignatures {
		return nil, fmt.Errorf("%w: more than %d signatures", ErrFormat, MaxSignatures)
	}
	if err := a.parseStatement(); err != nil {
		return nil, err
	}
	return a, nil
}

func parseContainer(raw []byte, depth int) (*Attestation, error) {
	if len(raw) == 0 {
		return nil, fmt.Errorf("%w: empty", ErrFormat)
	}
	if raw[0] != '{' {
		// A DSSE envelope printed in base64.
		dec, err := base64.StdEncoding.DecodeString(string(raw))
		if err != nil || depth > 0 {
			return nil, fmt.Errorf("%w: not JSON: expected a DSSE envelope or a Sigstore bundle", ErrFormat)
		}
		return parseContainer(bytes.TrimSpace(dec), depth+1)
	}
	var probe map[string]json.RawMessage
	if err := json.Unmarshal(raw, &probe); err != nil {
		return nil, fmt.Errorf("%w: malformed JSON", ErrFormat)
	}
	switch {
	case probe["mediaType"] != nil:
		var mt string
		if json.Unmarshal(probe["mediaType"], &mt) != nil || mt != BundleMediaTypeV03 {
			return nil, fmt.Errorf("%w: bundle media type %q; only %q is accepted", ErrFormat, clip(mt), BundleMediaTypeV03)
		}
		return parseBundle(raw)
	case probe["payloadType"] != nil || probe["payload"] != nil:
		return parseEnvelope(raw)
	case probe["base64Signature"] != nil && depth == 0:
		var lb struct {
			Base64Signature string `json:"base64Signature"`
		}
		if json.Unmarshal(raw, &lb) != nil {
			return nil, fmt.Errorf("%w: base64Signature must be a string", ErrFormat)
		}
		env, err := base64.StdEncoding.DecodeString(lb.Base64Signature)
		if err != nil {
			return nil, fmt.Errorf("%w: base64Signature is not base64", ErrFormat)
		}
		a, err := parseContainer(bytes.TrimSpace(env), depth+1)
		if err != nil {
			return nil, err
		}
		if a.Format != FormatDSSE {
			return nil, fmt.Errorf("%w: base64Signature holds no DSSE envelope", ErrFormat)
		}
		a.Format = FormatCosignPayload
		return a, nil
	}
	return nil, fmt.Errorf("%w: expected a DSSE envelope (payloadType, payload, signatures) or a Sigstore bundle v0.3", ErrFormat)
}

func parseEnvelope(raw []byte) (*Attestation, error) {
	var env ssldsse.Envelope
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&env); err != nil {
		return nil, fmt.Errorf("%w: DSSE envelope: %v", ErrFormat, clipErr(err))
	}
	payload, err := env.DecodeB64Payload()
	if err != nil {
		return nil, fmt.Errorf("%w: DSSE payload is not base64", ErrFormat)
	}
	a := &Attestation{Format: FormatDSSE, PayloadType: env.PayloadType, Payload: payload}
	for i, s := range env.Signatures {
		sig, err := base64.StdEncoding.DecodeString(s.Sig)
		if err != nil {
			if sig, err = base64.URLEncoding.DecodeString(s.Sig); err != nil {
				return nil, fmt.Errorf("%w: signature %d is not base64", ErrFormat, i)
			}
		}
		if len(sig) == 0 {
			continue
		}
		a.Signatures = append(a.Signatures, Signature{KeyID: s.KeyID, Sig: sig})
	}
	return a, nil
}

func parseBundle(raw []byte) (*Attestation, error) {
	var b protobundle.Bundle
	if err := protojson.Unmarshal(raw, &b); err != nil {
		return nil, fmt.Errorf("%w: Sigstore bundle: %v", ErrFormat, clipErr(err))
	}
	env := b.GetDsseEnvelope()
	if env == nil {
		return nil, fmt.Errorf("%w: the Sigstore bundle holds no DSSE envelope (a message signature is not an attestation)", ErrFormat)
	}
	a := &Attestation{Format: FormatSigstoreV03, PayloadType: env.GetPayloadType(), Payload: env.GetPayload()}
	for _, s := range env.GetSignatures() {
		if len(s.GetSig()) == 0 {
			continue
		}
		a.Signatures = append(a.Signatures, Signature{KeyID: s.GetKeyid(), Sig: s.GetSig()})
	}
	return a, nil
}

// CycloneDX and SPDX predicate type prefixes (with or without a version).
const (
	predicateCycloneDX = "https://cyclonedx.org/bom"
	predicateSPDX      = "https://spdx.dev/Document"
)

func (a *Attestation) parseStatement() error {
	// The predicate (an SBOM may be megabytes) is checked as raw JSON; the
	// in-toto types see a stand-in object, so a large document is never
	// expanded into a protobuf Struct.
	var top map[string]json.RawMessage
	if err := json.Unmarshal(a.Payload, &top); err != nil {
		return fmt.Errorf("%w: the payload is not a JSON object: %v", ErrStatement, clipErr(err))
	}
	predicate := top["predicate"]
	if len(predicate) > MaxPredicateBytes {
		return fmt.Errorf("%w: predicate larger than %d bytes", ErrStatement, MaxPredicateBytes)
	}
	if t := bytes.TrimSpace(predicate); len(t) > 0 && t[0] == '{' {
		if !json.Valid(t) {
			return fmt.Errorf("%w: the predicate is not valid JSON", ErrStatement)
		}
		top["predicate"] = json.RawMessage(`{}`)
	}
	head, err := json.Marshal(top)
	if err != nil {
		return fmt.Errorf("%w: %v", ErrStatement, clipErr(err))
	}
	var st ita1.Statement
	if err := (protojson.UnmarshalOptions{DiscardUnknown: true}).Unmarshal(head, &st); err != nil {
		return fmt.Errorf("%w: %v", ErrStatement, clipErr(err))
	}
	if err := st.Validate(); err != nil {
		return fmt.Errorf("%w: %v", ErrStatement, err)
	}
	if err := library.ValidatePredicateType(st.GetPredicateType()); err != nil {
		return fmt.Errorf("%w: %v", ErrStatement, err)
	}
	a.PredicateType = st.GetPredicateType()
	if len(st.GetSubject()) > MaxSubjects {
		return fmt.Errorf("%w: more than %d subjects", ErrStatement, MaxSubjects)
	}
	for i, s := range st.GetSubject() {
		d := strings.ToLower(s.GetDigest()[string(ita1.AlgorithmSHA256)])
		if len(d) != 2*sha256.Size {
			return fmt.Errorf("%w: subject %d (%q) has no sha256 digest", ErrStatement, i, clip(s.GetName()))
		}
		if _, err := hex.DecodeString(d); err != nil {
			return fmt.Errorf("%w: subject %d sha256 is not hex", ErrStatement, i)
		}
		a.Subjects = append(a.Subjects, Subject{Name: clip(s.GetName()), SHA256: d})
	}
	return checkSBOM(a.PredicateType, predicate)
}

// checkSBOM validates a CycloneDX or SPDX predicate as JSON of its type; it
// does not interpret the document.
func checkSBOM(predicateType string, predicate json.RawMessage) error {
	var doc map[string]json.RawMessage
	str := func(k string) string {
		var s string
		_ = json.Unmarshal(doc[k], &s)
		return s
	}
	switch {
	case hasTypePrefix(predicateType, predicateCycloneDX):
		if json.Unmarshal(predicate, &doc) != nil || str("bomFormat") != "CycloneDX" || str("specVersion") == "" {
			return fmt.Errorf("%w: a %s predicate must be a CycloneDX JSON document (bomFormat \"CycloneDX\", specVersion)", ErrStatement, predicateType)
		}
	case hasTypePrefix(predicateType, predicateSPDX):
		if json.Unmarshal(predicate, &doc) != nil || (!strings.HasPrefix(str("spdxVersion"), "SPDX-") && doc["@context"] == nil) {
			return fmt.Errorf("%w: a %s predicate must be an SPDX JSON document (spdxVersion \"SPDX-…\", or an SPDX 3 @context)", ErrStatement, predicateType)
		}
	}
	return nil
}

func hasTypePrefix(t, prefix string) bool {
	return t == prefix || strings.HasPrefix(t, prefix+"/")
}

// Key is one trusted attestation key.
type Key struct {
	ID       string
	verifier signature.Verifier
}

// ParseKeys reads PEM public keys ("PUBLIC KEY", PKIX: ECDSA, RSA or
// Ed25519, as cosign.pub holds them). Each string holds one key.
func ParseKeys(pems []string) ([]Key, error) {
	if len(pems) > MaxKeys {
		return nil, fmt.Errorf("%w: more than %d keys", ErrKey, MaxKeys)
	}
	out := make([]Key, 0, len(pems))
	seen := map[string]bool{}
	for i, p := range pems {
		k, err := ParseKey(p)
		if err != nil {
			return nil, fmt.Errorf("key %d: %w", i, err)
		}
		if seen[k.ID] {
			return nil, fmt.Errorf("%w: key %d (%s) is listed twice", ErrKey, i, k.ID)
		}
		seen[k.ID] = true
		out = append(out, k)
	}
	return out, nil
}

// ParseKey reads one PEM public key.
func ParseKey(p string) (Key, error) {
	if len(p) > 16<<10 {
		return Key{}, fmt.Errorf("%w: longer than 16 KiB", ErrKey)
	}
	block, rest := pem.Decode([]byte(p))
	if block == nil || block.Type != "PUBLIC KEY" {
		return Key{}, fmt.Errorf("%w: not a PEM \"PUBLIC KEY\" block", ErrKey)
	}
	if len(bytes.TrimSpace(rest)) != 0 {
		return Key{}, fmt.Errorf("%w: data after the PEM block (one key per entry)", ErrKey)
	}
	pub, err := x509.ParsePKIXPublicKey(block.Bytes)
	if err != nil {
		return Key{}, fmt.Errorf("%w: %v", ErrKey, err)
	}
	v, err := signature.LoadDefaultVerifier(pub)
	if err != nil {
		return Key{}, fmt.Errorf("%w: %v", ErrKey, err)
	}
	id, err := KeyID(pub)
	if err != nil {
		return Key{}, err
	}
	return Key{ID: id, verifier: v}, nil
}

// KeyID is a public key's ID: the first KeyIDLength hex characters of the
// SHA-256 of its DER SubjectPublicKeyInfo.
func KeyID(pub crypto.PublicKey) (string, error) {
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return "", fmt.Errorf("%w: %v", ErrKey, err)
	}
	sum := sha256.Sum256(der)
	return hex.EncodeToString(sum[:])[:KeyIDLength], nil
}

// PAE is the DSSE pre-authentication encoding the signatures cover.
func (a *Attestation) PAE() []byte { return ssldsse.PAE(a.PayloadType, a.Payload) }

// Verify checks that at least one signature verifies with one of the keys
// and returns that key's ID.
func (a *Attestation) Verify(keys []Key) (string, error) {
	if len(a.Signatures) == 0 {
		return "", ErrUnsigned
	}
	pae := a.PAE()
	for _, s := range a.Signatures {
		for _, k := range keys {
			if k.verifier.VerifySignature(bytes.NewReader(s.Sig), bytes.NewReader(pae)) == nil {
				return k.ID, nil
			}
		}
	}
	return "", fmt.Errorf("%w (%d signatures, %d keys)", ErrSignature, len(a.Signatures), len(keys))
}

func clip(s string) string {
	if len(s) > 80 {
		return s[:80] + "…"
	}
	return strings.ToValidUTF8(s, "?")
}

func clipErr(err error) string { return clip(err.Error()) }
