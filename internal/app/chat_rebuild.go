package app

import (
	"context"
	"fmt"
	"path/filepath"
	"time"

	"github.com/parleyhq/parley/internal/actor"
	"github.com/parleyhq/parley/internal/chat"
	"github.com/parleyhq/parley/internal/config"
	"github.com/parleyhq/parley/internal/core"
	"github.com/parleyhq/parley/internal/eventlog"
	"github.com/parleyhq/parley/internal/postgres"
	"github.com/parleyhq/parley/internal/sqlite"
)

// ChatLog is what a rebuild reads: the events of every chat stream.
type ChatLog interface {
	Read(ctx context.Context, stream core.StreamID, after uint64, limit int) ([]eventlog.Event, error)
	eventlog.Lister
}

// RebuildStats counts what a rebuild projected.
type RebuildStats struct {
	Streams int
	Events  int
	Took    time.Duration
}

// RebuildChat empties the chat read models of store and projects every
// chat stream of log into them again, stream by stream, in batches of
// batch events. Running nodes may keep projecting meanwhile: checkpoints
// keep every event applied once.
func RebuildChat(ctx context.Context, log ChatLog, store chat.Projector, batch int) (RebuildStats, error) {
	start := time.Now()
	var st RebuildStats
	if err := store.Reset(ctx); err != nil {
		return st, err
	}
	for _, kind := range chatKinds {
		var after core.StreamID
		for {
			page, err := log.Streams(ctx, kind, after, 1000)
			if err != nil {
				return st, err
			}
			for _, s := range page {
				st.Streams++
				var seq uint64
				for {
					evs, err := log.Read(ctx, s.Stream, seq, batch)
					if err != nil {
						return st, err
					}
					if len(evs) == 0 {
						break
					}
					if _, err := store.ApplyBatch(ctx, evs); err != nil {
						return st, fmt.Errorf("rebuild %s: %w", s.Stream, err)
					}
					st.Events += len(evs)
					seq = evs[len(evs)-1].Seq
				}
			}
			if len(page) < 1000 {
				break
			}
			after = page[len(page)-1].Stream
		}
	}
	if a, ok := store.(interface{ Analyze(context.Context) error }); ok {
		if err := a.Analyze(ctx); err != nil {
			return st, err
		}
	}
	st.Took = time.Since(start)
	return st, nil
}

// RebuildChatStores opens the configured stores (the node should be
// stopped or idle) and rebuilds the chat read models from the log: what
// `parley rebuild` runs.
func RebuildChatStores(ctx context.Context, cfg config.Config) (RebuildStats, error) {
	if cfg.Database.URL != "" {
		db, err := postgres.Open(ctx, cfg.Database.URL, 4)
		if err != nil {
			return RebuildStats{}, err
		}
		defer db.Close()
		return RebuildChat(ctx, postgres.NewEventLog(db), postgres.NewChatStore(db), cfg.Chat.ProjectionBatch)
	}
	ev, err := sqlite.OpenEventLog(ctx, filepath.Join(cfg.DataDir, sqlite.EventLogFile))
	if err != nil {
		return RebuildStats{}, err
	}
	defer ev.Close()
	appdb, err := sqlite.Open(ctx, filepath.Join(cfg.DataDir, sqlite.AppFile), "app")
	if err != nil {
		return RebuildStats{}, err
	}
	defer appdb.Close()
	return RebuildChat(ctx, ev, sqlite.NewChatStore(appdb), cfg.Chat.ProjectionBatch)
}

// ChatStore returns the chat read models of the node (nil without chat).
func (m *Main) ChatStore() chat.Store {
	if m.chat == nil {
		return nil
	}
	return m.chat.store
}

// ChatView returns the node's in-memory chat view (nil without chat).
func (m *Main) ChatView() *chat.View {
	if m.chat == nil {
		return nil
	}
	return m.chat.view
}

// ChatCaughtUp waits until the read models and the View hold every event
// of every chat stream in the log, or ctx ends.
func (m *Main) ChatCaughtUp(ctx context.Context) error {
	for {
		behind, err := m.chatBehind(ctx)
		if err != nil || !behind {
			return err
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(10 * time.Millisecond):
		}
	}
}

func (m *Main) chatBehind(ctx context.Context) (bool, error) {
	for _, kind := range chatKinds {
		var after core.StreamID
		for {
			page, err := m.log.Streams(ctx, kind, after, 1000)
			if err != nil {
				return false, err
			}
			for _, s := range page {
				cp, err := m.chat.store.Checkpoint(ctx, s.Stream)
				if err != nil {
					return false, err
				}
				if cp < s.Last || m.chat.view.Seq(s.Stream) < s.Last {
					return true, nil
				}
			}
			if len(page) < 1000 {
				break
			}
			after = page[len(page)-1].Stream
		}
	}
	return false, nil
}

// chatBehaviors are the chat kinds' behaviours for replay.
func chatBehaviors(lim chat.Limits) map[string]actor.Factory {
	return map[string]actor.Factory{
		chat.KindWorkspace: chat.NewWorkspace(lim),
		chat.KindChannel:   chat.NewChannel(lim),
		chat.KindInbox:     chat.NewInbox(),
	}
}
