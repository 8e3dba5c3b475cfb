package app

import (
	"context"
	"encoding/json"

	"github.com/parleyhq/parley/internal/actor"
	"github.com/parleyhq/parley/internal/core"
	"github.com/parleyhq/parley/internal/errs"
	"github.com/parleyhq/parley/internal/gateway"
	"github.com/parleyhq/parley/internal/presence"
	"github.com/parleyhq/parley/internal/protocol"
	"github.com/parleyhq/parley/internal/topics"
)

// Stream kinds of the platform core. Domains register theirs in their own
// files.
const (
	KindUser     = "user"     // user:<id>: events about one user, visible to that user only
	KindPresence = "presence" // presence:<id>: ephemeral presence changes of one user
)

// EventPresence is the type of presence change events.
const EventPresence = "presence"

// registerCore registers the platform's own stream kinds and methods.
func (m *Main) registerCore() {
	m.gw.RegisterKind(KindUser, gateway.Kind{
		Authorize: func(_ context.Context, user core.UserID, s core.StreamID) error {
			if core.UserID(s.ID()) != user {
				return errs.E(errs.Forbidden, "a user stream is visible to its user only")
			}
			return nil
		},
	})
	m.gw.RegisterKind(KindPresence, gateway.Kind{
		Ephemeral: true,
		Authorize: func(ctx context.Context, user core.UserID, s core.StreamID) error {
			return m.canSeePresence(ctx, user, core.UserID(s.ID()))
		},
		Snapshot: func(ctx context.Context, _ core.UserID, s core.StreamID) (*protocol.Frame, error) {
			return presenceFrame(m.dir.Get(ctx, core.UserID(s.ID()))), nil
		},
	})
	m.gw.Handle("presence.get", m.presenceGet)
	if m.Config.Topics.Enabled {
		m.host.Register(topics.Kind, topics.New)
		m.gw.RegisterKind(topics.Kind, gateway.Kind{
			Authorize: func(context.Context, core.UserID, core.StreamID) error { return nil },
		})
		m.gw.Handle("topic.publish", m.topicPublish)
	}
}

// PresenceRule decides whether viewer may see target's presence. The
// platform core lets any signed-in user see anyone's presence; a deployment
// with workspaces narrows it to people who share one.
type PresenceRule func(ctx context.Context, viewer, target core.UserID) error

func (m *Main) canSeePresence(ctx context.Context, viewer, target core.UserID) error {
	if !core.ValidToken(string(target)) {
		return errs.E(errs.InvalidArgument, "bad user id")
	}
	if m.presenceRule != nil {
		return m.presenceRule(ctx, viewer, target)
	}
	return nil
}

func presenceFrame(p presence.Presence) *protocol.Frame {
	data, _ := json.Marshal(p)
	return protocol.EncodeEphemeral(core.NewStreamID(KindPresence, string(p.User)), EventPresence, p.LastSeen, "", data)
}

// onPresence delivers a presence change to this node's subscribers of the
// user's presence stream. Every node runs the same directory watch, so each
// delivers to its own subscribers and nothing crosses the bus.
func (m *Main) onPresence(p presence.Presence) {
	m.metrics.PresenceOnline.Set(float64(m.dir.OnlineCount()))
	m.gw.DeliverLocal(core.NewStreamID(KindPresence, string(p.User)), presenceFrame(p))
}

// PresenceGetParams are the params of presence.get.
type PresenceGetParams struct {
	Users []core.UserID `json:"users"`
}

func (m *Main) presenceGet(ctx context.Context, c gateway.Caller, params json.RawMessage) (any, error) {
	var p PresenceGetParams
	if err := gateway.DecodeParams(params, &p); err != nil {
		return nil, err
	}
	if len(p.Users) == 0 || len(p.Users) > 500 {
		return nil, errs.E(errs.InvalidArgument, "ask for 1-500 users")
	}
	out := make([]presence.Presence, 0, len(p.Users))
	for _, u := range p.Users {
		if err := m.canSeePresence(ctx, c.User, u); err != nil {
			return nil, err
		}
		out = append(out, m.dir.Get(ctx, u))
	}
	return map[string]any{"users": out}, nil
}

// TopicPublishParams are the params of topic.publish.
type TopicPublishParams struct {
	Stream core.StreamID   `json:"stream"`
	Event  string          `json:"event,omitempty"`
	Data   json.RawMessage `json:"data"`
	Key    string          `json:"key,omitempty"`
}

func (m *Main) topicPublish(ctx context.Context, c gateway.Caller, params json.RawMessage) (any, error) {
	var p TopicPublishParams
	if err := gateway.DecodeParams(params, &p); err != nil {
		return nil, err
	}
	if err := p.Stream.Validate(); err != nil || p.Stream.Kind() != topics.Kind {
		return nil, errs.E(errs.InvalidArgument, "stream must be topic:<name>")
	}
	data, _ := json.Marshal(topics.Publish{Event: p.Event, Data: p.Data})
	res, err := m.host.Do(ctx, p.Stream, actor.Command{Name: topics.CommandPublish, Actor: c.User, Data: data, Key: p.Key})
	if err != nil {
		return nil, err
	}
	var seq uint64
	if len(res.Events) > 0 {
		seq = res.Events[0].Seq
	}
	return map[string]any{"stream": p.Stream, "seq": seq, "duplicate": res.Duplicate}, nil
}

// PushToUser delivers an event to every connection of user, on whichever
// nodes they are connected. Delivery is at most once per connection and
// only to connections open at the time; durable notifications belong in the
// user's stream.
func (m *Main) PushToUser(user core.UserID, event string, data json.RawMessage) {
	m.push.Push(user, protocol.MustEncode(protocol.Push{Type: protocol.TypePush, Event: event, Time: m.Clock.Now().UTC(), Data: data}))
}
