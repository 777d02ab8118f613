package api_test

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/reliquary/reliquary/internal/testenv"
)

// rawRequest opens a connection and sends a request's head and the first
// bytes of its body, leaving the rest unsent.
func rawRequest(t testing.TB, base, method, path, token string, contentLength int64, first string) net.Conn {
	t.Helper()
	u, err := url.Parse(base)
	if err != nil {
		t.Fatal(err)
	}
	conn, err := net.DialTimeout("tcp", u.Host, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	head := fmt.Sprintf("%s %s HTTP/1.1\r\nHost: %s\r\nContent-Type: application/octet-stream\r\nContent-Length: %d\r\n", method, path, u.Host, contentLength)
	if token != "" {
		head += "Authorization: Bearer " + token + "\r\n"
	}
	if _, err := io.WriteString(conn, head+"\r\n"+first); err != nil {
		t.Fatal(err)
	}
	return conn
}

// readAnswer reads one response from a raw connection within d.
func readAnswer(conn net.Conn, d time.Duration) (*http.Response, string, error) {
	_ = conn.SetReadDeadline(time.Now().Add(d))
	br := bufio.NewReader(conn)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		return nil, "", err
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		return resp, string(body), err
	}
	// Then the server closes the connection: EOF, not a timeout.
	_, err = br.ReadByte()
	if err == io.EOF {
		err = nil
	} else if err == nil {
		err = fmt.Errorf("the connection stays open")
	}
	return resp, string(body), err
}

// A request refused for its token (401), its role (403) or its size (413)
// is answered at once, without waiting for (or reading) its body, and the
// connection is closed.
func TestRefusedWithoutReadingBody(t *testing.T) {
	srv := testenv.StartServer(t, testenv.ServerOptions{})
	admin := newClient(t, srv, srv.AdminToken)
	admin.json("POST", "/products", map[string]any{"name": "app", "policy": map[string]any{"max_artifact_bytes": 1 << 20}}).must(t, 201)
	admin.json("POST", "/products/app/releases", map[string]any{"version": "1.0.0"}).must(t, 201)
	var tok struct{ Secret string }
	admin.json("POST", "/tokens", map[string]any{"name": "rd", "role": "reader"}).must(t, 201).decode(t, &tok)
	path := "/api/v1/products/app/releases/1.0.0/artifacts/x.bin"
	for _, c := range []struct {
		label, token string
		length       int64
		status       int
	}{
		{"no token, short body", "", 100, 401},
		{"no token, 10 GiB", "", 10 << 30, 401},
		{"bad token", "rlq_not-a-token", 100, 401},
		{"reader uploads", tok.Secret, 100, 403},
		{"over max_artifact_bytes", srv.AdminToken, 10 << 30, 413},
	} {
		conn := rawRequest(t, srv.URL, "PUT", path, c.token, c.length, "x")
		start := time.Now()
		resp, body, err := readAnswer(conn, 3*time.Second)
		conn.Close()
		switch {
		case resp == nil:
			t.Errorf("%s: no answer while the body is unsent: %v", c.label, err)
		case resp.StatusCode != c.status || err != nil:
			t.Errorf("%s: %d %s (%v), want %d and the connection closed", c.label, resp.StatusCode, body, err, c.status)
		case !resp.Close:
			t.Errorf("%s: no Connection: close", c.label)
		}
		if d := time.Since(start); d > 2*time.Second {
			t.Errorf("%s: answered after %s", c.label, d)
		}
	}
}

// A body that stalls for --body-idle-timeout is cut off (408); a slow body
// that keeps sending is not (the deadline is per read, not a total).
func TestStalledBodyCutOff(t *testing.T) { stores(t, testStalledBodyCutOff) }

