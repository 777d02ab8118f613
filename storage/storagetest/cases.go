package storagetest

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/reliquary/reliquary/storage"
)

func sleep() { time.Sleep(10 * time.Millisecond) }

// cancelAfter delivers bytes from r and cancels ctx once n have been read.
type cancelAfter struct {
	r      io.Reader
	n      int64
	cancel context.CancelFunc
}

func (c *cancelAfter) Read(p []byte) (int, error) {
	if c.n <= 0 {
		c.cancel()
		time.Sleep(20 * time.Millisecond) // let the cancellation reach the request
		return 0, context.Canceled
	}
	if int64(len(p)) > c.n {
		p = p[:c.n]
	}
	n, err := c.r.Read(p)
	c.n -= int64(n)
	return n, err
}

func testCancelledPut(t *testing.T, s storage.BlobStore, o Options) {
	for _, size := range []int64{200_000, o.LargeSize * 2} {
		for _, known := range []bool{true, false} {
			key := fmt.Sprintf("suite/cancel/%d-%v", size, known)
			ctx, cancel := context.WithCancel(t.Context())
			r := &cancelAfter{r: NewStream(9, size), n: size * 3 / 4, cancel: cancel}
			declared := size
			if !known {
				declared = -1
			}
			_, err := s.Put(ctx, key, r, declared, storage.PutOptions{})
			cancel()
			if err == nil {
				t.Errorf("Put of %s cancelled at 3/4 succeeded", key)
				del(t, s, key)
				continue
			}
			mustNotExist(t, s, key)
		}
	}
}

type failingReader struct{ n int }

func (f *failingReader) Read(p []byte) (int, error) {
	if f.n <= 0 {
		return 0, errors.New("client went away")
	}
	if len(p) > f.n {
		p = p[:f.n]
	}
	for i := range p {
		p[i] = 'x'
	}
	f.n -= len(p)
	return len(p), nil
}

func testFailingReader(t *testing.T, s storage.BlobStore, o Options) {
	for _, n := range []int{0, 70_000, int(o.LargeSize) + 1} {
		key := fmt.Sprintf("suite/failing/%d", n)
		_, err := s.Put(t.Context(), key, &failingReader{n: n}, int64(n)*2+10, storage.PutOptions{})
		if err == nil {
			t.Errorf("Put from a reader failing after %d bytes succeeded", n)
			del(t, s, key)
			continue
		}
		mustNotExist(t, s, key)
	}
}

// HostileKeys are keys every backend must refuse with ErrInvalidKey.
var HostileKeys = []string{
	"", "..", ".", "../etc/passwd", "a/../../b", "a/./b", "/abs/key", "a//b", "a/b/",
	"a\x00b", "a\\b", "..\\..\\win", "a/\nb", ".hidden", "a/.tmp/x", strings.Repeat("k", 1025),
	"bad\xffutf8",
}

func testHostileKeys(t *testing.T, s storage.BlobStore, _ Options) {
	ctx := t.Context()
	for _, key := range HostileKeys {
		if _, err := s.Put(ctx, key, strings.NewReader("x"), 1, storage.PutOptions{}); !errors.Is(err, storage.ErrInvalidKey) {
			t.Errorf("Put(%q) = %v, want ErrInvalidKey", key, err)
		}
		if rc, _, err := s.Get(ctx, key, 0, -1); !errors.Is(err, storage.ErrInvalidKey) {
			if err == nil {
				rc.Close()
			}
			t.Errorf("Get(%q) = %v, want ErrInvalidKey", key, err)
		}
		if _, err := s.Stat(ctx, key); !errors.Is(err, storage.ErrInvalidKey) {
			t.Errorf("Stat(%q) = %v, want ErrInvalidKey", key, err)
		}
		if err := s.Delete(ctx, key); !errors.Is(err, storage.ErrInvalidKey) {
			t.Errorf("Delete(%q) = %v, want ErrInvalidKey", key, err)
		}
		if storage.ValidatePrefix(key) != nil {
			if err := s.List(ctx, key, func(storage.Info) error { return nil }); !errors.Is(err, storage.ErrInvalidKey) {
				t.Errorf("List(%q) = %v, want ErrInvalidKey", key, err)
			}
		}
	}
}

func testNotFound(t *testing.T, s storage.BlobStore, _ Options) {
	ctx := t.Context()
	for _, key := range []string{"suite/missing/x", "never/was/here.tar.gz"} {
		if _, err := s.Stat(ctx, key); !errors.Is(err, storage.ErrNotFound) {
			t.Errorf("Stat(%q) = %v, want ErrNotFound", key, err)
		}
		if rc, _, err := s.Get(ctx, key, 0, -1); !errors.Is(err, storage.ErrNotFound) {
			if err == nil {
				rc.Close()
			}
			t.Errorf("Get(%q) = %v, want ErrNotFound", key, err)
		}
	}
}

func testPresign(t *testing.T, s storage.BlobStore, o Options) {
	key := "suite/presign/pkg.deb"
	data := Payload(11, 4096)
	put(t, s, key, data)
	defer del(t, s, key)
	u, err := s.PresignGet(t.Context(), key, time.Minute, "pkg.deb")
	if !o.Presign {
		if !errors.Is(err, storage.ErrUnsupported) {
			t.Errorf("PresignGet = %v, %v; want ErrUnsupported", u, err)
		}
		return
	}
	if err != nil {
		t.Fatalf("PresignGet: %v", err)
	}
	resp, err := http.Get(u.String())
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	got, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK || string(got) != string(data) {
		t.Errorf("presigned GET: status %d, %d bytes", resp.StatusCode, len(got))
	}
	if cd := resp.Header.Get("Content-Disposition"); !strings.Contains(cd, "pkg.deb") {
		t.Errorf("presigned GET Content-Disposition = %q, want the file name", cd)
	}
}
