package api_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/reliquary/reliquary/api"
	"github.com/reliquary/reliquary/internal/testenv"
)

// TestUploadLimitPerToken: one token streams at most
// api.DefaultMaxUploadsPerToken uploads at once; one more answers 429
// TOO_MANY_UPLOADS with Retry-After, another token is not affected, and a
// slot freed is usable again.
func TestUploadLimitPerToken(t *testing.T) {
	srv := testenv.StartServer(t, testenv.ServerOptions{})
	admin := newClient(t, srv, srv.AdminToken)
	admin.json("POST", "/products", map[string]any{"name": "app"}).must(t, 201)
	admin.json("POST", "/products/app/releases", map[string]any{"version": "1.0.0"}).must(t, 201)
	var tok struct{ Secret string }
	admin.json("POST", "/tokens", map[string]any{"name": "ci", "role": "publisher"}).must(t, 201).decode(t, &tok)
	ci := newClient(t, srv, tok.Secret)
	base := "/products/app/releases/1.0.0/artifacts/"

	const size = 256 << 10
	type slot struct {
		body *gatedReader
		resp response
		err  error
		done chan struct{}
	}
	var slots []*slot
	for i := range api.DefaultMaxUploadsPerToken {
		s := &slot{body: newGatedReader(int64(i), size, 1000), done: make(chan struct{})}
		slots = append(slots, s)
		go func() {
			defer close(s.done)
			s.resp, s.err = ci.rawPut(base+fmt.Sprintf("held-%d.bin", i), s.body, size)
		}()
	}
	for _, s := range slots {
		select {
		case <-s.body.reached:
		case <-time.After(20 * time.Second):
			t.Fatal("uploads did not start")
		}
	}
	// The server has all of them (the metric counts handlers running).
	deadline := time.Now().Add(20 * time.Second)
	for !strings.Contains(string(admin.do("GET", "/metrics", nil).body), "\nreliquary_uploads_in_flight 8\n") {
		if time.Now().After(deadline) {
			t.Fatal("the server never had the 8 uploads in flight")
		}
		time.Sleep(10 * time.Millisecond)
	}
	r, err := ci.rawPut(base+"one-more.bin", newGatedReader(99, size, size).r, size)
	if err != nil {
		t.Fatal(err)
	}
	if r.status != 429 || r.errCode() != "TOO_MANY_UPLOADS" || r.header.Get("Retry-After") == "" {
		t.Errorf("upload over the per-token limit: %d Retry-After=%q %s", r.status, r.header.Get("Retry-After"), r.body)
	}
	// Another token is not limited by ci's uploads.
	admin.put(base+"admin.bin", upload{size: size, seed: 5}).must(t, 201)

	// One slot frees: the refused upload goes through.
	close(slots[0].body.gate)
	<-slots[0].done
	if slots[0].err != nil || slots[0].resp.status != 201 {
		t.Fatalf("held upload: %v %d %s", slots[0].err, slots[0].resp.status, slots[0].resp.body)
	}
	ci.put(base+"one-more.bin", upload{size: size, seed: 99}).must(t, 201)
	for _, s := range slots[1:] {
		close(s.body.gate)
		<-s.done
		if s.err != nil || s.resp.status != 201 {
			t.Errorf("held upload: %v %d %s", s.err, s.resp.status, s.resp.body)
		}
	}
}
