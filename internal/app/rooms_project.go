package app

import (
	"context"
	"encoding/json"
	"sync"
	"time"

	"github.com/parleyhq/parley/internal/actor"
	"github.com/parleyhq/parley/internal/core"
	"github.com/parleyhq/parley/internal/errs"
	"github.com/parleyhq/parley/internal/eventlog"
	"github.com/parleyhq/parley/internal/rooms"
)

// observe is told every room's committed events, in order, on the room's
// actor goroutine: it must not block. It schedules the projection and the
// hot-state write, and evicts removed users.
func (r *roomsApp) observe(s core.StreamID, evs []eventlog.Event) {
	id := rooms.RoomID(s.ID())
	project, urgent, ended := false, false, false
	for i := range evs {
		e := &evs[i]
		switch e.Type {
		case rooms.EvCreated, rooms.EvStarted, rooms.EvSpeakerAdded, rooms.EvGuests:
			project, urgent = true, true
		case rooms.EvEnded:
			project, urgent, ended = true, true, true
			go r.evict(id, "", "the room ended")
		case rooms.EvKicked, rooms.EvBlocked:
			var t rooms.Target
			if json.Unmarshal(e.Data, &t) == nil {
				reason := "you were removed from this room"
				if e.Type == rooms.EvBlocked {
					reason = "the host blocked you"
				}
				go r.evict(id, t.User, reason)
			}
			project = true
		default:
			if rooms.Listed(e.Type) {
				project = true
			}
		}
	}
	if project {
		r.proj.mark(id, urgent)
	}
	r.hot.mark(id, ended)
}

// projector keeps the rooms read model up to date: it folds each marked
// room's new events (read from the log after the row's last sequence) into
// its row, and schedules the background jobs those events call for. Rows
// only move forward (PutListing ignores older sequences), so projecting
// twice, or on two nodes, is harmless.
type projector struct {
	r    *roomsApp
	mu   sync.Mutex
	dirt map[rooms.RoomID]bool
	wake chan struct{}

	runMu sync.Mutex // serialises catch-ups and guards cache
	cache map[rooms.RoomID]rooms.Listing
}

// projectEvery is how often marked rooms are projected when nothing urgent
// (a room created, started or ended) asks for it sooner.
const projectEvery = 250 * time.Millisecond

func newProjector(r *roomsApp) *projector {
	return &projector{r: r, dirt: map[rooms.RoomID]bool{}, wake: make(chan struct{}, 1), cache: map[rooms.RoomID]rooms.Listing{}}
}

func (p *projector) mark(id rooms.RoomID, urgent bool) {
	p.mu.Lock()
	p.dirt[id] = true
	p.mu.Unlock()
	if urgent {
		select {
		case p.wake <- struct{}{}:
		default:
		}
	}
}

func (p *projector) run() {
	defer p.r.wg.Done()
	t := time.NewTicker(projectEvery)
	defer t.Stop()
	for {
		select {
		case <-p.r.stop:
			return
		case <-p.wake:
		case <-t.C:
		}
		p.mu.Lock()
		dirt := p.dirt
		p.dirt = map[rooms.RoomID]bool{}
		p.mu.Unlock()
		for id := range dirt {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			if err := p.catchUp(ctx, id); err != nil {
				p.r.log.Warn("project room", "room", id, "err", err)
				p.mark(id, false)
			}
			cancel()
		}
	}
}

// catchUp folds the events of room that its row has not seen.
func (p *projector) catchUp(ctx context.Context, id rooms.RoomID) error {
	p.runMu.Lock()
	defer p.runMu.Unlock()
	l, ok := p.cache[id]
	if !ok {
		var err error
		l, err = p.r.store.Listing(ctx, id)
		if err != nil && !errs.Is(err, errs.NotFound) {
			return err
		}
	}
	start := l.Seq
	var jobs []func(context.Context)
	err := eventlog.ReadAll(ctx, p.r.m.log, id.Stream(), l.Seq, func(e eventlog.Event) error {
		rooms.Project(&l, &e)
		if j := p.r.effect(&l, &e); j != nil {
			jobs = append(jobs, j)
		}
		return nil
	})
	if err != nil {
		return err
	}
	if l.Seq == start {
		return nil
	}
	if err := p.r.store.PutListing(ctx, l); err != nil {
		delete(p.cache, id)
		return err
	}
	if l.Status == rooms.Ended {
		delete(p.cache, id)
	} else {
		p.cache[id] = l
	}
	for _, j := range jobs {
		j(ctx)
	}
	return nil
}

// hotWriter keeps each live room's Hot state in the bus KV, rewritten at
// most once per HotSnapshotInterval, with a TTL that ends when the room's
// hot state expires, and deletes it when the room ends: the KV entries
// vanish after HotStateTTL even if nothing ever deletes them.
type hotWriter struct {
	r     *roomsApp
	mu    sync.Mutex
	dirty map[rooms.RoomID]bool // true: the room ended
}

func newHotWriter(r *roomsApp) *hotWriter {
	return &hotWriter{r: r, dirty: map[rooms.RoomID]bool{}}
}

// HotKey is the bus KV key of a room's hot state.
func HotKey(id rooms.RoomID) string { return "room." + string(id) }

func (h *hotWriter) mark(id rooms.RoomID, ended bool) {
	h.mu.Lock()
	h.dirty[id] = h.dirty[id] || ended
	h.mu.Unlock()
}

func (h *hotWriter) run() {
	defer h.r.wg.Done()
	t := time.NewTicker(h.r.cfg.HotSnapshotInterval)
	defer t.Stop()
	for {
		select {
		case <-h.r.stop:
			return
		case <-t.C:
		}
		h.mu.Lock()
		dirty := h.dirty
		h.dirty = map[rooms.RoomID]bool{}
		h.mu.Unlock()
		for id, ended := range dirty {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			if err := h.write(ctx, id, ended); err != nil && !errs.Is(err, errs.Unavailable) {
				h.r.log.Warn("write room hot state", "room", id, "err", err)
			}
			cancel()
		}
	}
}

func (h *hotWriter) write(ctx context.Context, id rooms.RoomID, ended bool) error {
	key := HotKey(id)
	if !ended {
		res, err := h.r.m.host.Do(ctx, id.Stream(), actor.Command{Name: rooms.CmdHot})
		if err != nil {
			return err
		}
		hot, err := replyAs[rooms.Hot](res.Reply)
		if err != nil {
			return err
		}
		ttl := hot.ExpiresAt.Sub(h.r.m.Clock.Now())
		if hot.Status != rooms.Ended && ttl > 0 {
			data, _ := json.Marshal(hot)
			_, err := h.r.kv.PutTTL(ctx, key, data, ttl)
			return err
		}
	}
	if err := h.r.kv.Delete(ctx, key); err != nil && !errs.Is(err, errs.NotFound) {
		return err
	}
	return nil
}