func testStalledBodyCutOff(t *testing.T, store string) {
	const idle = 600 * time.Millisecond
	srv := testenv.StartServer(t, testenv.ServerOptions{Store: store, BodyIdleTimeout: idle})
	admin := newClient(t, srv, srv.AdminToken)
	admin.json("POST", "/products", map[string]any{"name": "app"}).must(t, 201)
	admin.json("POST", "/products/app/releases", map[string]any{"version": "1.0.0"}).must(t, 201)

	for _, c := range []struct{ label, method, path string }{
		{"upload", "PUT", "/api/v1/products/app/releases/1.0.0/artifacts/stall.bin"},
		{"json", "POST", "/api/v1/products"},
	} {
		conn := rawRequest(t, srv.URL, c.method, c.path, srv.AdminToken, 100, "{")
		start := time.Now()
		resp, body, err := readAnswer(conn, 10*time.Second)
		conn.Close()
		d := time.Since(start)
		if resp == nil {
			if err == nil || strings.Contains(err.Error(), "timeout") {
				t.Errorf("%s: the stalled body was never cut off: %v", c.label, err)
			}
		} else if resp.StatusCode != http.StatusRequestTimeout || !strings.Contains(body, "REQUEST_TIMEOUT") {
			t.Errorf("%s: %d %s, want 408 REQUEST_TIMEOUT", c.label, resp.StatusCode, body)
		}
		if d < idle*8/10 || d > idle+3*time.Second {
			t.Errorf("%s: cut off after %s, want about %s", c.label, d, idle)
		}
	}
	if r := admin.do("GET", "/products/app/releases/1.0.0", nil).must(t, 200); strings.Contains(string(r.body), "stall.bin") {
		t.Errorf("the stalled upload left an artifact: %s", r.body)
	}

	// 24 bytes, one every idle/3: four idle timeouts in total, never idle.
	const size = 24
	conn := rawRequest(t, srv.URL, "PUT", "/api/v1/products/app/releases/1.0.0/artifacts/slow.bin", srv.AdminToken, size, "")
	defer conn.Close()
	for range size {
		time.Sleep(idle / 3)
		if _, err := conn.Write([]byte("s")); err != nil {
			t.Fatalf("slow body cut off: %v", err)
		}
	}
	_ = conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil || resp.StatusCode != 201 {
		t.Fatalf("slow but live upload: %v %v", resp, err)
	}
}

// 1,000 connections trickling bodies (half refused for their token, half
// inside a handler reading JSON) do not delay a legitimate request by more
// than 100 ms.
func TestTricklingBodiesDoNotDelayOthers(t *testing.T) {
	if testing.Short() {
		t.Skip("opens 1,000 connections")
	}
	srv := testenv.StartServer(t, testenv.ServerOptions{})
	admin := newClient(t, srv, srv.AdminToken)
	admin.json("POST", "/products", map[string]any{"name": "app"}).must(t, 201)
	latency := func() time.Duration {
		var ds []time.Duration
		for range 21 {
			start := time.Now()
			admin.do("GET", "/products", nil).must(t, 200)
			ds = append(ds, time.Since(start))
		}
		slices.Sort(ds)
		return ds[len(ds)/2]
	}
	before := latency()

	const conns = 1000
	var mu sync.Mutex
	var open []net.Conn
	var wg sync.WaitGroup
	for i := range conns {
		wg.Go(func() {
			var c net.Conn
			if i%2 == 0 {
				c = rawRequest(t, srv.URL, "PUT", "/api/v1/products/app/releases/1.0.0/artifacts/x.bin", "", 100, "x")
			} else {
				c = rawRequest(t, srv.URL, "POST", "/api/v1/products", srv.AdminToken, 100, "{")
			}
			mu.Lock()
			open = append(open, c)
			mu.Unlock()
		})
		if i%50 == 49 {
			wg.Wait()
		}
	}
	wg.Wait()
	defer func() {
		for _, c := range open {
			c.Close()
		}
	}()
	stop := make(chan struct{})
	trickled := make(chan struct{})
	go func() { // one more byte on every connection, over and over
		defer close(trickled)
		for {
			for _, c := range open {
				select {
				case <-stop:
					return
				default:
				}
				_ = c.SetWriteDeadline(time.Now().Add(10 * time.Millisecond))
				_, _ = c.Write([]byte(" "))
			}
			time.Sleep(200 * time.Millisecond)
		}
	}()
	during := latency()
	close(stop)
	<-trickled
	t.Logf("GET /products median latency: %s alone, %s with %d trickling connections", before, during, conns)
	if during > before+100*time.Millisecond {
		t.Errorf("trickling bodies delay a legitimate request: %s, was %s", during, before)
	}
}
