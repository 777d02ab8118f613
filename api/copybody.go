package api

import (
	"io"
	"sync"

	"github.com/gin-gonic/gin"
)

// copyBufs are the buffers of proxied downloads: 256 KiB, so one write
// system call carries up to 256 KiB, and pooled, so a download allocates
// none.
var copyBufs = sync.Pool{New: func() any { b := make([]byte, 256<<10); return &b }}

// copyBody sends length bytes of body as the response (status and headers
// set) through one pooled buffer, with the writer's own ReadFrom hidden so
// the large buffer is the one used (net/http's ReadFrom copies through 32
// KiB). Handing an fs-store file to the connection's sendfile was tried
// and measured: on loopback it cost more CPU per GiB (0.84-0.89 against
// 0.69-0.77 cpu-s/GiB, BenchmarkProxyDownloadFS, BENCHMARKS.md), so it
// is not done.
func (s *Server) copyBody(c *gin.Context, body io.Reader, length int64) (int64, error) {
	bp := copyBufs.Get().(*[]byte)
	defer copyBufs.Put(bp)
	return io.CopyBuffer(struct{ io.Writer }{c.Writer}, io.LimitReader(body, length), *bp)
}
