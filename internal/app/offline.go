package app

import (
	"context"
	"path/filepath"
	"time"

	"github.com/parleyhq/parley/internal/actor"
	"github.com/parleyhq/parley/internal/config"
	"github.com/parleyhq/parley/internal/core"
	"github.com/parleyhq/parley/internal/eventlog"
	"github.com/parleyhq/parley/internal/postgres"
	"github.com/parleyhq/parley/internal/rooms"
	"github.com/parleyhq/parley/internal/sqlite"
	"github.com/parleyhq/parley/internal/topics"
)

// behaviors returns the domain behaviour of every stream kind that has one,
// for replay.
func behaviors() map[string]actor.Factory {
	out := map[string]actor.Factory{
		topics.Kind:   topics.New,
		rooms.Kind:    rooms.NewFactory(rooms.DefaultLimits()),
		rooms.ModKind: rooms.NewModLog,
	}
	for k, f := range chatBehaviors(chatLimits(config.Default().Chat)) {
		out[k] = f
	}
	return out
}

// Migrate applies every migration of the configured stores and returns how
// many migrations the node knows.
func Migrate(ctx context.Context, cfg config.Config) (int, error) {
	if cfg.Database.URL != "" {
		db, err := postgres.Open(ctx, cfg.Database.URL, 2)
		if err != nil {
			return 0, err
		}
		defer db.Close()
		names, err := postgres.Migrations()
		return len(names), err
	}
	n := 0
	for _, f := range []struct{ file, set string }{{sqlite.EventLogFile, "eventlog"}, {sqlite.AppFile, "app"}} {
		db, err := sqlite.Open(ctx, filepath.Join(cfg.DataDir, f.file), f.set)
		if err != nil {
			return 0, err
		}
		db.Close()
		names, err := sqlite.Migrations(f.set)
		if err != nil {
			return 0, err
		}
		n += len(names)
	}
	return n, nil
}

// Replay reads stream's events up to at (zero: all), calling each for every
// event, and returns the state the stream's domain rebuilds from them, or
// nil for a kind without one.
func Replay(ctx context.Context, cfg config.Config, stream core.StreamID, at time.Time, each func(*eventlog.Event)) (any, error) {
	var store eventlog.Store
	if cfg.Database.URL != "" {
		db, err := postgres.Open(ctx, cfg.Database.URL, 2)
		if err != nil {
			return nil, err
		}
		defer db.Close()
		store = postgres.NewEventLog(db)
	} else {
		st, err := sqlite.OpenEventLog(ctx, filepath.Join(cfg.DataDir, sqlite.EventLogFile))
		if err != nil {
			return nil, err
		}
		defer st.Close()
		store = st
	}
	f, ok := behaviors()[stream.Kind()]
	if !ok {
		f = func(core.StreamID) actor.Behavior { return &eventsOnly{} }
	}
	b, err := actor.Replay(ctx, store, f, stream, at, each)
	if err != nil {
		return nil, err
	}
	return b.State(), nil
}

// eventsOnly is the replay state of a kind without a domain behaviour: the
// count of its events.
type eventsOnly struct {
	Events  int    `json:"events"`
	LastSeq uint64 `json:"last_seq"`
}

func (e *eventsOnly) Apply(ev *eventlog.Event) { e.Events++; e.LastSeq = ev.Seq }
func (e *eventsOnly) Decide(*actor.Command) (actor.Decision, error) {
	return actor.Decision{}, nil
}
func (e *eventsOnly) State() any { return e }
