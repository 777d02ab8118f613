package transparency

import (
	"context"
	"crypto/ecdsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/binary"
	"testing"

	"golang.org/x/mod/sumdb/note"
)

// ecdsaNoteVerifier is a golang.org/x/mod/sumdb/note verifier for the
// library's ECDSA key: note.Open does the signed-note parsing, this only
// the signature.
type ecdsaNoteVerifier struct {
	name string
	hash uint32
	pub  *ecdsa.PublicKey
}

func (v ecdsaNoteVerifier) Name() string    { return v.name }
func (v ecdsaNoteVerifier) KeyHash() uint32 { return v.hash }
func (v ecdsaNoteVerifier) Verify(msg, sig []byte) bool {
	d := sha256.Sum256(msg)
	return ecdsa.VerifyASN1(v.pub, d[:], sig)
}

// The checkpoint is a signed note as Go's reference implementation reads
// it: body, blank line, "— <name> <base64(key hash ‖ signature)>".
func TestCheckpointOpensWithSumdbNote(t *testing.T) {
	s := newSigner(t)
	cp, err := SignCheckpoint(context.Background(), s, DefaultOrigin, 1234, make([]byte, 32))
	if err != nil {
		t.Fatal(err)
	}
	der, _ := x509.MarshalPKIXPublicKey(s.PublicKey())
	spki := sha256.Sum256(der)
	v := ecdsaNoteVerifier{name: DefaultOrigin, hash: binary.BigEndian.Uint32(spki[:4]), pub: s.PublicKey()}
	n, err := note.Open(cp.Note, note.VerifierList(v))
	if err != nil {
		t.Fatalf("note.Open: %v\n%s", err, cp.Note)
	}
	if n.Text != string(cp.Body()) || len(n.Sigs) != 1 || n.Sigs[0].Hash != v.hash {
		t.Fatalf("opened %+v", n)
	}
	other := newSigner(t)
	v.pub = other.PublicKey()
	if _, err := note.Open(cp.Note, note.VerifierList(v)); err == nil {
		t.Fatal("note.Open accepted another key's signature")
	}
}
