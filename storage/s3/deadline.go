package s3

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/reliquary/reliquary/storage"
)

// DefaultTimeout is the per-call deadline when Config.Timeout is 0
// (--storage-timeout, DESIGN §8 "Hung storage").
const DefaultTimeout = 15 * time.Second

// errTimedOut is the cancellation cause of a call that got no answer in
// time; callers see storage.ErrUnavailable.
var errTimedOut = errors.New("s3: no answer within the storage timeout")

// watchdog cancels its context when the store makes no progress for the
// timeout. A request/response call is one wait; a stream re-arms it at
// every step the store takes, and disarms it while the other side (the
// client sending an upload) is the one being waited for, so a slow client
// is never mistaken for a hung store and a long transfer is never cut.
type watchdog struct {
	ctx    context.Context
	cancel context.CancelCauseFunc
	d      time.Duration
	mu     sync.Mutex
	timer  *time.Timer
}

func (s *Store) newWatchdog(parent context.Context) *watchdog {
	ctx, cancel := context.WithCancelCause(parent)
	w := &watchdog{ctx: ctx, cancel: cancel, d: s.timeout}
	w.timer = time.AfterFunc(w.d, func() { cancel(errTimedOut) })
	return w
}

// arm restarts the countdown; disarm pauses it.
func (w *watchdog) arm() {
	w.mu.Lock()
	w.timer.Reset(w.d)
	w.mu.Unlock()
}

func (w *watchdog) disarm() {
	w.mu.Lock()
	w.timer.Stop()
	w.mu.Unlock()
}

// fired reports whether the watchdog, not the caller, ended the call.
func (w *watchdog) fired() bool { return errors.Is(context.Cause(w.ctx), errTimedOut) }

// done releases the watchdog.
func (w *watchdog) done() {
	w.disarm()
	w.cancel(context.Canceled)
}

// timeoutErr is the error of a call the watchdog ended.
func (s *Store) timeoutErr(op string) error {
	return fmt.Errorf("%s at %s: %w: no answer within %s (--storage-timeout)", op, s.endpoint, storage.ErrUnavailable, s.timeout)
}

// call runs one request/response call under the deadline.
func (s *Store) call(ctx context.Context, op string, fn func(context.Context) error) error {
	w := s.newWatchdog(ctx)
	defer w.done()
	err := fn(w.ctx)
	if err != nil && w.fired() {
		return s.timeoutErr(op)
	}
	return err
}

// pacedReader is an upload's source as the store reads it: the watchdog
// runs while the store holds the data (between reads) and is paused while
// a read waits for the client.
type pacedReader struct {
	r io.Reader
	w *watchdog
}

func (p pacedReader) Read(b []byte) (int, error) {
	p.w.disarm()
	n, err := p.r.Read(b)
	p.w.arm()
	return n, err
}

// watchedBody is a download's body: each read from the store must make
// progress within the timeout.
type watchedBody struct {
	rc io.ReadCloser
	w  *watchdog
	s  *Store
	op string
}

func (b *watchedBody) Read(p []byte) (int, error) {
	b.w.arm()
	n, err := b.rc.Read(p)
	b.w.disarm()
	if err != nil && err != io.EOF && b.w.fired() {
		return n, b.s.timeoutErr(b.op)
	}
	return n, err
}

func (b *watchedBody) Close() error {
	err := b.rc.Close()
	b.w.done()
	return err
}
