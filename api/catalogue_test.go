package api_test

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/pem"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/reliquary/reliquary/internal/library"
	"github.com/reliquary/reliquary/internal/testenv"
	"github.com/reliquary/reliquary/storage/storagetest"
)

func stores(t *testing.T, fn func(t *testing.T, store string)) {
	for _, store := range []string{"fs", "s3"} {
		t.Run(store, func(t *testing.T) { fn(t, store) })
	}
}

type upload struct {
	name   string
	size   int64
	seed   int64
	header string // how the digest is declared: content-digest, checksum, none
	os     string
}

func (u upload) sum() []byte {
	h := sha256.New()
	_, _ = io.Copy(h, storagetest.NewStream(u.seed, u.size))
	return h.Sum(nil)
}

// put streams the upload's bytes with their digest declared as asked.
func (c *client) put(path string, u upload) response {
	c.t.Helper()
	sum := u.sum()
	req, err := http.NewRequest(http.MethodPut, c.base+path, storagetest.NewStream(u.seed, u.size))
	if err != nil {
		c.t.Fatal(err)
	}
	req.ContentLength = u.size
	req.Header.Set("Authorization", "Bearer "+c.token)
	req.Header.Set("Content-Type", "application/octet-stream")
	switch u.header {
	case "content-digest":
		req.Header.Set("Content-Digest", "sha-256=:"+base64.StdEncoding.EncodeToString(sum)+":")
	case "checksum":
		req.Header.Set("X-Checksum-Sha256", hex.EncodeToString(sum))
	}
	resp, err := c.http.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return response{status: resp.StatusCode, header: resp.Header, body: b}
}

// download streams an artifact (or a range of it) and returns its digest.
func (c *client) download(path string, hdr ...string) (int, http.Header, []byte, int64) {
	c.t.Helper()
	req, _ := http.NewRequest(http.MethodGet, c.base+path, nil)
	req.Header.Set("Authorization", "Bearer "+c.token)
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := c.http.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	defer resp.Body.Close()
	h := sha256.New()
	n, err := io.Copy(h, resp.Body)
	if err != nil {
		c.t.Fatalf("GET %s: %v after %d bytes", path, err, n)
	}
	return resp.StatusCode, resp.Header, h.Sum(nil), n
}

