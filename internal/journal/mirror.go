package journal

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/reliquary/reliquary/storage"
)

// Source is the index as the journal workers read it.
type Source interface {
	EventsAfter(after uint64, limit int) ([]*Event, error)
	Head() (uint64, string, error)
}

// MirrorState keeps the mirror's durable cursor.
type MirrorState interface {
	MirrorCursor() (uint64, error)
	SetMirrorCursor(seq uint64) error
}

// Mirror copies every event, in order, to journal/<20-digit seq>.json in
// the blob store, so the index can be rebuilt from the bucket alone. Its
// cursor is durable: after a crash it resumes where it stopped, and an
// object already written (a crash between the write and the cursor) is
// checked, not rewritten.
type Mirror struct {
	Source   Source
	State    MirrorState
	Store    storage.BlobStore
	Notifier *Notifier
	Log      *slog.Logger
	// Interval is the longest pause between passes (default 1s).
	Interval time.Duration
}

// Lag is how many events are not mirrored yet.
func (m *Mirror) Lag() float64 {
	head, _, err1 := m.Source.Head()
	cur, err2 := m.State.MirrorCursor()
	if err1 != nil || err2 != nil || cur > head {
		return 0
	}
	return float64(head - cur)
}

// Run mirrors until ctx ends.
func (m *Mirror) Run(ctx context.Context) {
	interval := m.Interval
	if interval == 0 {
		interval = time.Second
	}
	backoff := interval
	for {
		wake := m.Notifier.Wait()
		n, err := m.Pass(ctx)
		switch {
		case ctx.Err() != nil:
			return
		case err != nil:
			m.Log.Warn("journal mirror pass failed; retrying", "err", err, "retry_in", backoff)
			backoff = min(backoff*2, time.Minute)
		default:
			backoff = interval
			if n > 0 {
				continue // there may be more
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-wake:
		case <-time.After(backoff):
		}
	}
}

// Pass mirrors what is pending, in batches, and returns how many events it
// copied.
func (m *Mirror) Pass(ctx context.Context) (int, error) {
	cur, err := m.State.MirrorCursor()
	if err != nil {
		return 0, err
	}
	evs, err := m.Source.EventsAfter(cur, 500)
	if err != nil || len(evs) == 0 {
		return 0, err
	}
	for _, e := range evs {
		if err := m.put(ctx, e); err != nil {
			return 0, err
		}
	}
	if err := m.State.SetMirrorCursor(evs[len(evs)-1].Seq); err != nil {
		return 0, err
	}
	return len(evs), nil
}

func (m *Mirror) put(ctx context.Context, e *Event) error {
	body, err := json.Marshal(e)
	if err != nil {
		return err
	}
	key := storage.JournalKey(e.Seq)
	_, err = m.Store.Put(ctx, key, bytes.NewReader(body), int64(len(body)), storage.PutOptions{ContentType: "application/json"})
	if !errors.Is(err, storage.ErrExists) {
		return err
	}
	rc, _, err := m.Store.Get(ctx, key, 0, -1)
	if err != nil {
		return err
	}
	defer rc.Close()
	have, err := io.ReadAll(io.LimitReader(rc, int64(len(body))+1))
	if err != nil {
		return err
	}
	if !bytes.Equal(have, body) {
		return fmt.Errorf("mirror: %s exists with other content than event %d: the bucket holds another journal", key, e.Seq)
	}
	return nil
}

// ReadMirror returns an iterator over the mirrored events in order: the
// keys are listed first (small), then each event is fetched as it is asked
// for, several ahead in parallel.
func ReadMirror(ctx context.Context, store storage.BlobStore) (next func() (*Event, error), err error) {
	var keys []string
	if err := store.List(ctx, storage.JournalPrefix, func(i storage.Info) error { keys = append(keys, i.Key); return nil }); err != nil {
		return nil, err
	}
	const ahead = 32
	type result struct {
		e   *Event
		err error
	}
	slots := make(chan chan result, ahead)
	go func() {
		defer close(slots)
		sem := make(chan struct{}, 16)
		for _, k := range keys {
			ch := make(chan result, 1)
			select {
			case slots <- ch:
			case <-ctx.Done():
				return
			}
			sem <- struct{}{}
			go func(k string) {
				defer func() { <-sem }()
				rc, _, err := store.Get(ctx, k, 0, -1)
				if err != nil {
					ch <- result{err: err}
					return
				}
				defer rc.Close()
				raw, err := io.ReadAll(io.LimitReader(rc, 64<<20))
				if err != nil {
					ch <- result{err: err}
					return
				}
				e, err := Decode(raw)
				if err == nil && storage.JournalKey(e.Seq) != k {
					err = fmt.Errorf("%s holds event %d", k, e.Seq)
				}
				ch <- result{e: e, err: err}
			}(k)
		}
	}()
	return func() (*Event, error) {
		ch, ok := <-slots
		if !ok {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
			return nil, io.EOF
		}
		r := <-ch
		return r.e, r.err
	}, nil
}
