// Package calls is the domain of team audio calls ("call:<id>" streams): an
// ad-hoc call started in a channel or DM, or with a list of people, that
// rings its members on all their devices; members join, decline or leave,
// and the call ends when the last person in it leaves (or, before anyone
// joined, when nobody is left to answer). Members who neither join nor
// decline within the ring timeout are recorded as missed.
//
// The package holds rules and state only and does no I/O: the actor host
// runs it, the app connects the call's audio to the media server.
package calls

import (
	"encoding/json"
	"slices"
	"time"

	"github.com/parleyhq/parley/internal/actor"
	"github.com/parleyhq/parley/internal/core"
	"github.com/parleyhq/parley/internal/errs"
	"github.com/parleyhq/parley/internal/eventlog"
)

// Kind is the stream kind of calls.
const Kind = "call"

// Event types.
const (
	EventStarted  = "call.started"
	EventJoined   = "call.joined"
	EventDeclined = "call.declined"
	EventLeft     = "call.left"
	EventMissed   = "call.missed"
	EventEnded    = "call.ended"
)

// Commands.
const (
	CommandStart   = "start"
	CommandJoin    = "join"
	CommandDecline = "decline"
	CommandLeave   = "leave"
)

// Pushes sent to members' devices.
const (
	PushRing      = "call.ring"       // a call rings: show it on every device
	PushRingEnded = "call.ring_ended" // stop ringing: answered or declined on another device, missed, or the call ended
)

// Start is the data of CommandStart. The starter is a member; like everyone
// else, the starter is in the call once joined (the app joins the call's
// audio right after starting it).
type Start struct {
	// Conversation, if set, is the channel or DM the call belongs to.
	Conversation core.StreamID `json:"conversation,omitempty"`
	Members      []core.UserID `json:"members"`
}

// Leave is the data of CommandLeave.
type Leave struct {
	Reason string `json:"reason,omitempty"`
}

// Started is the data of EventStarted.
type Started struct {
	Conversation core.StreamID `json:"conversation,omitempty"`
	Members      []core.UserID `json:"members"`
}

// Left is the data of EventLeft.
type Left struct {
	User   core.UserID `json:"user"`
	Reason string      `json:"reason,omitempty"`
}

// Member is the data of EventJoined and EventDeclined.
type Member struct {
	User core.UserID `json:"user"`
}

// Missed is the data of EventMissed.
type Missed struct {
	Users []core.UserID `json:"users"`
}

// Ended is the data of EventEnded.
type Ended struct {
	Reason     string `json:"reason"` // last_left, declined, no_answer
	DurationMS int64  `json:"duration_ms"`
}

// Ring is the data of the PushRing and PushRingEnded pushes.
type Ring struct {
	Call         core.StreamID `json:"call"`
	By           core.UserID   `json:"by,omitempty"`
	Conversation core.StreamID `json:"conversation,omitempty"`
	Members      []core.UserID `json:"members,omitempty"`
	Reason       string        `json:"reason,omitempty"` // PushRingEnded: answered, declined, missed, ended
}

// Status of a call.
type Status string

// Statuses.
const (
	StatusNone   Status = ""       // not started
	StatusActive Status = "active" // started, not ended
	StatusEnded  Status = "ended"
)

// State is what a call's events fold into.
type State struct {
	Stream       core.StreamID        `json:"stream"`
	Status       Status               `json:"status"`
	Conversation core.StreamID        `json:"conversation,omitempty"`
	StartedBy    core.UserID          `json:"started_by,omitempty"`
	StartedAt    time.Time            `json:"started_at,omitzero"`
	EndedAt      time.Time            `json:"ended_at,omitzero"`
	Members      []core.UserID        `json:"members"`
	In           map[core.UserID]bool `json:"in"`
	Ringing      map[core.UserID]bool `json:"ringing"`
	Declined     map[core.UserID]bool `json:"declined"`
	Missed       map[core.UserID]bool `json:"missed"`
	member       map[core.UserID]bool
}

// IsMember reports whether u is a member of the call. It works on a state
// decoded from JSON too (an actor on another node answers in JSON).
func (s *State) IsMember(u core.UserID) bool { return slices.Contains(s.Members, u) }

// Options are the rules' limits.
type Options struct {
	MaxMembers  int
	RingTimeout time.Duration
}

