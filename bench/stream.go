package main

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"io"
	"math/rand/v2"
	"sync"
)

// blockSize is the unit the generated stream is stamped in.
const blockSize = 1 << 20

// genReader is a deterministic, incompressible byte stream of a given size,
// generated while it is read (never held in memory): a 1 MiB random
// pattern per seed, each 1 MiB block stamped with its index and the seed so
// no two blocks of any stream are equal.
type genReader struct {
	seed  uint64
	pat   []byte
	block []byte
	blk   int64
	off   int64
	size  int64
}

var patterns sync.Map // seed → []byte

func pattern(seed uint64) []byte {
	if p, ok := patterns.Load(seed); ok {
		return p.([]byte)
	}
	var key [32]byte
	binary.LittleEndian.PutUint64(key[:], seed)
	r := rand.NewChaCha8(key)
	p := make([]byte, blockSize)
	_, _ = r.Read(p)
	patterns.Store(seed, p)
	return p
}

func newGen(seed uint64, size int64) *genReader {
	return &genReader{seed: seed, pat: pattern(seed), block: make([]byte, blockSize), blk: -1, size: size}
}

func (g *genReader) Read(p []byte) (int, error) {
	if g.off >= g.size {
		return 0, io.EOF
	}
	bi := g.off / blockSize
	if bi != g.blk {
		copy(g.block, g.pat)
		binary.LittleEndian.PutUint64(g.block[0:], uint64(bi))
		binary.LittleEndian.PutUint64(g.block[8:], g.seed)
		g.blk = bi
	}
	start := g.off - bi*blockSize
	end := min(int64(blockSize), g.size-bi*blockSize)
	n := copy(p, g.block[start:end])
	g.off += int64(n)
	return n, nil
}

var digests sync.Map // [2]uint64{seed, size} → hex sha256

// digestOf returns the SHA-256 of the stream (computed once, outside any
// timed section).
func digestOf(seed uint64, size int64) string {
	k := [2]uint64{seed, uint64(size)}
	if d, ok := digests.Load(k); ok {
		return d.(string)
	}
	h := sha256.New()
	buf := make([]byte, blockSize)
	_, _ = io.CopyBuffer(h, newGen(seed, size), buf)
	d := hex.EncodeToString(h.Sum(nil))
	digests.Store(k, d)
	return d
}
