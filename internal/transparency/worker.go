package transparency

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"time"

	"github.com/reliquary/reliquary/internal/journal"
	"github.com/reliquary/reliquary/internal/library"
)

// Events is the journal as the statement worker reads it.
type Events interface {
	EventsAfter(after uint64, limit int) ([]*journal.Event, error)
	Head() (uint64, string, error)
}

// StatementWorker makes each release statement as soon as its event
// commits (reaching approved, promote, withdraw), so GET .../statement
// serves it from the index; a statement it has not made yet (a crash, an
// event before the server started) is made on first request instead.
type StatementWorker struct {
	Log      *Log
	Events   Events
	Notifier *journal.Notifier
	Logger   *slog.Logger
}

// Run works until ctx ends, starting after the events already committed.
func (w *StatementWorker) Run(ctx context.Context) {
	log := w.Logger
	if log == nil {
		log = slog.Default()
	}
	cursor, _, err := w.Events.Head()
	if err != nil {
		log.Warn("release statements: read the journal head", "err", err)
	}
	for {
		wake := w.Notifier.Wait()
		evs, err := w.Events.EventsAfter(cursor, 500)
		if err != nil {
			log.Warn("release statements: read the journal", "err", err)
		}
		for _, e := range evs {
			switch e.Type {
			case library.EvReleaseApproved, library.EvReleaseReleased, library.EvReleaseWithdrawn:
				product, version, _ := strings.Cut(e.Subject, "@")
				if _, err := w.Log.Statement(ctx, product, version); err != nil && !errors.Is(err, ErrNoStatement) && ctx.Err() == nil {
					log.Warn("release statement not made; it will be on first request", "release", e.Subject, "seq", e.Seq, "err", err)
				}
			}
			cursor = e.Seq
		}
		if len(evs) == 500 {
			continue
		}
		select {
		case <-ctx.Done():
			return
		case <-wake:
		case <-time.After(5 * time.Second):
		}
	}
}
