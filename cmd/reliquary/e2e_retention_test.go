package main

import (
	"bytes"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/reliquary/reliquary/api/client"
	"github.com/reliquary/reliquary/internal/testenv"
)

// TestRetentionCommands: an admin sets a retention policy and previews a
// run; a publisher deletes a draft; a released release cannot be deleted.
func TestRetentionCommands(t *testing.T) {
	var back atomic.Int64 // how far the server's clock is set back
	back.Store(int64(30 * 24 * time.Hour))
	srv := testenv.StartServer(t, testenv.ServerOptions{Now: func() time.Time { return time.Now().Add(-time.Duration(back.Load())) }})
	tm := newTeam(t, srv, "hr")
	tm.release(t, srv, "hr", "1.0.0", "a.tar.gz", []byte("one"))
	ci := client.New(srv.URL, tm.ci)
	for _, v := range []string{"1.1.0", "1.2.0"} {
		if _, err := ci.CreateRelease(t.Context(), "hr", client.ReleaseInput{Version: v}); err != nil {
			t.Fatal(err)
		}
		if _, _, err := ci.Upload(t.Context(), client.UploadInput{Product: "hr", Version: v, Name: "a.tar.gz", Body: bytes.NewReader([]byte("draft")), Size: 5}); err != nil {
			t.Fatal(err)
		}
	}
	back.Store(0)

	admin := newMachine(t, srv.URL, srv.AdminToken)
	if r := admin.ok("policy", "set", "hr", "--retention-drafts-days", "14"); !strings.Contains(r.stdout, "deleted after 14 days untouched") {
		t.Fatalf("policy set: %s", r)
	}
	// Changing another setting keeps the retention rule.
	if r := admin.ok("policy", "set", "hr", "--required-approvals", "1"); !strings.Contains(r.stdout, "deleted after 14 days untouched") {
		t.Fatalf("policy set kept retention? %s", r)
	}
	r := admin.ok("retention", "run", "--dry-run")
	for _, want := range []string{"hr@1.1.0", "hr@1.2.0", "WOULD DELETE", "hr@1.0.0", "kept (released)", "2 deleted, 1 kept"} {
		if !strings.Contains(r.stdout, want) {
			t.Fatalf("retention run --dry-run lacks %q: %s", want, r)
		}
	}
	pub := newMachine(t, srv.URL, tm.ci)
	if r := pub.ok("release", "delete", "hr@1.2.0"); !strings.Contains(r.stdout, "hr@1.2.0 (draft)") {
		t.Fatalf("release delete: %s", r)
	}
	pub.expect(4, "release", "delete", "hr@1.2.0")
	if r := admin.expect(1, "release", "delete", "hr@1.0.0"); !strings.Contains(r.stderr, "RELEASE_PROTECTED") {
		t.Fatalf("deleting a released release: %s", r)
	}
	var rep client.RetentionReport
	admin.jsonOut(&rep, "retention", "run")
	if len(rep.Deleted) != 1 || rep.Deleted[0].Version != "1.1.0" || rep.DryRun {
		t.Fatalf("retention run: %+v", rep)
	}
	admin.expect(4, "show", "hr@1.1.0")
}
