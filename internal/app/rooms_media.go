package app

import (
	"context"
	"encoding/json"

	"github.com/parleyhq/parley/internal/actor"
	"github.com/parleyhq/parley/internal/core"
	"github.com/parleyhq/parley/internal/eventlog"
	"github.com/parleyhq/parley/internal/media"
	"github.com/parleyhq/parley/internal/rooms"
)

// roomMedia are the audio rules of room streams: the participants of a
// live room may join its audio; the stage (host, moderators, speakers)
// sends unless muted, everyone else listens. The media server follows the
// room's events: each event that changes the stage carries the whole stage,
// which becomes everyone's policy at that event's sequence.
type roomMedia struct{ r *roomsApp }

var _ MediaEventRules = roomMedia{}

// MediaJoin gives a participant their policy, versioned with the last
// event the room's state folded.
func (rm roomMedia) MediaJoin(ctx context.Context, session core.StreamID, user core.UserID) (media.Policy, error) {
	id, _ := rooms.RoomOf(session)
	if _, err := rm.r.roomMeta(ctx, id); err != nil {
		return media.Policy{}, err
	}
	res, err := rm.r.m.host.Do(ctx, session, actor.Command{Name: rooms.CmdMedia, Actor: user})
	if err != nil {
		return media.Policy{}, err
	}
	st, err := replyAs[rooms.MediaState](res.Reply)
	if err != nil {
		return media.Policy{}, err
	}
	return media.Policy{CanSend: st.OnStage, Muted: st.Muted, Version: st.Seq}, nil
}

// MediaLeft needs nothing: a participant's presence follows their watch of
// the room's stream, not their audio.
func (roomMedia) MediaLeft(core.StreamID, core.UserID, string) {}

// MediaPolicies reads the stage an event carries.
func (roomMedia) MediaPolicies(ev *eventlog.Event) (map[core.UserID]media.Policy, bool, bool) {
	var d struct {
		Stage *[]rooms.StageMember `json:"stage"`
	}
	if json.Unmarshal(ev.Data, &d) != nil || d.Stage == nil {
		return nil, false, false
	}
	out := make(map[core.UserID]media.Policy, len(*d.Stage))
	for _, s := range *d.Stage {
		out[s.User] = media.Policy{CanSend: true, Muted: s.Muted, Version: ev.Seq}
	}
	return out, true, true
}

// dropFromAudio takes user out of the room's audio on this node (kicked or
// blocked), or ends the room's audio (user empty: the room ended).
func (m *Main) dropFromAudio(room rooms.RoomID, user core.UserID) {
	srv := m.MediaServer()
	if srv == nil {
		return
	}
	if user == "" {
		srv.EndSession(media.SessionID(room.Stream()))
		return
	}
	srv.Leave(media.SessionID(room.Stream()), media.ParticipantID(user))
}