// Behavior implements actor.Behavior and actor.Ticker for calls.
type Behavior struct {
	o Options
	s State
}

var (
	_ actor.Behavior = (*Behavior)(nil)
	_ actor.Ticker   = (*Behavior)(nil)
)

// New returns the factory of call behaviours with the given limits.
func New(o Options) actor.Factory {
	return func(stream core.StreamID) actor.Behavior {
		return &Behavior{o: o, s: State{
			Stream: stream, In: map[core.UserID]bool{}, Ringing: map[core.UserID]bool{},
			Declined: map[core.UserID]bool{}, Missed: map[core.UserID]bool{}, member: map[core.UserID]bool{},
		}}
	}
}

// State returns the state view.
func (b *Behavior) State() any { return b.s }

// Apply folds an event into the state.
func (b *Behavior) Apply(ev *eventlog.Event) {
	s := &b.s
	switch ev.Type {
	case EventStarted:
		var d Started
		_ = json.Unmarshal(ev.Data, &d)
		s.Status = StatusActive
		s.Conversation = d.Conversation
		s.StartedBy = ev.Actor
		s.StartedAt = ev.Time
		s.Members = d.Members
		for _, u := range d.Members {
			s.member[u] = true
			if u != ev.Actor {
				s.Ringing[u] = true
			}
		}
	case EventJoined:
		var d Member
		_ = json.Unmarshal(ev.Data, &d)
		s.In[d.User] = true
		delete(s.Ringing, d.User)
		delete(s.Declined, d.User)
		delete(s.Missed, d.User)
	case EventDeclined:
		var d Member
		_ = json.Unmarshal(ev.Data, &d)
		s.Declined[d.User] = true
		delete(s.Ringing, d.User)
	case EventMissed:
		var d Missed
		_ = json.Unmarshal(ev.Data, &d)
		for _, u := range d.Users {
			s.Missed[u] = true
			delete(s.Ringing, u)
		}
	case EventLeft:
		var d Left
		_ = json.Unmarshal(ev.Data, &d)
		delete(s.In, d.User)
	case EventEnded:
		s.Status = StatusEnded
		s.EndedAt = ev.Time
		clear(s.In)
		clear(s.Ringing)
	}
}

func draft(typ string, actor core.UserID, v any) eventlog.Draft {
	data, _ := json.Marshal(v)
	return eventlog.Draft{Type: typ, Actor: actor, Data: data}
}

func (b *Behavior) notice(u core.UserID, event string, r Ring) actor.Notice {
	r.Call = b.s.Stream
	data, _ := json.Marshal(r)
	return actor.Notice{User: u, Event: event, Data: data}
}

// Decide validates a command.
func (b *Behavior) Decide(cmd *actor.Command) (actor.Decision, error) {
	s := &b.s
	if cmd.Name == CommandStart {
		return b.start(cmd)
	}
	switch s.Status {
	case StatusNone:
		return actor.Decision{}, errs.E(errs.NotFound, "no call %s", s.Stream)
	case StatusEnded:
		return actor.Decision{}, errs.E(errs.Closed, "the call has ended")
	}
	if !s.member[cmd.Actor] {
		return actor.Decision{}, errs.E(errs.Forbidden, "not a member of this call")
	}
	u := cmd.Actor
	switch cmd.Name {
	case CommandJoin:
		if s.In[u] {
			return actor.Decision{Reply: b.s.Stream}, nil
		}
		return actor.Decision{
			Events: []eventlog.Draft{draft(EventJoined, u, Member{User: u})},
			// Stop the ring on the member's other devices.
			Notify: []actor.Notice{b.notice(u, PushRingEnded, Ring{Reason: "answered"})},
		}, nil
	case CommandDecline:
		if s.In[u] || s.Declined[u] {
			return actor.Decision{}, errs.E(errs.Conflict, "nothing to decline")
		}
		dec := actor.Decision{
			Events: []eventlog.Draft{draft(EventDeclined, u, Member{User: u})},
			Notify: []actor.Notice{b.notice(u, PushRingEnded, Ring{Reason: "declined"})},
		}
		if len(s.In) == 0 && len(s.Ringing) == 1 && s.Ringing[u] {
			b.end(&dec, cmd.Time, u, "declined", u)
		}
		return dec, nil
	case CommandLeave:
		if !s.In[u] {
			return actor.Decision{}, nil
		}
		var d Leave
		if len(cmd.Data) > 0 {
			if err := json.Unmarshal(cmd.Data, &d); err != nil {
				return actor.Decision{}, errs.E(errs.InvalidArgument, "bad leave: %v", err)
			}
		}
		dec := actor.Decision{Events: []eventlog.Draft{draft(EventLeft, u, Left{User: u, Reason: d.Reason})}}
		if len(s.In) == 1 {
			b.end(&dec, cmd.Time, u, "last_left", "")
		}
		return dec, nil
	}
	return actor.Decision{}, errs.E(errs.UnknownMethod, "calls do not take %q", cmd.Name)
}

