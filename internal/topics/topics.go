// Package topics is the domain of topic streams ("topic:<name>"): open
// publish/subscribe streams for integrations, dashboards and load tests. Any
// signed-in user may subscribe to a topic and publish to it; every message is
// logged like any other event, so subscribers resume topics exactly like
// rooms and channels. Operators turn topics off with topics.enabled=false.
//
// The package holds rules and state only and does no I/O.
package topics

import (
	"encoding/json"
	"time"

	"github.com/parleyhq/parley/internal/actor"
	"github.com/parleyhq/parley/internal/core"
	"github.com/parleyhq/parley/internal/errs"
	"github.com/parleyhq/parley/internal/eventlog"
)

// Kind is the stream kind of topics.
const Kind = "topic"

// EventPublished is the type of a published message.
const EventPublished = "topic.published"

// CommandPublish publishes a message.
const CommandPublish = "publish"

// MaxEventName bounds the application's event name.
const MaxEventName = 48

// Publish is the command data of CommandPublish.
type Publish struct {
	// Event is an application-defined name for the message ("tick",
	// "alert"...), [a-z0-9._-], at most 48 bytes; "message" if empty.
	Event string `json:"event,omitempty"`
	// Data is the message, any JSON value.
	Data json.RawMessage `json:"data"`
}

// Published is the data of EventPublished.
type Published struct {
	Event string          `json:"event"`
	Data  json.RawMessage `json:"data"`
}

// Stream returns the stream of the topic named name.
func Stream(name string) core.StreamID { return core.NewStreamID(Kind, name) }

// State is what a topic's events fold into.
type State struct {
	Stream     core.StreamID  `json:"stream"`
	Messages   uint64         `json:"messages"`
	LastSeq    uint64         `json:"last_seq"`
	LastAt     time.Time      `json:"last_at,omitzero"`
	Publishers map[string]int `json:"publishers"`
}

// Behavior implements actor.Behavior for topics.
type Behavior struct{ s State }

var _ actor.Behavior = (*Behavior)(nil)

// New returns the behaviour of a topic stream.
func New(stream core.StreamID) actor.Behavior {
	return &Behavior{s: State{Stream: stream, Publishers: map[string]int{}}}
}

// Apply folds an event into the state.
func (b *Behavior) Apply(ev *eventlog.Event) {
	b.s.LastSeq = ev.Seq
	if ev.Type == EventPublished {
		b.s.Messages++
		b.s.LastAt = ev.Time
		b.s.Publishers[string(ev.Actor)]++
	}
}

// Decide validates a publish command.
func (b *Behavior) Decide(cmd *actor.Command) (actor.Decision, error) {
	if cmd.Name != CommandPublish {
		return actor.Decision{}, errs.E(errs.UnknownMethod, "topics do not take %q", cmd.Name)
	}
	var p Publish
	if err := json.Unmarshal(cmd.Data, &p); err != nil {
		return actor.Decision{}, errs.E(errs.InvalidArgument, "bad publish: %v", err)
	}
	if p.Event == "" {
		p.Event = "message"
	}
	if !validName(p.Event) {
		return actor.Decision{}, errs.E(errs.InvalidArgument, "event must be 1-%d bytes of [a-z0-9._-]", MaxEventName)
	}
	if len(p.Data) == 0 {
		return actor.Decision{}, errs.E(errs.InvalidArgument, "data is required")
	}
	data, err := json.Marshal(Published(p))
	if err != nil {
		return actor.Decision{}, errs.E(errs.InvalidArgument, "bad data: %v", err)
	}
	return actor.Decision{
		Events: []eventlog.Draft{{Type: EventPublished, Actor: cmd.Actor, Data: data}},
	}, nil
}

// State returns the state view.
func (b *Behavior) State() any { return b.s }

func validName(s string) bool {
	if s == "" || len(s) > MaxEventName {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}
