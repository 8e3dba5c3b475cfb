package chat

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/parleyhq/parley/internal/actor"
	"github.com/parleyhq/parley/internal/core"
	"github.com/parleyhq/parley/internal/errs"
	"github.com/parleyhq/parley/internal/eventlog"
)

// world runs commands against behaviours the way actor.Host does (decide,
// stamp, apply), keeps every stream's events, and feeds a View.
type world struct {
	t       *testing.T
	now     time.Time
	streams map[core.StreamID]actor.Behavior
	log     map[core.StreamID][]eventlog.Event
	view    *View
	notes   []Note
	lim     Limits
}

func newWorld(t *testing.T) *world {
	return &world{t: t, now: time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC), streams: map[core.StreamID]actor.Behavior{},
		log: map[core.StreamID][]eventlog.Event{}, view: NewView(0), lim: DefaultLimits()}
}

func (w *world) behavior(s core.StreamID) actor.Behavior {
	b := w.streams[s]
	if b == nil {
		switch s.Kind() {
		case KindWorkspace:
			b = NewWorkspace(w.lim)(s)
		case KindChannel:
			b = NewChannel(w.lim)(s)
		case KindInbox:
			b = NewInbox()(s)
		}
		w.streams[s] = b
	}
	return b
}

// do runs a command and returns its decision's reply, or the error.
func (w *world) do(s core.StreamID, name string, actorID core.UserID, data any) (any, []eventlog.Event, error) {
	w.t.Helper()
	b := w.behavior(s)
	raw, _ := json.Marshal(data)
	w.now = w.now.Add(time.Second)
	cmd := actor.Command{Name: name, Actor: actorID, Data: raw, Time: w.now}
	d, err := b.Decide(&cmd)
	if err != nil {
		return nil, nil, err
	}
	var out []eventlog.Event
	for _, dr := range d.Events {
		if dr.Actor == "" {
			dr.Actor = actorID
		}
		ev := eventlog.Event{Stream: s, Seq: uint64(len(w.log[s]) + 1), Type: dr.Type, Time: w.now, Actor: dr.Actor, Data: dr.Data}
		b.Apply(&ev)
		w.log[s] = append(w.log[s], ev)
		notes, gap := w.view.Apply(&ev)
		if gap {
			w.t.Fatalf("view reported a gap at %s#%d", s, ev.Seq)
		}
		w.notes = append(w.notes, notes...)
		out = append(out, ev)
	}
	return d.Reply, out, nil
}

func (w *world) must(s core.StreamID, name string, actorID core.UserID, data any) []eventlog.Event {
	w.t.Helper()
	_, evs, err := w.do(s, name, actorID, data)
	if err != nil {
		w.t.Fatalf("%s %s by %s: %v", s, name, actorID, err)
	}
	return evs
}

func (w *world) fails(code errs.Code, s core.StreamID, name string, actorID core.UserID, data any) {
	w.t.Helper()
	_, _, err := w.do(s, name, actorID, data)
	if !errs.Is(err, code) {
		w.t.Fatalf("%s %s by %s: err = %v, want %s", s, name, actorID, err, code)
	}
}

// takeNotes returns and forgets the notes so far.
func (w *world) takeNotes() []Note {
	n := w.notes
	w.notes = nil
	return n
}

func prof(h string) Profile { return Profile{Handle: h, DisplayName: h + " Person"} }

// setup makes workspace w1 owned by ann, with bob a member and gus a guest,
// and channels general (everyone) and secret (ann only).
func setup(t *testing.T) (*world, WorkspaceID, ChannelID, ChannelID) {
	w := newWorld(t)
	ws := WorkspaceID("w1")
	w.must(ws.Stream(), CmdWorkspaceCreate, "ann", CreateWorkspace{Name: "Acme", Profile: prof("ann")})
	w.must(ws.Stream(), CmdMemberAdd, "ann", AddMember{User: "bob", Profile: prof("bob")})
	w.must(ws.Stream(), CmdMemberAdd, "ann", AddMember{User: "gus", Role: RoleGuest, Profile: prof("gus")})
	gen, sec := ChannelID("c_general"), ChannelID("c_secret")
	w.must(ws.Stream(), CmdChannelReserve, "ann", ReserveChannel{Channel: gen, Name: "general"})
	w.must(gen.Stream(), CmdChannelOpen, "ann", OpenChannel{ChannelOpened: ChannelOpened{Workspace: ws, Kind: Public, Name: "general"},
		Members: []ChannelMember{{User: "ann"}, {User: "bob"}, {User: "gus", Guest: true}}})
	w.must(ws.Stream(), CmdChannelReserve, "ann", ReserveChannel{Channel: sec, Name: "secret", Private: true})
	w.must(sec.Stream(), CmdChannelOpen, "ann", OpenChannel{ChannelOpened: ChannelOpened{Workspace: ws, Kind: Private, Name: "secret"},
		Members: []ChannelMember{{User: "ann"}}})
	w.takeNotes()
	return w, ws, gen, sec
}

func post(text string) PostMessage { return PostMessage{MessagePosted: MessagePosted{Text: text}} }
