package client_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"testing"

	"github.com/reliquary/reliquary/api/client"
	"github.com/reliquary/reliquary/internal/apitest"
	"github.com/reliquary/reliquary/internal/manifest"
	"github.com/reliquary/reliquary/internal/signing"
	"github.com/reliquary/reliquary/internal/testenv"
)

func TestMain(m *testing.M) {
	code := m.Run()
	testenv.StopShared()
	os.Exit(code)
}

// newClient is a client whose every exchange is checked against openapi.yaml.
func newClient(t *testing.T, srv *testenv.Server, token string) *client.Client {
	t.Helper()
	hc := &http.Client{Transport: apitest.Transport(t, apitest.SpecPath(t), http.DefaultTransport)}
	return client.New(srv.URL, token, client.WithHTTPClient(hc))
}

type checked[T any] struct {
	v   T
	err error
}

func must[T any](v T, err error) checked[T] { return checked[T]{v, err} }

func (c checked[T]) get(t *testing.T) T {
	t.Helper()
	if c.err != nil {
		t.Fatal(c.err)
	}
	return c.v
}

func randomBytes(t *testing.T, n int) []byte {
	t.Helper()
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return b
}

func hexSum(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// bytesWriterAt collects WriteAt calls in memory.
type bytesWriterAt struct{ b []byte }

func (w *bytesWriterAt) WriteAt(p []byte, off int64) (int, error) {
	if end := off + int64(len(p)); end > int64(len(w.b)) {
		w.b = append(w.b, make([]byte, end-int64(len(w.b)))...)
	}
	copy(w.b[off:], p)
	return len(p), nil
}

// TestLifecycle drives every route the client has against a real server.
func TestLifecycle(t *testing.T) {
	for _, store := range []string{"fs", "s3"} {
		t.Run(store, func(t *testing.T) {
			srv := testenv.StartServer(t, testenv.ServerOptions{Store: store})
			testLifecycle(t, srv)
		})
	}
}

func testLifecycle(t *testing.T, srv *testenv.Server) {
	ctx := context.Background()
	admin := newClient(t, srv, srv.AdminToken)
	if err := admin.Healthz(ctx); err != nil {
		t.Fatal(err)
	}
	if r := must(admin.Readyz(ctx)).get(t); r.Status != "ok" {
		t.Fatalf("readyz %+v", r)
	}
	p := must(admin.CreateProduct(ctx, client.ProductInput{Name: "hr", Owner: "hr-team", CIID: "CI-HR"})).get(t)
	if p.Name != "hr" || p.Policy.RequiredApprovals != 1 || !p.Policy.FourEyes {
		t.Fatalf("product %+v", p)
	}
	_, err := admin.CreateProduct(ctx, client.ProductInput{Name: "hr"})
	var apiErr *client.Error
	if !errors.As(err, &apiErr) || apiErr.Status != http.StatusConflict || apiErr.Code != "PRODUCT_EXISTS" || apiErr.Message == "" {
		t.Fatalf("duplicate product: %v", err)
	}
	if ps := must(admin.Products(ctx)).get(t); len(ps) != 1 || ps[0].Name != "hr" {
		t.Fatalf("products %+v", ps)
	}
	pol := must(admin.Product(ctx, "hr")).get(t).Policy.Input()
	two := 2
	pol.SupportedMinors = &two
	if p := must(admin.SetPolicy(ctx, "hr", pol)).get(t); p.Policy.SupportedMinors != 2 || p.Policy.RequiredApprovals != 1 {
		t.Fatalf("policy %+v", p.Policy)
	}

	ciTok := must(admin.CreateToken(ctx, client.TokenInput{Name: "ci", Role: client.RolePublisher, Products: []string{"hr"}})).get(t)
	rmTok := must(admin.CreateToken(ctx, client.TokenInput{Name: "alice", Role: client.RoleReleaseManager})).get(t)
	if ciTok.Secret == "" || ciTok.ID == "" {
		t.Fatalf("token %+v", ciTok)
	}
	if ts := must(admin.Tokens(ctx)).get(t); len(ts) < 3 {
		t.Fatalf("tokens %+v", ts)
	}
	ci := newClient(t, srv, ciTok.Secret)
	rm := newClient(t, srv, rmTok.Secret)

	rel := must(ci.CreateRelease(ctx, "hr", client.ReleaseInput{Version: "1.0.0", ChangeID: "CHG-1", Labels: map[string]string{"branch": "main"}})).get(t)
	if rel.State != client.StateDraft || rel.Type != "major" {
		t.Fatalf("release %+v", rel)
	}
	if _, err := ci.CreateRelease(ctx, "hr", client.ReleaseInput{Version: "1.0.0"}); !client.HasCode(err, "RELEASE_EXISTS") {
		t.Fatalf("duplicate release: %v", err)
	}

	data := randomBytes(t, 300<<10)
	in := client.UploadInput{Product: "hr", Version: "1.0.0", Name: "hr.tar.gz", Body: bytes.NewReader(data), Size: int64(len(data)),
		SHA256: hexSum(data), OS: "linux", Arch: "amd64"}
	var sent int64
	in.Progress = func(n int64) { sent = n }
	a, created := mustUpload(t, ci, in)
	if !created || a.SHA256 != hexSum(data) || a.OS != "linux" || sent != int64(len(data)) {
		t.Fatalf("upload %+v created=%v sent=%d", a, created, sent)
	}
	in.Body = bytes.NewReader(data)
	if _, created := mustUpload(t, ci, in); created {
		t.Fatal("the same bytes again: want 200, not created")
	}
	other := randomBytes(t, 10)
	in.Body, in.Size, in.SHA256 = bytes.NewReader(other), int64(len(other)), hexSum(other)
	if _, _, err := ci.Upload(ctx, in); !client.HasCode(err, "ARTIFACT_EXISTS") {
		t.Fatalf("other bytes: %v", err)
	}
	in.Name = "bad.bin"
	in.Body, in.SHA256 = bytes.NewReader(other), hexSum(data)
	if _, _, err := ci.Upload(ctx, in); !client.HasCode(err, "DIGEST_MISMATCH") {
		t.Fatalf("wrong digest: %v", err)
	}
	file := filepath.Join(t.TempDir(), "notes.txt")
	if err := os.WriteFile(file, []byte("release notes"), 0o644); err != nil {
		t.Fatal(err)
	}
	if a, created, err := ci.UploadFile(ctx, client.UploadInput{Product: "hr", Version: "1.0.0"}, file); err != nil || !created || a.Name != "notes.txt" {
		t.Fatalf("upload file: %+v %v %v", a, created, err)
	}
	if err := ci.DeleteArtifact(ctx, "hr", "1.0.0", "notes.txt"); err != nil {
		t.Fatal(err)
	}
	if err := ci.DeleteArtifact(ctx, "hr", "1.0.0", "notes.txt"); !client.IsNotFound(err) {
		t.Fatalf("delete again: %v", err)
	}

	rel = must(ci.Seal(ctx, "hr", "1.0.0", "built by CI")).get(t)
	if rel.State != client.StateCandidate || rel.ManifestDigest == "" {
		t.Fatalf("sealed %+v", rel)
	}
	key := must(admin.SigningKey(ctx)).get(t)
	mbytes := must(rm.Manifest(ctx, "hr", "1.0.0")).get(t)
	msig := must(rm.ManifestSignature(ctx, "hr", "1.0.0")).get(t)
	sig := must(signing.DecodeSignature([]byte(msig))).get(t)
	if err := signing.VerifyWithPEM(key, mbytes, sig); err != nil {
		t.Fatalf("manifest signature: %v", err)
	}
	if m := must(manifest.ParseReleaseManifest(mbytes)).get(t); len(m.Artifacts) != 1 || m.Artifacts[0].SHA256 != hexSum(data) {
		t.Fatalf("manifest %+v", m)
	}
	asigText := must(rm.ArtifactSignature(ctx, "hr", "1.0.0", "hr.tar.gz")).get(t)
	asig := must(signing.DecodeSignature([]byte(asigText))).get(t)
	sum := sha256.Sum256(data)
	if err := signing.VerifyDigestWithPEM(key, sum[:], asig); err != nil {
		t.Fatalf("artifact signature: %v", err)
	}
	if b := must(rm.ArtifactBundle(ctx, "hr", "1.0.0", "hr.tar.gz")).get(t); !bytes.Contains(b, []byte("mediaType")) {
		t.Fatalf("bundle %s", b)
	}
	if m := must(rm.Metrics(ctx)).get(t); !bytes.Contains(m, []byte("# HELP")) {
		t.Fatalf("metrics %.200s", m)
	}
	if keys := must(rm.SigningKeys(ctx)).get(t); len(keys) != 1 || !keys[0].Current {
		t.Fatalf("keys %+v", keys)
	}

	d := must(rm.Download(ctx, "hr", "1.0.0", "hr.tar.gz", 1000, "")).get(t)
	got := must(io.ReadAll(d.Body)).get(t)
	d.Body.Close()
	if d.Status != http.StatusPartialContent || d.Offset != 1000 || d.Size != int64(len(data)) || !bytes.Equal(got, data[1000:]) || d.SHA256 != hexSum(data) {
		t.Fatalf("ranged download: status %d offset %d size %d", d.Status, d.Offset, d.Size)
	}
	w := &bytesWriterAt{b: append([]byte{}, data[:5000]...)}
	if n := must(rm.DownloadTo(ctx, "hr", "1.0.0", "hr.tar.gz", w, 5000, nil)).get(t); n != int64(len(data)) || !bytes.Equal(w.b, data) {
		t.Fatalf("DownloadTo from 5000: n=%d", n)
	}
	if h := must(rm.HeadArtifact(ctx, "hr", "1.0.0", "hr.tar.gz")).get(t); h.Size != int64(len(data)) {
		t.Fatalf("head %+v", h)
	}

	if _, err := ci.Approve(ctx, "hr", "1.0.0", ""); err == nil {
		t.Fatal("a publisher approved")
	}
	rel = must(rm.Approve(ctx, "hr", "1.0.0", "ok")).get(t)
	if rel.State != client.StateApproved {
		t.Fatalf("approved %+v", rel)
	}
	if _, err := rm.Promote(ctx, "hr", "1.0.0", client.PromoteInput{}); !client.HasCode(err, "CHANGE_ID_REQUIRED") {
		t.Fatalf("promote without change: %v", err)
	}
	rel = must(rm.Promote(ctx, "hr", "1.0.0", client.PromoteInput{ChangeID: "CHG-1"})).get(t)
	if rel.State != client.StateReleased {
		t.Fatalf("promoted %+v", rel)
	}
	res := must(rm.Resolve(ctx, "hr", client.ResolveQuery{Constraint: "^1", OS: "linux", Arch: "amd64"})).get(t)
	if res.Release.Version != "1.0.0" || len(res.Artifacts) != 1 || res.Artifacts[0].DownloadURL == "" {
		t.Fatalf("resolve %+v", res)
	}
	if _, err := rm.Resolve(ctx, "hr", client.ResolveQuery{Constraint: "^2"}); !client.HasCode(err, "NO_MATCH") || !client.IsNotFound(err) {
		t.Fatalf("resolve ^2: %v", err)
	}
	page := must(rm.Releases(ctx, "hr", client.ReleaseFilter{State: client.StateReleased})).get(t)
	if len(page.Releases) != 1 || page.Releases[0].Version != "1.0.0" {
		t.Fatalf("releases %+v", page)
	}
	rel = must(rm.Withdraw(ctx, "hr", "1.0.0", client.WithdrawInput{Reason: "broken", ChangeID: "CHG-2"})).get(t)
	if rel.State != client.StateWithdrawn || rel.Withdrawn == nil || rel.Withdrawn.Reason != "broken" {
		t.Fatalf("withdrawn %+v", rel)
	}
	if d := must(rm.HeadArtifact(ctx, "hr", "1.0.0", "hr.tar.gz")).get(t); d.Warning == "" {
		t.Fatal("no warning on a withdrawn download")
	}
	if all := must(rm.AllReleases(ctx, "hr", client.ReleaseFilter{}, 0)).get(t); len(all) != 1 {
		t.Fatalf("all releases %+v", all)
	}

	if err := admin.RevokeToken(ctx, ciTok.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := ci.Release(ctx, "hr", "1.0.0"); !errors.As(err, &apiErr) || apiErr.Status != http.StatusUnauthorized {
		t.Fatalf("revoked token: %v", err)
	}
	if _, err := rm.Release(ctx, "hr", "9.9.9"); !errors.As(err, &apiErr) || apiErr.Code != "RELEASE_NOT_FOUND" || !client.IsNotFound(err) {
		t.Fatalf("missing release: %v", err)
	}
}

func mustUpload(t *testing.T, c *client.Client, in client.UploadInput) (*client.Artifact, bool) {
	t.Helper()
	a, created, err := c.Upload(context.Background(), in)
	if err != nil {
		t.Fatal(err)
	}
	return a, created
}
