package transparency

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"strings"
	"testing"

	"github.com/reliquary/reliquary/internal/signing"
)

func newSigner(t testing.TB) *signing.Signer {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	s, err := signing.NewSigner(k)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func keyring(t testing.TB, keys ...*signing.Signer) *signing.Keyring {
	t.Helper()
	var pems [][]byte
	for _, k := range keys {
		pems = append(pems, k.PublicKeyPEM())
	}
	kr, err := signing.NewKeyring(nil, pems...)
	if err != nil {
		t.Fatal(err)
	}
	return kr
}

func TestCheckpointSignAndVerify(t *testing.T) {
	ctx := context.Background()
	old, cur, stranger := newSigner(t), newSigner(t), newSigner(t)
	root := sha256.Sum256([]byte("root"))
	cp, err := SignCheckpoint(ctx, old, DefaultOrigin, 42, root[:])
	if err != nil {
		t.Fatal(err)
	}
	want := "reliquary.dev/log\n42\n" // origin, size, then the base64 root
	if !strings.HasPrefix(string(cp.Note), want) || !strings.Contains(string(cp.Note), "\n\n— reliquary.dev/log ") {
		t.Fatalf("note:\n%s", cp.Note)
	}
	// A retired key still verifies: the keyring holds it after the current.
	got, err := NewVerifier(keyring(t, cur, old), DefaultOrigin).Verify(cp.Note)
	if err != nil || got.Size != 42 || !bytes.Equal(got.Hash, root[:]) || got.KeyID != old.KeyID() {
		t.Fatalf("verify with the retired key: %+v %v", got, err)
	}
	if _, err := NewVerifier(keyring(t, cur, stranger), "").Verify(cp.Note); !errors.Is(err, ErrCheckpoint) {
		t.Fatalf("verified without its key: %v", err)
	}
	if _, err := NewVerifier(keyring(t, old), "other.example/log").Verify(cp.Note); !errors.Is(err, ErrCheckpoint) {
		t.Fatalf("another origin accepted: %v", err)
	}
	edited := bytes.Replace(cp.Note, []byte("\n42\n"), []byte("\n43\n"), 1)
	if _, err := NewVerifier(keyring(t, old), "").Verify(edited); !errors.Is(err, ErrCheckpoint) || !strings.Contains(err.Error(), "does not verify") {
		t.Fatalf("an edited size verified: %v", err)
	}
	// A cosigner's extra line is ignored; the log's line still counts.
	cosigned := append(bytes.Clone(cp.Note), []byte("— witness.example AAAAAAAAAAAA\n")...)
	if _, err := NewVerifier(keyring(t, old), "").Verify(cosigned); err != nil {
		t.Fatalf("a cosigned note: %v", err)
	}
}

func TestParseCheckpointRefusesMalformedNotes(t *testing.T) {
	good, err := SignCheckpoint(context.Background(), newSigner(t), DefaultOrigin, 7, make([]byte, 32))
	if err != nil {
		t.Fatal(err)
	}
	body, sig, _ := strings.Cut(string(good.Note), "\n\n")
	cases := map[string]string{
		"empty":             "",
		"no blank line":     body + "\n" + sig,
		"no signature":      body + "\n\n",
		"two lines":         "reliquary.dev/log\n7\n\n" + sig,
		"size with zero":    strings.Replace(body, "\n7\n", "\n07\n", 1) + "\n\n" + sig,
		"negative size":     strings.Replace(body, "\n7\n", "\n-7\n", 1) + "\n\n" + sig,
		"size overflow":     strings.Replace(body, "\n7\n", "\n99999999999999999999\n", 1) + "\n\n" + sig,
		"short root":        "reliquary.dev/log\n7\nAAAA\n\n" + sig,
		"origin with space": strings.Replace(body, "reliquary.dev/log", "a b", 1) + "\n\n" + sig,
		"dash not em dash":  body + "\n\n" + strings.Replace(sig, "—", "-", 1),
		"sig not base64":    body + "\n\n— reliquary.dev/log !!!\n",
		"sig too short":     body + "\n\n— reliquary.dev/log AAAA\n",
		"no final newline":  strings.TrimSuffix(string(good.Note), "\n"),
		"empty extension":   body + "\n\n\n" + sig,
		"not utf-8":         "\xff" + string(good.Note),
		"huge":              strings.Repeat("x", MaxCheckpointSize+1),
	}
	for name, note := range cases {
		if _, _, err := ParseCheckpoint([]byte(note)); !errors.Is(err, ErrCheckpoint) {
			t.Errorf("%s: %v", name, err)
		}
	}
	if _, _, err := ParseCheckpoint(good.Note); err != nil {
		t.Fatal(err)
	}
}

// FuzzParseCheckpoint: parsing outside input never panics, and a note
// that parses re-encodes to the body it was parsed from.
func FuzzParseCheckpoint(f *testing.F) {
	s := newSigner(f)
	for _, size := range []uint64{0, 1, 1 << 40} {
		cp, err := SignCheckpoint(context.Background(), s, DefaultOrigin, size, make([]byte, 32))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(cp.Note)
	}
	f.Add([]byte("o\n1\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\next\n\n— o AAAAAAAA\n"))
	v := NewVerifier(keyring(f, s), "")
	f.Fuzz(func(t *testing.T, note []byte) {
		cp, sigs, err := ParseCheckpoint(note)
		if err != nil {
			return
		}
		if len(sigs) == 0 || !bytes.HasPrefix(note, cp.Body()) {
			t.Fatalf("parsed %q into %+v (%d signatures)", note, cp, len(sigs))
		}
		_, _ = v.Verify(note)
	})
}

// BenchmarkSignCheckpoint is the cost of one checkpoint, amortised over
// the events it covers (one per mirror pass, at most one per second when
// served).
func BenchmarkSignCheckpoint(b *testing.B) {
	s := newSigner(b)
	root := make([]byte, 32)
	for i := 0; i < b.N; i++ {
		if _, err := SignCheckpoint(context.Background(), s, DefaultOrigin, uint64(i), root); err != nil {
			b.Fatal(err)
		}
	}
}
