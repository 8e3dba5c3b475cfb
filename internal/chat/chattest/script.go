// Package chattest is the contract test suite that every implementation of
// chat.Store must pass (Run), and the helpers it and the benchmarks share:
// Script makes realistic event streams by running the chat domain's own
// writers, the way actor.Host does.
package chattest

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/parleyhq/parley/internal/actor"
	"github.com/parleyhq/parley/internal/chat"
	"github.com/parleyhq/parley/internal/core"
	"github.com/parleyhq/parley/internal/eventlog"
)

// Script runs chat commands through the domain's behaviours and records the
// events they decide, with sequences and times, in order. It is not safe
// for concurrent use.
type Script struct {
	T      testing.TB
	Now    time.Time
	Events []eventlog.Event
	all    []eventlog.Event
	beh    map[core.StreamID]actor.Behavior
	seqs   map[core.StreamID]uint64
	lim    chat.Limits
}

// NewScript returns an empty Script whose clock starts at a fixed time.
func NewScript(t testing.TB) *Script {
	return &Script{T: t, Now: time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC), beh: map[core.StreamID]actor.Behavior{},
		seqs: map[core.StreamID]uint64{}, lim: chat.DefaultLimits()}
}

func (s *Script) behavior(st core.StreamID) actor.Behavior {
	b := s.beh[st]
	if b == nil {
		switch st.Kind() {
		case chat.KindWorkspace:
			b = chat.NewWorkspace(s.lim)(st)
		case chat.KindChannel:
			b = chat.NewChannel(s.lim)(st)
		default:
			b = chat.NewInbox()(st)
		}
		s.beh[st] = b
	}
	return b
}

// Do runs one command, one second after the previous one, and returns its
// events; it fails the test if the command is refused.
func (s *Script) Do(st core.StreamID, name string, who core.UserID, data any) []eventlog.Event {
	s.T.Helper()
	raw, _ := json.Marshal(data)
	s.Now = s.Now.Add(time.Second)
	cmd := actor.Command{Name: name, Actor: who, Data: raw, Time: s.Now}
	b := s.behavior(st)
	d, err := b.Decide(&cmd)
	if err != nil {
		s.T.Fatalf("chattest: %s %s by %s: %v", st, name, who, err)
	}
	var out []eventlog.Event
	for _, dr := range d.Events {
		if dr.Actor == "" {
			dr.Actor = who
		}
		s.seqs[st]++
		ev := eventlog.Event{Stream: st, Seq: s.seqs[st], Type: dr.Type, Time: s.Now, Actor: dr.Actor, Data: dr.Data}
		b.Apply(&ev)
		out = append(out, ev)
	}
	s.Events = append(s.Events, out...)
	s.all = append(s.all, out...)
	return out
}

// Take returns the events recorded since the last Take and forgets them.
func (s *Script) Take() []eventlog.Event {
	out := s.Events
	s.Events = nil
	return out
}

// All returns every event the script recorded, Take or not.
func (s *Script) All() []eventlog.Event { return s.all }

// Workspace creates workspace ws owned by owner, with the other users as
// members, and a public #general holding everyone.
func (s *Script) Workspace(ws chat.WorkspaceID, owner core.UserID, members ...core.UserID) chat.ChannelID {
	s.Do(ws.Stream(), chat.CmdWorkspaceCreate, owner, chat.CreateWorkspace{Name: "Workspace " + string(ws), Profile: Profile(owner)})
	all := []chat.ChannelMember{{User: owner}}
	for _, m := range members {
		s.Do(ws.Stream(), chat.CmdMemberAdd, owner, chat.AddMember{User: m, Profile: Profile(m)})
		all = append(all, chat.ChannelMember{User: m})
	}
	gen := chat.ChannelID("c_general_" + string(ws))
	s.Channel(ws, gen, "general", chat.Public, owner, all...)
	return gen
}

// Channel creates a channel with members.
func (s *Script) Channel(ws chat.WorkspaceID, id chat.ChannelID, name string, kind chat.ChannelKind, by core.UserID, members ...chat.ChannelMember) {
	s.Do(ws.Stream(), chat.CmdChannelReserve, by, chat.ReserveChannel{Channel: id, Name: name, Private: kind == chat.Private})
	s.Do(id.Stream(), chat.CmdChannelOpen, by, chat.OpenChannel{ChannelOpened: chat.ChannelOpened{Workspace: ws, Kind: kind, Name: name}, Members: members})
}

// Post posts text to ch as who (mentions and threads as given) and returns
// the message's id and sequence.
func (s *Script) Post(ch chat.ChannelID, who core.UserID, p chat.MessagePosted) (chat.MessageID, uint64) {
	evs := s.Do(ch.Stream(), chat.CmdPost, who, chat.PostMessage{MessagePosted: p})
	var e chat.MessagePosted
	_ = json.Unmarshal(evs[0].Data, &e)
	return e.ID, evs[0].Seq
}

// Profile is the profile the script gives user u.
func Profile(u core.UserID) chat.Profile {
	return chat.Profile{Handle: "h_" + string(u), DisplayName: "Name " + string(u)}
}
