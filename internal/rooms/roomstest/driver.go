// Package roomstest holds what the rooms tests share: a driver that runs a
// room's Behavior the way the actor host does (decide, stamp, apply), the
// permission cases that the unit tests and the end-to-end tests both walk,
// and the contract suites of the rooms stores.
package roomstest

import (
	"encoding/json"
	"time"

	"github.com/parleyhq/parley/internal/actor"
	"github.com/parleyhq/parley/internal/core"
	"github.com/parleyhq/parley/internal/eventlog"
	"github.com/parleyhq/parley/internal/rooms"
)

// Driver runs one room's Behavior like the actor host: each command is
// decided at the driver's clock, and its events get the next sequences and
// are applied before the next command. It is not safe for concurrent use.
type Driver struct {
	B      *rooms.Behavior
	Room   rooms.RoomID
	Now    time.Time
	Log    []eventlog.Event // the events logged (callers may truncate it)
	Seq    uint64           // the last sequence
	Eph    []actor.Ephemeral
	Notify []actor.Notice
}

// Epoch is the driver's starting time.
var Epoch = time.Date(2030, 1, 2, 10, 0, 0, 0, time.UTC)

// NewDriver returns a driver of a new room under lim.
func NewDriver(lim rooms.Limits) *Driver {
	id := rooms.RoomID("r_test")
	return &Driver{B: rooms.New(id, lim), Room: id, Now: Epoch}
}

// Do runs command name as user with in and acc, and returns its reply.
func (d *Driver) Do(user core.UserID, name string, in rooms.Input, acc rooms.Access) (any, error) {
	return d.DoRaw(user, name, rooms.Encode(in, acc))
}

// DoRaw runs command name as user with raw command data (fuzz tests).
func (d *Driver) DoRaw(user core.UserID, name string, data json.RawMessage) (any, error) {
	cmd := &actor.Command{Name: name, Actor: user, Data: data, Time: d.Now}
	dec, err := d.B.Decide(cmd)
	if err != nil {
		return nil, err
	}
	d.commit(dec, user)
	return dec.Reply, nil
}

func (d *Driver) commit(dec actor.Decision, user core.UserID) {
	for _, dr := range dec.Events {
		if dr.Actor == "" {
			dr.Actor = user
		}
		d.Seq++
		ev := eventlog.Event{Stream: d.Room.Stream(), Seq: d.Seq, Type: dr.Type, Time: d.Now, Actor: dr.Actor, Data: dr.Data}
		d.B.Apply(&ev)
		d.Log = append(d.Log, ev)
	}
	d.Eph = append(d.Eph, dec.Ephemeral...)
	d.Notify = append(d.Notify, dec.Notify...)
}

// Tick runs one tick at the driver's clock.
func (d *Driver) Tick() {
	if dec, ok := d.B.Tick(d.Now); ok {
		d.commit(dec, "")
	}
}

// Advance moves the clock by dt in steps of the tick interval, ticking at
// each step.
func (d *Driver) Advance(dt time.Duration) {
	step := d.B.TickInterval()
	end := d.Now.Add(dt)
	for d.Now.Before(end) {
		d.Now = d.Now.Add(min(step, end.Sub(d.Now)))
		d.Tick()
	}
}

// Events returns the logged events of type typ.
func (d *Driver) Events(typ string) []eventlog.Event {
	var out []eventlog.Event
	for _, e := range d.Log {
		if e.Type == typ {
			out = append(out, e)
		}
	}
	return out
}

// Snapshot returns user's view of the room.
func (d *Driver) Snapshot(user core.UserID) rooms.Snapshot {
	r, err := d.Do(user, rooms.CmdGet, rooms.Input{}, rooms.Access{})
	if err != nil {
		panic(err)
	}
	return r.(rooms.Snapshot)
}

// Replay folds the driver's log into a new Behavior, as a restarted actor
// would.
func (d *Driver) Replay(lim rooms.Limits) *rooms.Behavior {
	b := rooms.New(d.Room, lim)
	for i := range d.Log {
		b.Apply(&d.Log[i])
	}
	return b
}

// JSON returns v encoded, for comparisons.
func JSON(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}