// end adds the end of the call to dec: the event, and a stop to every ring
// but skip's (who already got one).
func (b *Behavior) end(dec *actor.Decision, now time.Time, by core.UserID, reason string, skip core.UserID) {
	s := &b.s
	dec.Events = append(dec.Events, draft(EventEnded, by, Ended{Reason: reason, DurationMS: now.Sub(s.StartedAt).Milliseconds()}))
	for _, u := range sortedKeys(s.Ringing) {
		if u != skip {
			dec.Notify = append(dec.Notify, b.notice(u, PushRingEnded, Ring{Reason: "ended"}))
		}
	}
}

func (b *Behavior) start(cmd *actor.Command) (actor.Decision, error) {
	if b.s.Status != StatusNone {
		return actor.Decision{}, errs.E(errs.AlreadyExists, "call %s exists", b.s.Stream)
	}
	var d Start
	if err := json.Unmarshal(cmd.Data, &d); err != nil {
		return actor.Decision{}, errs.E(errs.InvalidArgument, "bad start: %v", err)
	}
	seen := map[core.UserID]bool{cmd.Actor: true}
	members := []core.UserID{cmd.Actor}
	for _, u := range d.Members {
		if !core.ValidToken(string(u)) {
			return actor.Decision{}, errs.E(errs.InvalidArgument, "bad member id %q", u)
		}
		if !seen[u] {
			seen[u] = true
			members = append(members, u)
		}
	}
	if len(members) < 2 {
		return actor.Decision{}, errs.E(errs.InvalidArgument, "a call needs someone to call")
	}
	if len(members) > b.o.MaxMembers {
		return actor.Decision{}, errs.E(errs.LimitExceeded, "a call has at most %d members", b.o.MaxMembers)
	}
	dec := actor.Decision{
		Events: []eventlog.Draft{draft(EventStarted, cmd.Actor, Started{Conversation: d.Conversation, Members: members})},
		Reply:  b.s.Stream,
	}
	for _, u := range members[1:] {
		dec.Notify = append(dec.Notify, b.notice(u, PushRing, Ring{By: cmd.Actor, Conversation: d.Conversation, Members: members}))
	}
	return dec, nil
}

// TickInterval is how often Tick checks the ring deadline.
func (b *Behavior) TickInterval() time.Duration { return time.Second }

// Busy keeps the actor resident while it rings.
func (b *Behavior) Busy() bool { return b.s.Status == StatusActive && len(b.s.Ringing) > 0 }

// Tick records the members who let the call ring out.
func (b *Behavior) Tick(now time.Time) (actor.Decision, bool) {
	s := &b.s
	if s.Status != StatusActive || len(s.Ringing) == 0 || now.Sub(s.StartedAt) < b.o.RingTimeout {
		return actor.Decision{}, false
	}
	users := sortedKeys(s.Ringing)
	dec := actor.Decision{Events: []eventlog.Draft{draft(EventMissed, "", Missed{Users: users})}}
	for _, u := range users {
		dec.Notify = append(dec.Notify, b.notice(u, PushRingEnded, Ring{Reason: "missed"}))
	}
	if len(s.In) == 0 {
		dec.Events = append(dec.Events, draft(EventEnded, "", Ended{Reason: "no_answer", DurationMS: now.Sub(s.StartedAt).Milliseconds()}))
	}
	return dec, true
}

func sortedKeys(m map[core.UserID]bool) []core.UserID {
	out := make([]core.UserID, 0, len(m))
	for u := range m {
		out = append(out, u)
	}
	slices.Sort(out)
	return out
}
