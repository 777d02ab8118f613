package api_test

import (
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/reliquary/reliquary/internal/testenv"
)

// A backup downloaded at a trickle does not hold the index: writes that
// grow the bbolt file (and so its mmap), GET /products and /readyz all
// answer promptly meanwhile, and the backup still completes.
func TestSlowBackupDoesNotFreezeIndex(t *testing.T) {
	srv := testenv.StartServer(t, testenv.ServerOptions{})
	admin := newClient(t, srv, srv.AdminToken)
	admin.json("POST", "/products", map[string]any{"name": "big"}).must(t, 201)
	notes := strings.Repeat("n", 60<<10)
	n := 0
	var fi os.FileInfo
	grow := func(target int64) {
		t.Helper()
		for {
			var err error
			fi, err = os.Stat(filepath.Join(srv.DataDir, "index.db"))
			if err != nil {
				t.Fatal(err)
			}
			if fi.Size() >= target {
				return
			}
			n++
			answered := make(chan int, 1)
			body := map[string]any{"version": fmt.Sprintf("1.0.%d", n), "notes": notes}
			go func() { answered <- admin.json("POST", "/products/big/releases", body).status }()
			select {
			case st := <-answered:
				if st != 201 {
					t.Fatalf("create release: %d", st)
				}
			case <-time.After(5 * time.Second):
				t.Fatalf("a write (%d MB into the index) did not answer in 5s while a backup downloads", fi.Size()>>20)
			}
		}
	}
	grow(10 << 20) // the file grows by doubling: 16 MiB

	// The backup, on a connection with a tiny receive buffer, read at
	// about 10 KB/s.
	u, _ := url.Parse(srv.URL)
	d := net.Dialer{Control: func(_, _ string, c syscall.RawConn) error {
		return c.Control(func(fd uintptr) { _ = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 4096) })
	}}
	conn, err := d.Dial("tcp", u.Host)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	fmt.Fprintf(conn, "GET /api/v1/admin/backup HTTP/1.1\r\nHost: %s\r\nAuthorization: Bearer %s\r\nConnection: close\r\n\r\n", u.Host, srv.AdminToken)
	stop := make(chan struct{})
	done := make(chan int64)
	go func() {
		var total int64
		buf := make([]byte, 1024)
		for {
			select {
			case <-stop:
				_ = conn.SetReadDeadline(time.Now().Add(30 * time.Second))
				n, _ := io.Copy(io.Discard, conn)
				done <- total + n
				return
			case <-time.After(100 * time.Millisecond):
			}
			n, err := conn.Read(buf)
			total += int64(n)
			if err != nil {
				done <- total
				return
			}
		}
	}()
	time.Sleep(500 * time.Millisecond) // the server is now blocked writing to us

	// Writes that double the file: bbolt must remap it.
	grow(2*fi.Size() + 1<<20)
	for _, path := range []string{"/products", "/readyz"} {
		start := time.Now()
		admin.do("GET", path, nil).must(t, 200)
		if d := time.Since(start); d > 3*time.Second { // a busy machine, not a held index (that hangs for good)
			t.Errorf("GET %s took %s while a backup downloads", path, d)
		}
	}
	close(stop)
	got := <-done
	if got < 8<<20 {
		t.Errorf("the backup delivered %d bytes, the index holds more than 10 MB", got)
	}
}
