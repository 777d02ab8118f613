package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"runtime/pprof"
	"time"

	"github.com/reliquary/reliquary/internal/index"
	"github.com/reliquary/reliquary/internal/journal"
	"github.com/reliquary/reliquary/internal/library"
	"github.com/reliquary/reliquary/storage/s3"
)

func main() {
	ctx := context.Background()
	dir, _ := os.MkdirTemp("", "rbx")
	defer os.RemoveAll(dir)
	st, err := s3.New(s3.Config{Endpoint: os.Args[1], Bucket: "rbx", AccessKey: "bench", SecretKey: "bench-secret-key", Insecure: true})
	if err != nil {
		panic(err)
	}
	if err := st.CreateBucket(ctx); err != nil {
		panic(err)
	}
	ix, err := index.Open(filepath.Join(dir, "index.db"), index.Options{})
	if err != nil {
		panic(err)
	}
	const n = 3000
	for start := 0; start < n; start += 500 {
		err := ix.Update(func(tx library.WriteTx) error {
			for i := start; i < start+500; i++ {
				p := &library.Product{Name: fmt.Sprintf("p%d", i), Policy: library.DefaultPolicy()}
				if err := tx.PutProduct(p); err != nil {
					return err
				}
				if _, err := tx.Record(library.Event{Time: time.Now(), Actor: "b", Type: library.EvProductCreated, Subject: p.Name, Data: p}); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			panic(err)
		}
	}
	m := &journal.Mirror{Source: ix, State: ix, Store: st, Notifier: journal.NewNotifier(), Log: slog.Default()}
	for {
		k, err := m.Pass(ctx)
		if err != nil {
			panic(err)
		}
		if k == 0 {
			break
		}
	}
	ix.Close()
	f, _ := os.Create("/tmp/rbx.pprof")
	pprof.StartCPUProfile(f)
	t0 := time.Now()
	next, err := journal.ReadMirror(ctx, st)
	if err != nil {
		panic(err)
	}
	c := 0
	for {
		_, err := next()
		if err == io.EOF {
			break
		}
		if err != nil {
			panic(err)
		}
		c++
	}
	d1 := time.Since(t0)
	t0 = time.Now()
	next, _ = journal.ReadMirror(ctx, st)
	if _, err := index.Rebuild(filepath.Join(dir, "r.db"), next); err != nil {
		panic(err)
	}
	d2 := time.Since(t0)
	pprof.StopCPUProfile()
	fmt.Printf("fetch only: %d events %.0f/s; rebuild: %.0f/s\n", c, float64(c)/d1.Seconds(), float64(c)/d2.Seconds())
}
