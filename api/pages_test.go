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
		admin.json("POST", "/products/big/releases", map[string]any{"version": fmt.Sprintf("1.0.%d", i), "notes": notes, "change_id": "CHG-BIG"}).must(t, 201)
	}

	for _, list := range []string{"/products/big/releases?limit=1000", "/releases?change_id=CHG-BIG&limit=1000"} {
		walkReleasePages(t, admin, list, n)
	}

	for _, path := range []string{"/events", "/audit"} {
		seq := map[uint64]bool{}
		pages := 0
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

// walkReleasePages follows next_cursor through a release listing and
// checks every page's size and that each of the n releases comes once.
func walkReleasePages(t *testing.T, c *client, list string, n int) {
	t.Helper()
	seen := map[string]bool{}
	pages := 0
	for cursor := ""; ; {
		q := list
		if cursor != "" {
			q += "&cursor=" + url.QueryEscape(cursor)
		}
		r := c.do("GET", q, nil).must(t, 200)
		if len(r.body) > api.MaxPageBytes+64<<10 {
			t.Errorf("%s: a page is %d bytes", list, len(r.body))
		}
		var page struct {
			Releases []struct {
				Product, Version string
			}
			NextCursor string `json:"next_cursor"`
		}
		r.decode(t, &page)
		pages++
		for _, rel := range page.Releases {
			if seen[rel.Version] {
				t.Errorf("%s: release %s on two pages", list, rel.Version)
			}
			seen[rel.Version] = true
		}
		if page.NextCursor == "" {
			break
		}
		cursor = page.NextCursor
	}
	if len(seen) != n || pages < 2 {
		t.Errorf("%s: %d releases on %d pages, want %d on 2 or more", list, len(seen), pages, n)
	}
}
