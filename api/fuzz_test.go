package api_test

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"testing"

	"github.com/reliquary/reliquary/api"
	"github.com/reliquary/reliquary/api/wire"
	"github.com/reliquary/reliquary/internal/library"
)

func FuzzParseExpectedDigest(f *testing.F) {
	sum := bytes.Repeat([]byte{0xab}, 32)
	f.Add("sha-256=:"+base64.StdEncoding.EncodeToString(sum)+":", "")
	f.Add("", hex.EncodeToString(sum))
	f.Add("sha-512=:AAAA:, sha-256=:"+base64.StdEncoding.EncodeToString(sum)+":", hex.EncodeToString(sum))
	f.Add("sha-256=:x:", "zz")
	f.Add("sha-256", "")
	f.Fuzz(func(t *testing.T, cd, x string) {
		d, err := api.ParseExpectedDigest(cd, x)
		if err != nil {
			return
		}
		if d != nil && len(d) != 32 {
			t.Fatalf("digest of %d bytes from %q / %q", len(d), cd, x)
		}
		if d == nil && x != "" {
			t.Fatalf("X-Checksum-Sha256 %q accepted without a digest", x)
		}
	})
}

func FuzzParseRange(f *testing.F) {
	for _, s := range []string{"bytes=0-0", "bytes=-5", "bytes=5-", "bytes=1-2,3-4", "bytes=9999999999999999999-", "items=1-2", "bytes= 1 - 2"} {
		f.Add(s, int64(100))
	}
	f.Fuzz(func(t *testing.T, h string, size int64) {
		if size < 0 {
			size = -size
		}
		br, err := api.ParseRange(h, size)
		if err != nil {
			return
		}
		if br.Offset < 0 || br.Length <= 0 || br.Offset+br.Length > size {
			t.Fatalf("range %q of %d resolved to %+v", h, size, br)
		}
	})
}

func FuzzNames(f *testing.F) {
	for _, s := range []string{"app", "a.b-c_d", "..", ".", "a/b", "A", "x\x00", "hr-1.2.3-linux-amd64.tar.gz"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if library.ValidateArtifactName(s) == nil {
			if s == "." || s == ".." || bytes.ContainsAny([]byte(s), "/\\\x00") || len(s) > 255 || s == "" {
				t.Fatalf("artifact name %q accepted", s)
			}
		}
		if library.ValidateProductName(s) == nil && (len(s) > 63 || bytes.ContainsAny([]byte(s), "/\\\x00 ")) {
			t.Fatalf("product name %q accepted", s)
		}
	})
}

func FuzzJSONBodies(f *testing.F) {
	for _, s := range []string{`{"version":"1.0.0"}`, `{"name":"x","role":"reader"}`, `null`, `[]`, `{"a":1}`, `{"version":"1.0.0"} x`, `{`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		// Decoding into every request type never panics.
		for _, v := range []any{&wire.ReleaseInput{}, &wire.ProductInput{}, &library.TokenInput{}, &wire.PolicyInput{},
			&wire.PromoteInput{}, &wire.WithdrawInput{}, &api.CommentInput{}, &api.WebhookInput{}, &wire.RolloutInput{},
			&wire.BaselineInput{}, &wire.DeploymentInput{}, &wire.PublisherInput{}, &wire.OIDCExchangeRequest{}} {
			if err := api.DecodeStrict(bytes.NewReader(b), v); err == nil && len(bytes.TrimSpace(b)) > 0 && bytes.TrimSpace(b)[0] != '{' {
				t.Fatalf("%q decoded into %T", b, v)
			}
		}
	})
}
