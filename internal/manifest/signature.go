package manifest

import "encoding/base64"

// EncodeSignature returns the base64 (standard, padded) text of a DER
// signature: the body of manifest.json.sig, and the format cosign's
// --signature flag reads.
func EncodeSignature(sig []byte) []byte {
	out := make([]byte, base64.StdEncoding.EncodedLen(len(sig)))
	base64.StdEncoding.Encode(out, sig)
	return out
}
