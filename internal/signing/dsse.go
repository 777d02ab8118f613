package signing

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"encoding/json"
	"fmt"

	ssldsse "github.com/secure-systems-lab/go-securesystemslib/dsse"
	"github.com/sigstore/sigstore/pkg/signature"
	sigdsse "github.com/sigstore/sigstore/pkg/signature/dsse"
)

// InTotoPayloadType is the DSSE payload type of in-toto statements.
const InTotoPayloadType = "application/vnd.in-toto+json"

// SignDSSE wraps payload in a DSSE envelope signed by the key (ECDSA P-256
// over SHA-256 of the DSSE pre-authentication encoding); the signature's
// keyid is the key's ID (KeyID). It returns the envelope's JSON.
func (s *Signer) SignDSSE(ctx context.Context, payloadType string, payload []byte) ([]byte, error) {
	es, err := ssldsse.NewEnvelopeSigner(&sigdsse.SignerAdapter{SignatureSigner: s.sv, Pub: s.pub, PubKeyID: s.keyID})
	if err != nil {
		return nil, err
	}
	env, err := es.SignPayload(ctx, payloadType, payload)
	if err != nil {
		return nil, fmt.Errorf("dsse sign with key %s: %w", s.keyID, err)
	}
	return json.Marshal(env)
}

// VerifyDSSE checks a DSSE envelope against the keyring: at least one
// signature must verify with one of its keys. It returns the payload type,
// the payload and the ID of the key that signed it.
func (kr *Keyring) VerifyDSSE(ctx context.Context, envelope []byte) (string, []byte, string, error) {
	var env ssldsse.Envelope
	if err := decodeStrict(envelope, &env); err != nil {
		return "", nil, "", fmt.Errorf("%w: dsse envelope: %w", ErrVerification, err)
	}
	var vs []ssldsse.Verifier
	for _, e := range kr.entries {
		v, err := signature.LoadECDSAVerifier(e.pub, crypto.SHA256)
		if err != nil {
			return "", nil, "", err
		}
		vs = append(vs, &sigdsse.VerifierAdapter{SignatureVerifier: v, Pub: e.pub, PubKeyID: e.KeyID})
	}
	ev, err := ssldsse.NewEnvelopeVerifier(vs...)
	if err != nil {
		return "", nil, "", fmt.Errorf("%w: %w", ErrVerification, err)
	}
	accepted, err := ev.Verify(ctx, &env)
	if err != nil || len(accepted) == 0 {
		return "", nil, "", fmt.Errorf("%w: dsse envelope: no signature by any of %d trusted keys", ErrVerification, len(kr.entries))
	}
	payload, err := env.DecodeB64Payload()
	if err != nil {
		return "", nil, "", fmt.Errorf("%w: dsse payload: %w", ErrVerification, err)
	}
	return env.PayloadType, payload, accepted[0].KeyID, nil
}

// PublicKeys are the keyring's ECDSA keys by key ID.
func (kr *Keyring) PublicKeys() map[string]*ecdsa.PublicKey {
	out := map[string]*ecdsa.PublicKey{}
	for _, e := range kr.entries {
		out[e.KeyID] = e.pub
	}
	return out
}
