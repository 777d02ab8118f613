package testenv_test

import (
	"bytes"
	"context"
	"io"
	"os"
	"testing"
	"time"

	"github.com/reliquary/reliquary/internal/testenv"
	"github.com/reliquary/reliquary/storage"
	"github.com/reliquary/reliquary/storage/s3"
)

func TestMain(m *testing.M) {
	code := m.Run()
	testenv.StopShared()
	os.Exit(code)
}

// TestProxyCutAndHeal: an S3 store reached through the proxy works, fails
// fast while the proxy is cut (Cut) or times out (Blackhole), and works
// again after Heal, while a store talking to MinIO directly never notices.
func TestProxyCutAndHeal(t *testing.T) {
	m := testenv.SharedMinIO(t)
	cfg := m.Config(t)
	p := testenv.StartProxy(t, m.Endpoint)
	viaCfg := cfg
	viaCfg.Endpoint = p.Addr
	viaCfg.Timeout = 2 * time.Second
	via, err := s3.New(viaCfg)
	if err != nil {
		t.Fatal(err)
	}
	direct, err := s3.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	put := func(st storage.BlobStore, key string) error {
		_, err := st.Put(ctx, key, bytes.NewReader([]byte(key)), int64(len(key)), storage.PutOptions{})
		return err
	}
	get := func(st storage.BlobStore, key string) (string, error) {
		rc, _, err := st.Get(ctx, key, 0, -1)
		if err != nil {
			return "", err
		}
		defer rc.Close()
		b, err := io.ReadAll(rc)
		return string(b), err
	}
	if err := put(via, "a"); err != nil {
		t.Fatalf("put through the open proxy: %v", err)
	}
	if got, err := get(direct, "a"); err != nil || got != "a" {
		t.Fatalf("direct read of a: %q, %v", got, err)
	}

	p.Cut()
	if !p.IsCut() || p.Cuts() != 1 {
		t.Fatalf("IsCut %v, Cuts %d after Cut", p.IsCut(), p.Cuts())
	}
	start := time.Now()
	if err := put(via, "b"); err == nil {
		t.Fatal("put through a cut proxy succeeded")
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("a refused put took %s", d)
	}
	if _, err := get(via, "a"); err == nil {
		t.Fatal("get through a cut proxy succeeded")
	}
	if err := put(direct, "c"); err != nil {
		t.Fatalf("direct put during the cut: %v", err)
	}
	if _, err := get(direct, "b"); err == nil {
		t.Fatal("object b exists although its put was cut off")
	}

	p.Heal()
	if p.IsCut() {
		t.Fatal("IsCut after Heal")
	}
	if got, err := get(via, "c"); err != nil || got != "c" {
		t.Fatalf("get through the healed proxy: %q, %v", got, err)
	}

	p.Blackhole()
	start = time.Now()
	if _, err := get(via, "c"); err == nil {
		t.Fatal("get through a blackholed proxy succeeded")
	}
	if d := time.Since(start); d < time.Second {
		t.Errorf("a blackholed get failed after %s: want the client's own timeout (2s)", d)
	}
	p.Heal()
	if got, err := get(via, "c"); err != nil || got != "c" {
		t.Fatalf("get after healing the blackhole: %q, %v", got, err)
	}
}
