package client_test

import (
	"bytes"
	"context"
	"testing"
	"time"

	"github.com/reliquary/reliquary/api/client"
	"github.com/reliquary/reliquary/internal/signing"
	"github.com/reliquary/reliquary/internal/testenv"
)

// release takes a version of a product from nothing to released.
func release(t *testing.T, ci, rm1, rm2 *client.Client, product, version string) {
	t.Helper()
	ctx := context.Background()
	must(ci.CreateRelease(ctx, product, client.ReleaseInput{Version: version, ChangeID: "CHG-1", CIIDs: []string{"CI-" + product}})).get(t)
	data := []byte(product + version)
	mustUpload(t, ci, client.UploadInput{Product: product, Version: version, Name: "a.bin", Body: bytes.NewReader(data), Size: int64(len(data))})
	must(ci.Seal(ctx, product, version, "")).get(t)
	must(rm1.Approve(ctx, product, version, "")).get(t)
	must(rm2.Promote(ctx, product, version, client.PromoteInput{ChangeID: "CHG-1"})).get(t)
}

// TestCMDBAndJournal covers baselines, the CMDB search, deployments,
// environments, the event feed, the audit log and webhooks.
func TestCMDBAndJournal(t *testing.T) {
	ctx := context.Background()
	srv := testenv.StartServer(t, testenv.ServerOptions{})
	admin := newClient(t, srv, srv.AdminToken)
	tok := func(name, role string) *client.Client {
		return newClient(t, srv, must(admin.CreateToken(ctx, client.TokenInput{Name: name, Role: role})).get(t).Secret)
	}
	ci, alice, bob, deployer := tok("ci", client.RolePublisher), tok("alice", client.RoleReleaseManager), tok("bob", client.RoleReleaseManager), tok("robot", client.RoleDeployer)
	for _, p := range []string{"hr", "crm"} {
		must(admin.CreateProduct(ctx, client.ProductInput{Name: p})).get(t)
		release(t, ci, alice, bob, p, "1.0.0")
	}
	b1 := must(alice.CreateBaseline(ctx, client.BaselineInput{Name: "prod-1", From: "current", ChangeID: "CHG-9"})).get(t)
	if len(b1.Releases) != 2 || b1.ManifestDigest == "" {
		t.Fatalf("baseline %+v", b1)
	}
	release(t, ci, alice, bob, "hr", "1.1.0")
	must(alice.CreateBaseline(ctx, client.BaselineInput{Name: "prod-2", Releases: []client.ReleaseRef{{Product: "hr", Version: "1.1.0"}}})).get(t)
	if bs := must(bob.Baselines(ctx)).get(t); len(bs) != 2 {
		t.Fatalf("baselines %+v", bs)
	}
	d := must(bob.DiffBaselines(ctx, "prod-1", "prod-2")).get(t)
	changes := map[string]string{}
	for _, c := range d.Changes {
		changes[c.Product] = c.Change
	}
	if changes["hr"] != "upgraded" || changes["crm"] != "removed" {
		t.Fatalf("diff %+v", d)
	}
	body := must(bob.BaselineManifest(ctx, "prod-1")).get(t)
	sig := must(signing.DecodeSignature([]byte(must(bob.BaselineSignature(ctx, "prod-1")).get(t)))).get(t)
	if err := signing.VerifyWithPEM(srv.Signer.PublicKeyPEM(), body, sig); err != nil {
		t.Fatalf("baseline signature: %v", err)
	}
	must(bob.Withdraw(ctx, "hr", "1.0.0", client.WithdrawInput{Reason: "bad", ChangeID: "CHG-2"})).get(t)
	if b := must(bob.Baseline(ctx, "prod-1")).get(t); !memberWithdrawn(b, "hr") {
		t.Fatalf("baseline member not flagged: %+v", b)
	}

	if page := must(bob.SearchReleases(ctx, client.ReleaseSearch{CIID: "CI-hr"})).get(t); len(page.Releases) != 2 {
		t.Fatalf("search %+v", page)
	}
	dep := must(deployer.RecordDeployment(ctx, client.DeploymentInput{Product: "hr", Version: "1.1.0", Environment: "production",
		Target: "web-1", Status: client.DeploySucceeded, ChangeID: "CHG-3"})).get(t)
	if dep.ID == 0 || dep.RecordedBy != "robot" {
		t.Fatalf("deployment %+v", dep)
	}
	if page := must(bob.Deployments(ctx, client.DeploymentFilter{Product: "hr", Version: "1.1.0"})).get(t); len(page.Deployments) != 1 {
		t.Fatalf("deployments %+v", page)
	}
	if env := must(bob.Environment(ctx, "production")).get(t); len(env.Installs) != 1 || env.Installs[0].Version != "1.1.0" {
		t.Fatalf("environment %+v", env)
	}
	if _, err := bob.Environment(ctx, "staging"); !client.IsNotFound(err) {
		t.Fatalf("unknown environment: %v", err)
	}

	page := must(bob.Events(ctx, client.EventQuery{Types: []string{"release.*"}, Product: "hr"})).get(t)
	if len(page.Events) == 0 || page.NextAfter == 0 {
		t.Fatalf("events %+v", page)
	}
	start := time.Now()
	empty := must(bob.Events(ctx, client.EventQuery{After: 1 << 40, Wait: time.Second})).get(t)
	if len(empty.Events) != 0 || time.Since(start) < 900*time.Millisecond {
		t.Fatalf("long poll answered %+v after %s", empty, time.Since(start))
	}
	if a := must(admin.Audit(ctx, 0, 5)).get(t); len(a.Events) != 5 || a.Events[0].Hash == "" {
		t.Fatalf("audit %+v", a)
	}
	if rep := must(admin.AuditVerify(ctx)).get(t); !rep.OK || rep.Events == 0 {
		t.Fatalf("audit verify %+v", rep)
	}
	hook := must(admin.CreateWebhook(ctx, client.WebhookInput{URL: "http://127.0.0.1:1/hook", Types: []string{"release.*"}})).get(t)
	if hook.ID == "" {
		t.Fatalf("webhook %+v", hook)
	}
	if hs := must(admin.Webhooks(ctx)).get(t); len(hs) != 1 {
		t.Fatalf("webhooks %+v", hs)
	}
	must(admin.WebhookDeliveries(ctx, hook.ID, 10)).get(t)
	if err := admin.DeleteWebhook(ctx, hook.ID); err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if n := must(admin.Backup(ctx, &buf)).get(t); n == 0 || int64(buf.Len()) != n {
		t.Fatalf("backup %d bytes", n)
	}
}

func memberWithdrawn(b *client.Baseline, product string) bool {
	for _, m := range b.Releases {
		if m.Product == product {
			return m.Withdrawn && m.State == client.StateWithdrawn
		}
	}
	return false
}