func TestCatalogueWalk(t *testing.T) {
	stores(t, func(t *testing.T, store string) {
		srv := testenv.StartServer(t, testenv.ServerOptions{Store: store})
		admin := newClient(t, srv, srv.AdminToken)
		admin.json("POST", "/products", map[string]any{"name": "hr", "description": "HR suite", "owner": "hr-team", "ci_id": "CI-HR"}).must(t, 201)
		admin.json("POST", "/products/hr/releases", map[string]any{"version": "1.4.0", "change_id": "CHG-100", "labels": map[string]string{"train": "q3"}}).must(t, 201)
		admin.json("POST", "/products/hr/releases", map[string]any{"version": "1.4.0"}).must(t, 409)

		ups := []upload{
			{name: "hr-1.4.0-linux-amd64.tar.gz", size: 100 << 20, seed: 1, header: "content-digest", os: "linux"},
			{name: "hr-1.4.0.msi", size: 3<<20 + 17, seed: 2, header: "checksum"},
			{name: "README.txt", size: 1500, seed: 3, header: "none"},
		}
		base := "/products/hr/releases/1.4.0/artifacts/"
		for _, u := range ups {
			q := ""
			if u.os != "" {
				q = "?os=" + u.os + "&arch=amd64"
			}
			r := admin.put(base+u.name+q, u).must(t, 201)
			var a library.Artifact
			r.decode(t, &a)
			if a.SHA256 != hex.EncodeToString(u.sum()) || a.Size != u.size || a.OS != u.os {
				t.Errorf("upload %s answered %+v", u.name, a)
			}
		}
		// A retry with the same bytes is safe; other bytes are refused.
		admin.put(base+ups[2].name, ups[2]).must(t, 200)
		if r := admin.put(base+ups[2].name, upload{name: "README.txt", size: 1500, seed: 99, header: "none"}); r.status != 409 || r.errCode() != "ARTIFACT_EXISTS" {
			t.Errorf("other bytes under an existing name: %d %s", r.status, r.body)
		}

		var rel library.Release
		admin.json("GET", "/products/hr/releases/1.4.0", nil).must(t, 200).decode(t, &rel)
		if len(rel.Artifacts) != 3 || rel.Type != library.TypeMinor || rel.State != library.StateDraft || rel.Labels["train"] != "q3" {
			t.Errorf("release = %+v", rel)
		}
		var list struct{ Releases []library.Release }
		admin.json("GET", "/products/hr/releases?label=train:q3", nil).must(t, 200).decode(t, &list)
		if len(list.Releases) != 1 {
			t.Errorf("label filter returned %d releases", len(list.Releases))
		}

		for _, u := range ups {
			status, h, sum, n := admin.download(base + u.name)
			if status != 200 || n != u.size || !bytes.Equal(sum, u.sum()) {
				t.Fatalf("download %s: status %d, %d bytes, digest match %v", u.name, status, n, bytes.Equal(sum, u.sum()))
			}
			if h.Get("ETag") != `"`+hex.EncodeToString(u.sum())+`"` || h.Get("Accept-Ranges") != "bytes" ||
				h.Get("Content-Digest") != "sha-256=:"+base64.StdEncoding.EncodeToString(u.sum())+":" ||
				!strings.Contains(h.Get("Content-Disposition"), u.name) {
				t.Errorf("download %s headers: %v", u.name, h)
			}
			// Ranges: the middle, an open end, a suffix.
			full := make([]byte, u.size)
			_, _ = io.ReadFull(storagetest.NewStream(u.seed, u.size), full)
			for _, rg := range []struct {
				hdr      string
				from, to int64
			}{
				{"bytes=100-1099", 100, 1100},
				{fmt.Sprintf("bytes=%d-", u.size-10), u.size - 10, u.size},
				{"bytes=-64", u.size - 64, u.size},
			} {
				r := admin.do("GET", base+u.name, nil, "Range", rg.hdr)
				if r.status != 206 || !bytes.Equal(r.body, full[rg.from:rg.to]) {
					t.Errorf("%s of %s: status %d, %d bytes", rg.hdr, u.name, r.status, len(r.body))
				}
				if want := fmt.Sprintf("bytes %d-%d/%d", rg.from, rg.to-1, u.size); r.header.Get("Content-Range") != want {
					t.Errorf("%s: Content-Range %q, want %q", rg.hdr, r.header.Get("Content-Range"), want)
				}
			}
			if r := admin.do("GET", base+u.name, nil, "Range", fmt.Sprintf("bytes=%d-", u.size)); r.status != 416 || r.header.Get("Content-Range") != fmt.Sprintf("bytes */%d", u.size) {
				t.Errorf("unsatisfiable range: %d %v", r.status, r.header)
			}
		}
		etag := `"` + hex.EncodeToString(ups[1].sum()) + `"`
		for _, inm := range []string{etag, `"other", ` + etag, "W/" + etag, "*"} {
			if r := admin.do("GET", base+ups[1].name, nil, "If-None-Match", inm); r.status != 304 || len(r.body) != 0 {
				t.Errorf("If-None-Match %s: %d", inm, r.status)
			}
		}
		if r := admin.do("GET", base+ups[1].name, nil, "If-None-Match", `"other"`); r.status != 200 {
			t.Errorf("If-None-Match of another tag: %d", r.status)
		}
		if r := admin.do("HEAD", base+ups[1].name, nil); r.status != 200 || r.header.Get("Content-Length") != fmt.Sprint(ups[1].size) || len(r.body) != 0 {
			t.Errorf("HEAD: %d, length %q", r.status, r.header.Get("Content-Length"))
		}

		// Redirect to a presigned URL on S3; served directly on disk.
		r := admin.do("GET", base+ups[2].name+"?redirect=1", nil)
		if store == "s3" {
			if r.status != 307 {
				t.Fatalf("redirect=1 on S3: %d %s", r.status, r.body)
			}
			resp, err := http.Get(r.header.Get("Location"))
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if sum := sha256.Sum256(b); !bytes.Equal(sum[:], ups[2].sum()) {
				t.Error("presigned URL served other bytes")
			}
		} else if r.status != 200 {
			t.Errorf("redirect=1 on the filesystem store: %d", r.status)
		}

		// Seal: the manifest verifies with crypto/ecdsa against the served key.
		admin.json("POST", "/products/hr/releases/1.4.0/seal", map[string]string{"comment": "ready"}).must(t, 200).decode(t, &rel)
		if rel.State != library.StateCandidate || rel.SealedBy != "admin" || !strings.HasPrefix(rel.ManifestDigest, "sha256:") {
			t.Errorf("sealed release = %+v", rel)
		}
		if r := admin.put(base+"late.bin", upload{size: 10, seed: 5}); r.status != 409 || r.errCode() != "RELEASE_SEALED" {
			t.Errorf("upload after seal: %d %s", r.status, r.body)
		}
		if r := admin.do("DELETE", base+ups[2].name, nil); r.status != 409 || r.errCode() != "RELEASE_SEALED" {
			t.Errorf("delete after seal: %d %s", r.status, r.body)
		}
		manifest := admin.do("GET", "/products/hr/releases/1.4.0/manifest", nil).must(t, 200).body
		sigB64 := admin.do("GET", "/products/hr/releases/1.4.0/manifest/signature", nil).must(t, 200).body
		keyPEM := admin.do("GET", "/signing/key", nil).must(t, 200).body
		verifyECDSA(t, keyPEM, manifest, sigB64)
		if sum := sha256.Sum256(manifest); "sha256:"+hex.EncodeToString(sum[:]) != rel.ManifestDigest {
			t.Error("manifest bytes do not match manifest_digest")
		}
		for _, u := range ups {
			if !bytes.Contains(manifest, []byte(hex.EncodeToString(u.sum()))) {
				t.Errorf("manifest lacks the digest of %s", u.name)
			}
			sig := admin.do("GET", base+u.name+"/signature", nil).must(t, 200).body
			verifyECDSADigest(t, keyPEM, u.sum(), sig)
		}
		// Only the artifacts and the manifest are stored.
		if got := srv.Objects(t, "products/hr/"); len(got) != 5 {
			t.Errorf("store holds %q, want 3 artifacts + manifest + signature", got)
		}
	})
}

func verifyECDSA(t *testing.T, keyPEM, msg, sigB64 []byte) {
	t.Helper()
	sum := sha256.Sum256(msg)
	verifyECDSADigest(t, keyPEM, sum[:], sigB64)
}

// verifyECDSADigest checks a signature with crypto/ecdsa alone.
func verifyECDSADigest(t *testing.T, keyPEM, digest, sigB64 []byte) {
	t.Helper()
	block, _ := pem.Decode(keyPEM)
	if block == nil {
		t.Fatalf("signing key is not PEM: %q", keyPEM)
	}
	pub, err := x509.ParsePKIXPublicKey(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	sig, err := base64.StdEncoding.DecodeString(strings.TrimSpace(string(sigB64)))
	if err != nil {
		t.Fatalf("signature is not base64: %v", err)
	}
	if !ecdsa.VerifyASN1(pub.(*ecdsa.PublicKey), digest, sig) {
		t.Error("signature does not verify with crypto/ecdsa")
	}
}
