package s3_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/reliquary/reliquary/internal/testenv"
	"github.com/reliquary/reliquary/storage"
	"github.com/reliquary/reliquary/storage/s3"
)

// TestHungEndpoint: with MinIO stopped by SIGSTOP (it keeps its port and
// accepts nothing further), every call fails with storage.ErrUnavailable
// within the timeout plus a margin, never minio-go's retries times its
// header timeout; a download stalled mid-stream fails the same way; after
// SIGCONT the same store works again without being rebuilt.
func TestHungEndpoint(t *testing.T) {
	m := testenv.StartMinIO(t)
	cfg := m.Config(t)
	cfg.Timeout = time.Second
	st, err := s3.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	big := bytes.Repeat([]byte("0123456789abcdef"), 8<<20/16) // 8 MiB: multipart
	for _, k := range []string{"a", "big"} {
		body := []byte("hello")
		if k == "big" {
			body = big
		}
		if _, err := st.Put(ctx, k, bytes.NewReader(body), int64(len(body)), storage.PutOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	// A download that has started, then stalls.
	stalled, _, err := st.Get(ctx, "big", 0, -1)
	if err != nil {
		t.Fatal(err)
	}
	defer stalled.Close()
	if _, err := io.ReadFull(stalled, make([]byte, 1024)); err != nil {
		t.Fatal(err)
	}

	if err := m.Freeze(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = m.Thaw() })
	const bound = 4 * time.Second // 1s timeout; far below 3 retries x a 2-minute header wait
	calls := map[string]func() error{
		"stat": func() error { _, err := st.Stat(ctx, "a"); return err },
		"get":  func() error { rc, _, err := st.Get(ctx, "a", 0, -1); closeIf(rc); return err },
		"put":  func() error { _, err := st.Put(ctx, "b", strings.NewReader("x"), 1, storage.PutOptions{}); return err },
		"putbig": func() error {
			_, err := st.Put(ctx, "c", bytes.NewReader(big), int64(len(big)), storage.PutOptions{})
			return err
		},
		"delete": func() error { return st.Delete(ctx, "a") },
		"list":   func() error { return st.List(ctx, "", func(storage.Info) error { return nil }) },
		"ping":   func() error { return st.Ping(ctx) },
		"stream": func() error { _, err := io.Copy(io.Discard, stalled); return err },
	}
	for name, call := range calls {
		start := time.Now()
		err := call()
		el := time.Since(start)
		t.Logf("%s: %s", name, el)
		if !errors.Is(err, storage.ErrUnavailable) || el > bound {
			t.Errorf("%s on a hung endpoint: %v after %s, want ErrUnavailable within %s", name, err, el, bound)
		}
	}

	if err := m.Thaw(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(20 * time.Second)
	for {
		_, err := st.Stat(ctx, "a")
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no recovery after SIGCONT: %v", err)
		}
		time.Sleep(100 * time.Millisecond)
	}
	if _, err := st.Put(ctx, "d", strings.NewReader("y"), 1, storage.PutOptions{}); err != nil {
		t.Fatalf("put after recovery: %v", err)
	}
}

func closeIf(rc io.ReadCloser) {
	if rc != nil {
		rc.Close()
	}
}
