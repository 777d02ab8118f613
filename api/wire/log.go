package wire

// Proof is the answer of the proof endpoints: the proof's node hashes,
// base64, in RFC 6962 order.
type Proof struct {
	Hashes []string `json:"hashes"`
}
