package app

import (
	"context"
	"encoding/json"
	"time"

	"github.com/parleyhq/parley/internal/actor"
	"github.com/parleyhq/parley/internal/calls"
	"github.com/parleyhq/parley/internal/core"
	"github.com/parleyhq/parley/internal/errs"
	"github.com/parleyhq/parley/internal/gateway"
	"github.com/parleyhq/parley/internal/media"
)

// registerCalls wires team calls: the call actor, the call stream kind (its
// members may watch it), the call methods, and the call's audio.
func (m *Main) registerCalls() {
	cfg := m.Config.Media
	m.host.Register(calls.Kind, calls.New(calls.Options{MaxMembers: cfg.CallMaxMembers, RingTimeout: cfg.CallRingTimeout}))
	m.gw.RegisterKind(calls.Kind, gateway.Kind{
		Authorize: func(ctx context.Context, user core.UserID, s core.StreamID) error {
			_, err := m.callMember(ctx, s, user)
			return err
		},
	})
	m.RegisterMediaKind(calls.Kind, callRules{m}, false)
	m.gw.Handle("call.start", m.callStart)
	m.gw.Handle("call.decline", m.callDecline)
}

// callMember returns the call's state if user is one of its members.
func (m *Main) callMember(ctx context.Context, s core.StreamID, user core.UserID) (calls.State, error) {
	v, err := m.host.Inspect(ctx, s)
	if err != nil {
		return calls.State{}, err
	}
	st, ok := v.(calls.State)
	if raw, isJSON := v.(json.RawMessage); isJSON {
		// The call's actor runs on another node, which answered in JSON.
		ok = json.Unmarshal(raw, &st) == nil
	}
	if !ok || st.Status == calls.StatusNone || !st.IsMember(user) {
		return calls.State{}, errs.E(errs.NotFound, "no call %s", s)
	}
	return st, nil
}

// callRules connects a call's audio to the call: joining the audio joins
// the call, every member may speak, and losing the audio leaves the call.
type callRules struct{ m *Main }

func (r callRules) MediaJoin(ctx context.Context, s core.StreamID, user core.UserID) (media.Policy, error) {
	if _, err := r.m.host.Do(ctx, s, actor.Command{Name: calls.CommandJoin, Actor: user}); err != nil {
		return media.Policy{}, err
	}
	return media.Policy{CanSend: true}, nil
}

func (r callRules) MediaLeft(s core.StreamID, user core.UserID, reason string) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	data, _ := json.Marshal(calls.Leave{Reason: reason})
	if _, err := r.m.host.Do(ctx, s, actor.Command{Name: calls.CommandLeave, Actor: user, Data: data}); err != nil && !errs.Is(err, errs.Closed) && !errs.Is(err, errs.Unavailable) {
		r.m.Logger.Warn("leave call", "call", string(s), "user", string(user), "err", err)
	}
}

// CallStartParams are the params of call.start: a conversation (channel or
// DM) whose members the call rings, or an explicit list of members.
type CallStartParams struct {
	Conversation core.StreamID `json:"conversation,omitempty"`
	Members      []core.UserID `json:"members,omitempty"`
}

// CallStartResult answers call.start.
type CallStartResult struct {
	Call    core.StreamID `json:"call"`
	Members []core.UserID `json:"members"`
}

func (m *Main) callStart(ctx context.Context, c gateway.Caller, params json.RawMessage) (any, error) {
	var p CallStartParams
	if err := gateway.DecodeParams(params, &p); err != nil {
		return nil, err
	}
	members := p.Members
	if p.Conversation != "" {
		if err := p.Conversation.Validate(); err != nil {
			return nil, errs.Wrap(errs.InvalidArgument, err, "bad conversation")
		}
		if m.media.members == nil {
			return nil, errs.E(errs.Unavailable, "calls in a conversation need the chat domain; give members instead")
		}
		list, err := m.media.members.Members(ctx, p.Conversation)
		if err != nil {
			return nil, err
		}
		in := false
		for _, u := range list {
			in = in || u == c.User
		}
		if !in {
			return nil, errs.E(errs.Forbidden, "not a member of %s", p.Conversation)
		}
		members = list
	}
	if len(members) == 0 {
		return nil, errs.E(errs.InvalidArgument, "give a conversation or members")
	}
	if len(members) > m.Config.Media.CallMaxMembers+1 {
		return nil, errs.E(errs.LimitExceeded, "a call has at most %d members", m.Config.Media.CallMaxMembers)
	}
	data, _ := json.Marshal(calls.Start{Conversation: p.Conversation, Members: members})
	stream := core.NewStreamID(calls.Kind, core.NewID("c"))
	if _, err := m.host.Do(ctx, stream, actor.Command{Name: calls.CommandStart, Actor: c.User, Data: data}); err != nil {
		return nil, err
	}
	st, err := m.callMember(ctx, stream, c.User)
	if err != nil {
		return nil, err
	}
	return CallStartResult{Call: stream, Members: st.Members}, nil
}

// CallParams name a call.
type CallParams struct {
	Call core.StreamID `json:"call"`
}

func (m *Main) callDecline(ctx context.Context, c gateway.Caller, params json.RawMessage) (any, error) {
	var p CallParams
	if err := gateway.DecodeParams(params, &p); err != nil {
		return nil, err
	}
	if err := p.Call.Validate(); err != nil || p.Call.Kind() != calls.Kind {
		return nil, errs.E(errs.InvalidArgument, "call must be call:<id>")
	}
	if _, err := m.host.Do(ctx, p.Call, actor.Command{Name: calls.CommandDecline, Actor: c.User}); err != nil {
		return nil, err
	}
	return struct{}{}, nil
}
