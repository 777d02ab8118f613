package signing

import (
	"crypto/ecdsa"
	"crypto/sha256"
	"fmt"

	protobundle "github.com/sigstore/protobuf-specs/gen/pb-go/bundle/v1"
	protocommon "github.com/sigstore/protobuf-specs/gen/pb-go/common/v1"
	"google.golang.org/protobuf/encoding/protojson"

	"github.com/reliquary/reliquary/internal/canonjson"
)

// BundleMediaType is the media type of the Sigstore bundles Bundle writes.
const BundleMediaType = "application/vnd.dev.sigstore.bundle.v0.3+json"

// Bundle wraps a signature made by SignDigest in a Sigstore bundle (v0.3,
// JSON): a message signature with its SHA-256 digest, and a public-key hint
// equal to KeyID. The bundle carries no transparency-log entry and no
// timestamp, so verifiers must be told to skip the log: cosign v3 takes
//
//	cosign verify-blob --key key.pub --bundle artifact.sigstore.json \
//	    --insecure-ignore-tlog artifact
//
// and cosign v2.6.5 additionally wants --new-bundle-format and a trusted root
// (an empty one will do offline: --trusted-root with
// {"mediaType":"application/vnd.dev.sigstore.trustedroot+json;version=0.1"}).
//
// The output is canonical JSON (protojson's deliberately unstable spacing is
// removed), so the same signature always gives the same bundle bytes. The
// signature is checked against the key first: a bundle is never written for
// a signature this signer did not make over digest.
func (s *Signer) Bundle(digest, sig []byte) ([]byte, error) {
	if len(digest) != sha256.Size {
		return nil, fmt.Errorf("%w: got %d bytes", ErrInvalidDigest, len(digest))
	}
	if !ecdsa.VerifyASN1(s.pub, digest, sig) {
		return nil, fmt.Errorf("bundle: %w: signature is not from key %s over this digest", ErrVerification, s.keyID)
	}
	return bundle(s.keyID, digest, sig)
}

// Bundle wraps a signature made by any key of the ring (the current one or
// a retired one) in a bundle whose hint names the key that made it.
func (kr *Keyring) Bundle(digest, sig []byte) ([]byte, error) {
	if len(digest) != sha256.Size {
		return nil, fmt.Errorf("%w: got %d bytes", ErrInvalidDigest, len(digest))
	}
	keyID, err := kr.VerifyDigest(digest, sig)
	if err != nil {
		return nil, fmt.Errorf("bundle: %w", err)
	}
	return bundle(keyID, digest, sig)
}

func bundle(keyID string, digest, sig []byte) ([]byte, error) {
	b := &protobundle.Bundle{
		MediaType: BundleMediaType,
		VerificationMaterial: &protobundle.VerificationMaterial{
			Content: &protobundle.VerificationMaterial_PublicKey{
				PublicKey: &protocommon.PublicKeyIdentifier{Hint: keyID},
			},
		},
		Content: &protobundle.Bundle_MessageSignature{
			MessageSignature: &protocommon.MessageSignature{
				MessageDigest: &protocommon.HashOutput{
					Algorithm: protocommon.HashAlgorithm_SHA2_256,
					Digest:    digest,
				},
				Signature: sig,
			},
		},
	}
	raw, err := protojson.Marshal(b)
	if err != nil {
		return nil, fmt.Errorf("bundle: marshal: %w", err)
	}
	out, err := canonjson.CanonicalizeJSON(raw)
	if err != nil {
		return nil, fmt.Errorf("bundle: %w", err)
	}
	return out, nil
}
