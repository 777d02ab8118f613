package api

import (
	"errors"
	"io"
	"net"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/gin-gonic/gin"
)

// Slow clients (DESIGN §8 "Slow clients"): a request body that sends
// nothing for the idle timeout is cut off, and a request refused for its
// token or size is answered without reading its body, on a connection that
// is then closed.

// DefaultBodyIdleTimeout is --body-idle-timeout's default.
const DefaultBodyIdleTimeout = 30 * time.Second

// errBodyIdle: the client sent no body bytes for the idle timeout.
var errBodyIdle = errors.New("the request body stalled")

const ctxBodyGuard = "body_guard"

// guardedBody renews a read deadline on the connection before every read
// of the request body: a per-read deadline, not a total one, so a large
// upload on a slow but live link is never cut off.
type guardedBody struct {
	io.ReadCloser
	rc       *http.ResponseController
	idle     time.Duration
	timedOut atomic.Bool
	eof      atomic.Bool
}

func (b *guardedBody) Read(p []byte) (int, error) {
	if b.idle > 0 {
		_ = b.rc.SetReadDeadline(time.Now().Add(b.idle))
	}
	n, err := b.ReadCloser.Read(p)
	var ne net.Error
	switch {
	case err == nil:
	case errors.Is(err, io.EOF):
		b.eof.Store(true)
		// The server watches the idle connection from now on (a client
		// that goes away cancels the request): no deadline for that.
		_ = b.rc.SetReadDeadline(time.Time{})
	case errors.As(err, &ne) && ne.Timeout() || errors.Is(err, errBodyIdle):
		b.timedOut.Store(true)
		return n, errors.Join(errBodyIdle, err)
	}
	return n, err
}

// bodyGuard wraps every request body (DESIGN §8 "Slow clients").
func (s *Server) bodyGuard(c *gin.Context) {
	r := c.Request
	if r.Body == nil || r.Body == http.NoBody || r.ContentLength == 0 && len(r.TransferEncoding) == 0 {
		c.Next()
		return
	}
	idle := s.bodyIdle
	if idle < 0 {
		idle = 0
	}
	g := &guardedBody{ReadCloser: r.Body, rc: http.NewResponseController(c.Writer), idle: idle}
	r.Body = g
	c.Set(ctxBodyGuard, g)
	c.Next()
	// net/http looks at the request's own body type after the handler to
	// decide on a lingering close (FIN, then a pause before closing, so the
	// refusal is not lost to a reset while the client still sends).
	r.Body = g.ReadCloser
}

// refuseUnreadBody prepares a refusal of a request whose body has not been
// read to its end: the connection is closed after the answer, and the
// server does not wait for (or read) the rest of the body.
func refuseUnreadBody(c *gin.Context) {
	v, ok := c.Get(ctxBodyGuard)
	if !ok {
		return
	}
	g := v.(*guardedBody)
	if g.eof.Load() {
		return
	}
	c.Header("Connection", "close")
	// The answer is written without reading the body. After it, net/http
	// reads what is left of a body under 256 KiB before closing (so a
	// client still sending gets the answer rather than a reset); a short
	// deadline bounds that for a client that trickles.
	_ = g.rc.SetReadDeadline(time.Now().Add(refusalLinger))
}

// refusalLinger bounds the read of a refused body's rest after the answer.
const refusalLinger = 500 * time.Millisecond

// bodyTimedOut reports whether the request's body stalled.
func bodyTimedOut(c *gin.Context) bool {
	v, ok := c.Get(ctxBodyGuard)
	return ok && v.(*guardedBody).timedOut.Load()
}
