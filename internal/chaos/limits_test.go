package chaos_test

import (
	"bufio"
	"errors"
	"io"
	"net"
	"net/http"
	"sync"
	"testing"
	"time"
)

// TestSlowLoris opens many connections that send their request headers one
// byte at a time. Other clients are served promptly meanwhile, and every
// slow connection is cut once the (hidden, shortened) --read-header-timeout
// has passed, although it never stops sending.
func TestSlowLoris(t *testing.T) {
	const timeout = 1500 * time.Millisecond
	srv := newServer(t, t.TempDir(), "--read-header-timeout", timeout.String())
	srv.start(nil)
	admin := newCaller(srv.url(), adminSecret, http.DefaultClient)
	admin.must(t, 201, "POST", "/products", map[string]any{"name": "app"})

	const slow = 300
	// Headers that never end: the last value grows one byte at a time.
	header := []byte("GET /api/v1/products HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + adminSecret + "\r\nX-Padding: ")
	type result struct {
		cut  time.Duration // when the server closed it
		sent int
		err  error
	}
	results := make([]result, slow)
	var wg sync.WaitGroup
	started := make(chan struct{})
	var ready sync.WaitGroup
	ready.Add(slow)
	for i := range slow {
		wg.Go(func() {
			conn, err := net.Dial("tcp", srv.addr)
			ready.Done()
			if err != nil {
				results[i].err = err
				return
			}
			defer conn.Close()
			<-started
			begin := time.Now()
			closed := make(chan struct{})
			go func() {
				// The server answers nothing and closes the connection.
				_, _ = io.Copy(io.Discard, conn)
				close(closed)
			}()
			tick := time.NewTicker(50 * time.Millisecond)
			defer tick.Stop()
			for n := 0; ; n++ {
				select {
				case <-closed:
					results[i].cut = time.Since(begin)
					return
				case <-tick.C:
				}
				b := byte('a')
				if n < len(header) {
					b = header[n]
				}
				if _, err := conn.Write([]byte{b}); err != nil {
					<-closed
					results[i].cut = time.Since(begin)
					return
				}
				results[i].sent++
				if time.Since(begin) > 4*timeout {
					results[i].err = errors.New("still open after 4 × ReadHeaderTimeout")
					return
				}
			}
		})
	}
	ready.Wait()
	close(started)

	// Meanwhile normal requests are answered at once.
	time.Sleep(300 * time.Millisecond)
	var worst time.Duration
	for range 20 {
		begin := time.Now()
		status, body, err := admin.call(t.Context(), "GET", "/products/app", nil)
		if err != nil || status != 200 {
			t.Fatalf("a normal request during the slow-loris attack: %d %s %v", status, body, err)
		}
		worst = max(worst, time.Since(begin))
		time.Sleep(20 * time.Millisecond)
	}
	if worst > 500*time.Millisecond {
		t.Errorf("a normal request took %s during the slow-loris attack", worst)
	}
	wg.Wait()
	var longest time.Duration
	for i, r := range results {
		if r.err != nil {
			t.Errorf("slow connection %d: %v", i, r.err)
			continue
		}
		longest = max(longest, r.cut)
		if r.cut < timeout-100*time.Millisecond {
			t.Errorf("slow connection %d cut after %s, before the %s timeout", i, r.cut, timeout)
		}
	}
	if longest > timeout+1500*time.Millisecond {
		t.Errorf("slow connections were cut only after %s (ReadHeaderTimeout %s)", longest, timeout)
	}
	t.Logf("%d slow-loris connections, each cut after at most %s (ReadHeaderTimeout %s); normal requests meanwhile answered within %s",
		slow, longest.Round(time.Millisecond), timeout, worst.Round(time.Millisecond))

	// The server is unharmed.
	status, _, err := admin.call(t.Context(), "GET", "/products/app", nil)
	if err != nil || status != 200 {
		t.Fatalf("after the attack: %d %v", status, err)
	}
	// And a request with more header than MaxHeaderBytes is refused.
	conn, err := net.Dial("tcp", srv.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	go func() {
		_, _ = conn.Write([]byte("GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: "))
		big := make([]byte, 128<<10)
		for i := range big {
			big[i] = 'a'
		}
		_, _ = conn.Write(big)
		_, _ = conn.Write([]byte("\r\n\r\n"))
	}()
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("oversized header: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusRequestHeaderFieldsTooLarge {
		t.Errorf("128 KiB of header: %d, want 431", resp.StatusCode)
	}
}
