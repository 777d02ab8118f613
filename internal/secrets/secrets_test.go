package secrets

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func testKey(t testing.TB, b byte) *Key {
	t.Helper()
	k, err := New(bytes.Repeat([]byte{b}, KeySize))
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// Seal/Open round-trips; every seal uses a new nonce; the value reveals
// neither the plaintext nor the key; another key, other associated data or
// a flipped byte are refused.
func TestSealOpen(t *testing.T) {
	k, other := testKey(t, 1), testKey(t, 2)
	pt := []byte(`{"url":"https://hooks.example/T0/secret-path?token=abc","secret":"s3cr3t-s3cr3t-s3cr3t"}`)
	a, b := k.Seal(pt, []byte("wh_1")), k.Seal(pt, []byte("wh_1"))
	if a == b {
		t.Fatal("two seals of one value are equal: nonce reused")
	}
	for _, leak := range []string{"secret-path", "token", "s3cr3t", "hooks.example"} {
		if strings.Contains(a, leak) {
			t.Fatalf("sealed value shows %q", leak)
		}
	}
	got, err := k.Open(a, []byte("wh_1"))
	if err != nil || !bytes.Equal(got, pt) {
		t.Fatalf("open: %q %v", got, err)
	}
	if KeyID(a) != k.ID() || k.ID() == other.ID() {
		t.Fatalf("key ids: %q %q %q", KeyID(a), k.ID(), other.ID())
	}
	if _, err := other.Open(a, []byte("wh_1")); !errors.Is(err, ErrWrongKey) {
		t.Fatalf("another key: %v", err)
	}
	if _, err := k.Open(a, []byte("wh_2")); !errors.Is(err, ErrWrongKey) {
		t.Fatalf("other associated data: %v", err)
	}
	flipped := []byte(a)
	flipped[len(flipped)-3] ^= 'A' ^ 'B'
	if _, err := k.Open(string(flipped), []byte("wh_1")); err == nil {
		t.Fatal("a tampered value opened")
	}
	for _, bad := range []string{"", "v1", "v1:x", "v2:" + k.ID() + ":AAAA", "v1:" + k.ID() + ":!!!", "v1:" + k.ID() + ":AAAA"} {
		if _, err := k.Open(bad, nil); err == nil {
			t.Errorf("%q opened", bad)
		}
	}
}

// The key file is 64 hex characters; a generated one is 0600 and stays
// the same across starts.
func TestKeyFiles(t *testing.T) {
	dir := t.TempDir()
	k1, created, err := LoadOrCreate(dir)
	if err != nil || !created {
		t.Fatalf("create: %v %v", created, err)
	}
	fi, err := os.Stat(filepath.Join(dir, DefaultKeyFile))
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("key file mode: %v %v", fi, err)
	}
	k2, created, err := LoadOrCreate(dir)
	if err != nil || created || k2.ID() != k1.ID() {
		t.Fatalf("reload: %v %v", created, err)
	}
	k3, err := Load(filepath.Join(dir, DefaultKeyFile))
	if err != nil || k3.ID() != k1.ID() {
		t.Fatalf("load: %v", err)
	}
	for _, bad := range []string{"", "abc", strings.Repeat("zz", 32), strings.Repeat("ab", 31), strings.Repeat("ab", 33)} {
		p := filepath.Join(dir, "bad")
		if err := os.WriteFile(p, []byte(bad), 0o600); err != nil {
			t.Fatal(err)
		}
		if _, err := Load(p); err == nil || !strings.Contains(err.Error(), "hexadecimal") {
			t.Errorf("%q: %v", bad, err)
		}
	}
	if _, err := Load(filepath.Join(dir, "missing")); err == nil {
		t.Error("missing file loaded")
	}
}

// Open never panics and never accepts what it did not seal.
func FuzzOpen(f *testing.F) {
	k := testKey(f, 7)
	f.Add(k.Seal([]byte("x"), []byte("id")), "id")
	f.Add("v1:"+k.ID()+":", "")
	f.Add("v1::", "")
	f.Fuzz(func(t *testing.T, sealed, ad string) {
		pt, err := k.Open(sealed, []byte(ad))
		if err == nil && (string(pt) != "x" || ad != "id") {
			t.Fatalf("opened %q under %q", pt, ad)
		}
	})
}
