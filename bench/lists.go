package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// lists measures 8 (DESIGN §6 and §8 "Bounded memory"): the server's peak
// RSS (VmHWM) while 16 clients walk a feed or a listing of large records
// with limit=1000, page after page. A release with 60 KiB of notes makes a
// ~60 KiB record and a ~120 KiB release.created event (the record and its
// index change), so one unbounded page of 1,000 would be 60–120 MB.
func (b *bench) lists(ctx context.Context) error {
	const product = "lists"
	n := envInt("BENCH_LIST_RELEASES", 1000)
	callers := envInt("BENCH_LIST_CLIENTS", 16)
	if err := api(ctx, http.MethodPost, b.relURL+"/api/v1/products", map[string]any{"name": product}, http.StatusCreated, nil); err != nil {
		return err
	}
	notes := strings.Repeat("release notes. ", 60<<10/15)
	var next atomic.Int64
	var wg sync.WaitGroup
	errs := make([]error, 4)
	start := time.Now()
	for w := range 4 {
		wg.Go(func() {
			for k := int(next.Add(1)) - 1; k < n; k = int(next.Add(1)) - 1 {
				v := fmt.Sprintf("1.%d.%d", k/1000, k%1000)
				if err := api(ctx, http.MethodPost, b.relURL+"/api/v1/products/"+product+"/releases",
					map[string]any{"version": v, "notes": notes}, http.StatusCreated, nil); err != nil {
					errs[w] = err
					return
				}
			}
		})
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	b.logf("lists: %d releases with %d KiB of notes each in %s", n, len(notes)>>10, time.Since(start).Round(time.Millisecond))
	b.listEvents = n
	for run := range b.cfg.runs {
		for _, ep := range []struct{ key, name string }{{"lists/events", "/events"}, {"lists/releases", "/releases"}} {
			rss := sampleRSS(b.rel.pid())
			t0 := time.Now()
			var total atomic.Int64
			errs := make([]error, callers)
			var wg sync.WaitGroup
			for c := range callers {
				wg.Go(func() {
					var n int64
					var err error
					if ep.name == "/events" {
						n, err = walkEvents(ctx, b.relURL)
					} else {
						n, err = walkReleases(ctx, b.relURL, product)
					}
					total.Add(n)
					errs[c] = err
				})
			}
			wg.Wait()
			peak := rss.peak()
			for _, err := range errs {
				if err != nil {
					return err
				}
			}
			b.add(ep.key+"/rss", float64(peak)/(1<<20))
			b.logf("lists run %d: %d × %s walks, %.0f MiB served in %s, server peak RSS %.0f MiB", run, callers, ep.name,
				float64(total.Load())/(1<<20), time.Since(t0).Round(time.Millisecond), float64(peak)/(1<<20))
		}
	}
	return nil
}

// getJSON GETs one page, counts its bytes and decodes it.
func getJSON(ctx context.Context, u string, out any) (int64, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return 0, err
	}
	req.Header.Set("Authorization", "Bearer "+adminToken)
	resp, err := hc.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		return 0, fmt.Errorf("GET %s: %d: %s", u, resp.StatusCode, strings.TrimSpace(string(b)))
	}
	cr := &countingReader{r: resp.Body}
	err = json.NewDecoder(cr).Decode(out)
	return cr.n, err
}

type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

// walkEvents reads the whole feed with limit=1000, page after page.
func walkEvents(ctx context.Context, base string) (int64, error) {
	var total int64
	for after := uint64(0); ; {
		var page struct {
			Events []struct {
				Seq uint64 `json:"seq"`
			} `json:"events"`
			NextAfter uint64 `json:"next_after"`
		}
		n, err := getJSON(ctx, fmt.Sprintf("%s/api/v1/events?limit=1000&after=%d", base, after), &page)
		total += n
		if err != nil || len(page.Events) == 0 || page.NextAfter == after {
			return total, err
		}
		after = page.NextAfter
	}
}

// walkReleases reads the whole listing with limit=1000, following cursors.
func walkReleases(ctx context.Context, base, product string) (int64, error) {
	var total int64
	for cursor := ""; ; {
		u := base + "/api/v1/products/" + product + "/releases?limit=1000"
		if cursor != "" {
			u += "&cursor=" + url.QueryEscape(cursor)
		}
		var page struct {
			NextCursor string `json:"next_cursor"`
		}
		n, err := getJSON(ctx, u, &page)
		total += n
		if err != nil || page.NextCursor == "" {
			return total, err
		}
		cursor = page.NextCursor
	}
}
