package app

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/parleyhq/parley/internal/actor"
	"github.com/parleyhq/parley/internal/bus"
	"github.com/parleyhq/parley/internal/core"
	"github.com/parleyhq/parley/internal/errs"
	"github.com/parleyhq/parley/internal/eventlog"
	"github.com/parleyhq/parley/internal/rooms"
)

// roomsSinkHook, if set, is given the analytics sink when the node starts
// (fault-injection tests stop a worker in the middle of a room).
var roomsSinkHook func(rooms.Sink)

// Home job kinds.
const (
	homeFanOut  = "fan_out" // put a room on the homes of the followers of Via
	homeInvited = "invited" // put a room on the homes of Users
	homeEnded   = "ended"   // take a room off every home
	homeRebuild = "rebuild" // recompute User's home
)

// homeJob is the data of a rooms_home job.
type homeJobData struct {
	Kind   string        `json:"kind"`
	Room   rooms.RoomID  `json:"room,omitempty"`
	Via    core.UserID   `json:"via,omitempty"`
	Reason string        `json:"reason,omitempty"`
	At     time.Time     `json:"at,omitzero"`
	Users  []core.UserID `json:"users,omitempty"`
	User   core.UserID   `json:"user,omitempty"`
}

// analyticsJobData is the data of a rooms_analytics job.
type analyticsJobData struct {
	Room rooms.RoomID `json:"room"`
}

// effect returns the background work that a projected event calls for,
// to run once its row is stored, or nil.
func (r *roomsApp) effect(l *rooms.Listing, e *eventlog.Event) func(context.Context) {
	id := fmt.Sprintf("%s:%d", l.Room, e.Seq)
	public := l.Visibility == rooms.Public
	switch e.Type {
	case rooms.EvCreated, rooms.EvStarted:
		if public {
			j := homeJobData{Kind: homeFanOut, Room: l.Room, Via: l.Host, Reason: rooms.ReasonHosting, At: l.SortAt()}
			return func(ctx context.Context) { r.enqueueHome(ctx, id, j) }
		}
	case rooms.EvSpeakerAdded:
		var d rooms.RoleData
		if public && json.Unmarshal(e.Data, &d) == nil {
			j := homeJobData{Kind: homeFanOut, Room: l.Room, Via: d.User, Reason: rooms.ReasonSpeaking, At: e.Time}
			return func(ctx context.Context) { r.enqueueHome(ctx, id, j) }
		}
	case rooms.EvGuests:
		var d rooms.Guests
		if json.Unmarshal(e.Data, &d) == nil {
			j := homeJobData{Kind: homeInvited, Room: l.Room, Via: e.Actor, Reason: rooms.ReasonInvited, At: l.SortAt(), Users: d.Users}
			return func(ctx context.Context) { r.enqueueHome(ctx, id, j) }
		}
	case rooms.EvEnded:
		room := l.Room
		return func(ctx context.Context) {
			r.enqueueHome(ctx, id, homeJobData{Kind: homeEnded, Room: room})
			r.enqueueAnalytics(ctx, room)
		}
	}
	return nil
}

func (r *roomsApp) enqueueHome(ctx context.Context, id string, j homeJobData) {
	data, _ := json.Marshal(j)
	if err := r.homeQ.Enqueue(ctx, "home:"+id, data); err != nil {
		r.log.Warn("enqueue home job", "job", id, "err", err)
	}
}

func (r *roomsApp) enqueueAnalytics(ctx context.Context, room rooms.RoomID) {
	if r.sink == nil {
		return
	}
	data, _ := json.Marshal(analyticsJobData{Room: room})
	if err := r.analyticsQ.Enqueue(ctx, "analytics:"+string(room), data); err != nil {
		r.log.Warn("enqueue analytics job", "room", room, "err", err)
	}
}

// analyticsJob writes an ended room's summary and events to the sink. The
// sink makes a redelivered job (after a crash, a timeout) write nothing
// twice, and the room is marked archived only after the write.
func (r *roomsApp) analyticsJob(ctx context.Context, j bus.Job) error {
	var job analyticsJobData
	if err := json.Unmarshal(j.Data, &job); err != nil || !job.Room.Valid() {
		return bus.Permanent(fmt.Errorf("bad analytics job %q", j.Data))
	}
	var evs []eventlog.Event
	var ended *rooms.EndedData
	err := eventlog.ReadAll(ctx, r.m.log, job.Room.Stream(), 0, func(e eventlog.Event) error {
		evs = append(evs, e)
		if e.Type == rooms.EvEnded {
			ended = new(rooms.EndedData)
			if err := json.Unmarshal(e.Data, ended); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("read room %s: %w", job.Room, err)
	}
	if ended == nil {
		return bus.Permanent(fmt.Errorf("room %s has not ended", job.Room))
	}
	if err := r.sink.WriteRoom(ctx, &rooms.Archive{Summary: ended.Summary, Events: evs}); err != nil {
		return err
	}
	return r.store.MarkArchived(ctx, job.Room, r.m.Clock.Now())
}

// homeJob precomputes homes.
func (r *roomsApp) homeJob(ctx context.Context, j bus.Job) error {
	var job homeJobData
	if err := json.Unmarshal(j.Data, &job); err != nil {
		return bus.Permanent(fmt.Errorf("bad home job %q", j.Data))
	}
	item := rooms.HomeItem{Room: job.Room, Via: job.Via, Reason: job.Reason, At: job.At}
	switch job.Kind {
	case homeFanOut:
		_, err := r.store.FanOut(ctx, job.Via, item)
		return err
	case homeInvited:
		return r.store.AddHome(ctx, job.Users, item)
	case homeEnded:
		return r.store.RemoveRoom(ctx, job.Room)
	case homeRebuild:
		return r.store.RebuildHome(ctx, job.User, r.m.Clock.Now())
	}
	return bus.Permanent(fmt.Errorf("unknown home job kind %q", job.Kind))
}

// sweep runs every SweepInterval: it wakes rooms past their expiry (their
// actors end them, even if nothing else would load them) and enqueues the
// analytics of ended rooms whose job was lost (a crash between the end and
// the enqueue).
func (r *roomsApp) sweep() {
	defer r.wg.Done()
	t := time.NewTicker(r.cfg.SweepInterval)
	defer t.Stop()
	for {
		select {
		case <-r.stop:
			return
		case <-t.C:
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		r.sweepOnce(ctx)
		cancel()
	}
}

func (r *roomsApp) sweepOnce(ctx context.Context) {
	now := r.m.Clock.Now()
	overdue, err := r.store.Overdue(ctx, now, 500)
	if err != nil {
		r.log.Warn("sweep: overdue rooms", "err", err)
	}
	for _, id := range overdue {
		if err := r.m.host.Tell(ctx, id.Stream(), actor.Command{Name: rooms.CmdExpire}); err != nil {
			r.log.Warn("sweep: expire room", "room", id, "err", err)
		}
	}
	if r.sink == nil {
		return
	}
	lost, err := r.store.Unarchived(ctx, now.Add(-max(r.cfg.AnalyticsAckWait, time.Minute)), 500)
	if err != nil && !errs.Is(err, errs.NotFound) {
		r.log.Warn("sweep: unarchived rooms", "err", err)
	}
	for _, id := range lost {
		r.enqueueAnalytics(ctx, id)
	}
}
