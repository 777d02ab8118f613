package snapshot

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"testing"

	"github.com/reliquary/reliquary/internal/signing"
)

// FuzzSnapshotStatement: any bytes in a snapshots/<seq>.db.sig object are
// refused with an error or accepted only when signed by the keyring's key
// for that seq; never a panic.
func FuzzSnapshotStatement(f *testing.F) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		f.Fatal(err)
	}
	signer, err := signing.NewSigner(key)
	if err != nil {
		f.Fatal(err)
	}
	kr, err := signing.NewKeyring(signer)
	if err != nil {
		f.Fatal(err)
	}
	st := Statement{Format: Format, Seq: 7, HeadHash: "ab", Size: 4096,
		SHA256: "0000000000000000000000000000000000000000000000000000000000000000", KeyID: signer.KeyID()}
	sig, err := signer.Sign(context.Background(), st.Message())
	if err != nil {
		f.Fatal(err)
	}
	st.Signature = base64.StdEncoding.EncodeToString(sig)
	good, _ := json.Marshal(st)
	if _, err := parseStatement(good, 7, kr); err != nil {
		f.Fatalf("a genuine statement: %v", err)
	}
	f.Add(good, uint64(7))
	f.Add(good, uint64(8))
	f.Add([]byte(`{"format":"reliquary-snapshot/v1","seq":1}`), uint64(1))
	f.Add([]byte(`null`), uint64(0))
	f.Fuzz(func(t *testing.T, raw []byte, seq uint64) {
		got, err := parseStatement(raw, seq, kr)
		if err != nil {
			return
		}
		if got.Seq != seq || got.Format != Format {
			t.Fatalf("accepted %+v for seq %d", got, seq)
		}
		if _, err := kr.Verify(got.Message(), mustDecode(t, got.Signature)); err != nil {
			t.Fatalf("accepted a statement whose signature does not verify: %v", err)
		}
	})
}

func mustDecode(t *testing.T, s string) []byte {
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
