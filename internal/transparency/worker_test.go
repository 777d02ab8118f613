package transparency_test

import (
	"bytes"
	"context"
	"testing"
	"time"

	"github.com/reliquary/reliquary/api/client"
	"github.com/reliquary/reliquary/internal/testenv"
)

// With the workers running, a release statement is made when its event
// commits: the index holds it before anyone asks.
func TestStatementWorkerMakesStatementsEagerly(t *testing.T) {
	srv := testenv.StartServer(t, testenv.ServerOptions{Workers: true})
	ctx := context.Background()
	admin := client.New(srv.URL, srv.AdminToken)
	if _, err := admin.CreateProduct(ctx, client.ProductInput{Name: "hr"}); err != nil {
		t.Fatal(err)
	}
	tok, err := admin.CreateToken(ctx, client.TokenInput{Name: "rm", Role: client.RoleReleaseManager})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := admin.CreateRelease(ctx, "hr", client.ReleaseInput{Version: "1.0.0"}); err != nil {
		t.Fatal(err)
	}
	data := []byte("x")
	if _, _, err := admin.Upload(ctx, client.UploadInput{Product: "hr", Version: "1.0.0", Name: "a.bin", Body: bytes.NewReader(data), Size: 1}); err != nil {
		t.Fatal(err)
	}
	if _, err := admin.Seal(ctx, "hr", "1.0.0", ""); err != nil {
		t.Fatal(err)
	}
	if _, err := client.New(srv.URL, tok.Secret).Approve(ctx, "hr", "1.0.0", ""); err != nil {
		t.Fatal(err)
	}
	want, err := srv.Index.StatementSeq("hr", "1.0.0")
	if err != nil || want == 0 {
		t.Fatalf("statement seq %d: %v", want, err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		seq, env, err := srv.Index.CachedStatement("hr", "1.0.0")
		if err == nil && seq == want && len(env) > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no statement made for seq %d (cache at %d)", want, seq)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
