package chat

import (
	"github.com/parleyhq/parley/internal/actor"
	"github.com/parleyhq/parley/internal/core"
	"github.com/parleyhq/parley/internal/errs"
	"github.com/parleyhq/parley/internal/eventlog"
)

// Inbox commands.
const (
	CmdMarkRead   = "mark_read"
	CmdMarkUnread = "mark_unread"
)

// MarkRead is the data of CmdMarkRead (the marker only moves forward) and
// CmdMarkUnread (it moves to the given place, usually back).
type MarkRead struct {
	Channel ChannelID `json:"channel"`
	Marker
}

// Inbox is the behaviour of an inbox:<user> stream: one user's read markers.
// Every device of the user subscribes to it, so a marker moved on one
// device moves on all of them.
type Inbox struct {
	user    core.UserID
	Markers map[ChannelID]Marker `json:"markers"`
}

var _ actor.Behavior = (*Inbox)(nil)

// NewInbox returns the actor factory of inbox streams.
func NewInbox() actor.Factory {
	return func(s core.StreamID) actor.Behavior {
		return &Inbox{user: core.UserID(s.ID()), Markers: map[ChannelID]Marker{}}
	}
}

// State implements actor.Behavior.
func (b *Inbox) State() any { return b }

// Apply implements actor.Behavior.
func (b *Inbox) Apply(ev *eventlog.Event) {
	v, err := Decode(ev)
	if err != nil {
		return
	}
	if e, ok := v.(*ReadMarked); ok {
		b.Markers[e.Channel] = Marker{Seq: e.Seq, Top: e.Top}
	}
}

// Decide implements actor.Behavior.
func (b *Inbox) Decide(cmd *actor.Command) (actor.Decision, error) {
	if cmd.Actor != b.user {
		return actor.Decision{}, errs.E(errs.Forbidden, "an inbox is its user's only")
	}
	var p MarkRead
	if err := decodeCmd(cmd, &p); err != nil {
		return actor.Decision{}, err
	}
	if !p.Channel.Valid() {
		return actor.Decision{}, errs.E(errs.InvalidArgument, "bad channel id")
	}
	cur, ok := b.Markers[p.Channel]
	switch cmd.Name {
	case CmdMarkRead:
		if ok && p.Seq <= cur.Seq {
			return actor.Decision{Reply: cur}, nil
		}
	case CmdMarkUnread:
		if ok && p.Marker == cur {
			return actor.Decision{Reply: cur}, nil
		}
	default:
		return actor.Decision{}, errs.E(errs.InvalidArgument, "unknown inbox command %q", cmd.Name)
	}
	return actor.Decision{
		Events: []eventlog.Draft{draft(EvReadMarked, "", ReadMarked{Channel: p.Channel, Seq: p.Seq, Top: p.Top})},
		Reply:  p.Marker,
	}, nil
}
