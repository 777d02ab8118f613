package api_test

import (
	"fmt"
	"net/url"
	"strings"
	"testing"

	"github.com/reliquary/reliquary/api"
	"github.com/reliquary/reliquary/internal/testenv"
)

// With large records, a page of releases or events holds at most 4 MiB,
// whatever its limit, and its cursor leads through every record exactly
// once.
func TestPagesBoundedInBytes(t *testing.T) {
	srv := testenv.StartServer(t, testenv.ServerOptions{})
	admin := newClient(t, srv, srv.AdminToken)
	admin.json("POST", "/products", map[string]any{"name": "big"}).must(t, 201)
	notes := strings.Repeat("n", 60<<10)
	const n = 100 // 6 MB of releases, 12 MB of events
	for i := range n {
		admin.json("POST", "/products/big/releases", map[string]any{"version": fmt.Sprintf("1.0.%d", i), "notes": notes}).must(t, 201)
	}

	seen := map[string]bool{}
	pages := 0
	for cursor := ""; ; {
		q := "/products/big/releases?limit=1000"
		if cursor != "" {
			q += "&cursor=" + url.QueryEscape(cursor)
		}
		r := admin.do("GET", q, nil).must(t, 200)
		if len(r.body) > api.MaxPageBytes+64<<10 {
			t.Errorf("a page of releases is %d bytes", len(r.body))
		}
		var page struct {
			Releases   []struct{ Version string }
			NextCursor string `json:"next_cursor"`
		}
		r.decode(t, &page)
		pages++
		for _, rel := range page.Releases {
			if seen[rel.Version] {
				t.Errorf("release %s on two pages", rel.Version)
			}
			seen[rel.Version] = true
		}
		if page.NextCursor == "" {
			break
		}
		cursor = page.NextCursor
	}
	if len(seen) != n || pages < 2 {
		t.Errorf("%d releases on %d pages, want %d on 2 or more", len(seen), pages, n)
	}

	for _, path := range []string{"/events", "/audit"} {
		seq := map[uint64]bool{}
		pages = 0
		for after := uint64(0); ; {
			r := admin.do("GET", fmt.Sprintf("%s?limit=1000&after=%d", path, after), nil).must(t, 200)
			if len(r.body) > api.MaxPageBytes+256<<10 {
				t.Errorf("a page of %s is %d bytes", path, len(r.body))
			}
			var page eventPage
			r.decode(t, &page)
			if len(page.Events) == 0 {
				break
			}
			pages++
			for _, e := range page.Events {
				if seq[e.Seq] || e.Seq <= after {
					t.Errorf("%s: event %d twice or out of order", path, e.Seq)
				}
				seq[e.Seq] = true
			}
			after = page.NextAfter
		}
		if len(seq) < n+2 || pages < 2 {
			t.Errorf("%s: %d events on %d pages", path, len(seq), pages)
		}
	}
}
