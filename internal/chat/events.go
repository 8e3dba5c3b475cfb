package chat

import (
	"encoding/json"
	"time"

	"github.com/parleyhq/parley/internal/core"
	"github.com/parleyhq/parley/internal/errs"
	"github.com/parleyhq/parley/internal/eventlog"
)

// Event types. The event's actor is the user who caused it; its time and
// sequence are the log's. Every type is documented in docs/protocol.md.
const (
	// workspace:<id>
	EvWorkspaceCreated = "workspace.created"
	EvWorkspaceRenamed = "workspace.renamed"
	EvMemberJoined     = "member.joined" // also in channel streams
	EvMemberLeft       = "member.left"   // also in channel streams
	EvMemberRemoved    = "member.removed"
	EvMemberRole       = "member.role_changed"
	EvMemberUpdated    = "member.updated"
	EvInviteCreated    = "invite.created"
	EvInviteRevoked    = "invite.revoked"
	EvChannelCreated   = "channel.created"
	EvChannelNamed     = "channel.name_reserved"

	// channel:<id>
	EvChannelOpened     = "channel.opened"
	EvChannelRenamed    = "channel.renamed"
	EvChannelUpdated    = "channel.updated"
	EvChannelArchived   = "channel.archived"
	EvChannelUnarchived = "channel.unarchived"
	EvMessagePosted     = "message.posted"
	EvMessageEdited     = "message.edited"
	EvMessageDeleted    = "message.deleted"
	EvReactionAdded     = "reaction.added"
	EvReactionRemoved   = "reaction.removed"
	EvMessagePinned     = "message.pinned"
	EvMessageUnpinned   = "message.unpinned"
	EvThreadFollowed    = "thread.followed"
	EvThreadUnfollowed  = "thread.unfollowed"

	// inbox:<user>
	EvReadMarked = "read.marked"

	// ephemeral, on channel:<id>
	EvTyping = "typing"
)

// WorkspaceCreated starts a workspace stream.
type WorkspaceCreated struct {
	Workspace WorkspaceID `json:"workspace"`
	Name      string      `json:"name"`
}

// WorkspaceRenamed changes the workspace's name.
type WorkspaceRenamed struct {
	Name string `json:"name"`
}

// MemberJoined adds a member to a workspace (with Role, Profile and Bot) or
// to a channel (with Guest).
type MemberJoined struct {
	User    core.UserID `json:"user"`
	Role    Role        `json:"role,omitempty"`
	Profile *Profile    `json:"profile,omitempty"`
	Bot     bool        `json:"bot,omitempty"`
	Invite  string      `json:"invite,omitempty"` // the invite used
	// Channels are the channels a guest's invite grants (workspace stream).
	Channels []ChannelID `json:"channels,omitempty"`
	// Guest marks a guest added to a channel (channel stream).
	Guest bool `json:"guest,omitempty"`
	// By is who added the member, when it was not themselves.
	By core.UserID `json:"by,omitempty"`
}

// MemberLeft records that a member left (of their own will).
type MemberLeft struct {
	User core.UserID `json:"user"`
}

// MemberRemoved records that a member was removed by someone else.
type MemberRemoved struct {
	User core.UserID `json:"user"`
	By   core.UserID `json:"by,omitempty"`
}

// MemberRoleChanged changes a workspace member's role.
type MemberRoleChanged struct {
	User core.UserID `json:"user"`
	Role Role        `json:"role"`
}

// MemberUpdated carries a member's new profile.
type MemberUpdated struct {
	User    core.UserID `json:"user"`
	Profile Profile     `json:"profile"`
}

// InviteCreated records an invite. Only a hash of its secret code is kept.
type InviteCreated struct {
	Invite    string      `json:"invite"`
	Hash      string      `json:"hash"`
	Role      Role        `json:"role"`
	Email     string      `json:"email,omitempty"`
	ExpiresAt time.Time   `json:"expires_at"`
	MaxUses   int         `json:"max_uses"`
	Channels  []ChannelID `json:"channels,omitempty"`
}

// InviteRevoked ends an invite.
type InviteRevoked struct {
	Invite string `json:"invite"`
}

// ChannelCreated registers a channel in its workspace. The name of a
// private channel is kept only as a hash (its NameKey), so that workspace
// members who are not in it do not learn it.
type ChannelCreated struct {
	Channel ChannelID `json:"channel"`
	Private bool      `json:"private,omitempty"`
	Name    string    `json:"name,omitempty"` // public channels only
	NameKey string    `json:"name_key"`
}

// ChannelNameReserved moves a channel's entry in the workspace registry to
// a new name.
type ChannelNameReserved struct {
	Channel ChannelID `json:"channel"`
	Name    string    `json:"name,omitempty"` // public channels only
	NameKey string    `json:"name_key"`
}

// ChannelOpened starts a channel stream.
type ChannelOpened struct {
	Workspace WorkspaceID `json:"workspace"`
	Kind      ChannelKind `json:"kind"`
	Name      string      `json:"name,omitempty"`
	Topic     string      `json:"topic,omitempty"`
	Purpose   string      `json:"purpose,omitempty"`
}

// ChannelRenamed changes a channel's name.
type ChannelRenamed struct {
	Name string `json:"name"`
}

// ChannelUpdated changes a channel's topic or purpose (the fields that are
// set).
type ChannelUpdated struct {
	Topic   *string `json:"topic,omitempty"`
	Purpose *string `json:"purpose,omitempty"`
}

// MessagePosted adds a message. Thread, if set, is the root of the thread
// it replies to; Top is its number among top-level messages (0 for
// replies). Mentions are the workspace members its text names; Here lists
// the members who were online when it mentioned @here. Users carries the
// profiles of the mentioned users, so a client can show a mention of
// someone it has not loaded yet.
type MessagePosted struct {
	ID     MessageID `json:"id"`
	Top    uint32    `json:"top,omitempty"`
	Thread MessageID `json:"thread,omitempty"`
	// ThreadAuthor is the author of the thread's root (replies only).
	ThreadAuthor core.UserID             `json:"thread_author,omitempty"`
	Text         string                  `json:"text"`
	Mentions     []core.UserID           `json:"mentions,omitempty"`
	Channel      bool                    `json:"mention_channel,omitempty"`
	HereAll      bool                    `json:"mention_here,omitempty"`
	Here         []core.UserID           `json:"here,omitempty"`
	Users        map[core.UserID]Profile `json:"users,omitempty"`
	Attachments  []Attachment            `json:"attachments,omitempty"`
}

// MessageEdited replaces a message's text.
type MessageEdited struct {
	ID       MessageID               `json:"id"`
	Text     string                  `json:"text"`
	Mentions []core.UserID           `json:"mentions,omitempty"`
	Users    map[core.UserID]Profile `json:"users,omitempty"`
}

// MessageDeleted leaves a tombstone in place of a message. Seq, Top and
// Thread repeat the message's, so that projections need no per-message
// state to update counts.
type MessageDeleted struct {
	ID     MessageID `json:"id"`
	Seq    uint64    `json:"seq"`
	Top    uint32    `json:"top,omitempty"`
	Thread MessageID `json:"thread,omitempty"`
}

// Reaction adds or removes the actor's emoji reaction on a message.
type Reaction struct {
	ID    MessageID `json:"id"`
	Emoji string    `json:"emoji"`
}

// Pin pins or unpins a message.
type Pin struct {
	ID MessageID `json:"id"`
}

// ThreadFollow makes a user follow or stop following a thread.
type ThreadFollow struct {
	Thread MessageID   `json:"thread"`
	User   core.UserID `json:"user"`
}

// ReadMarked moves a user's read marker in a channel.
type ReadMarked struct {
	Channel ChannelID `json:"channel"`
	Seq     uint64    `json:"seq"`
	Top     uint32    `json:"top"`
}

// Typing is the data of an ephemeral typing event: clients show it for
// ExpiresMS unless another one arrives.
type Typing struct {
	User      core.UserID `json:"user"`
	Thread    MessageID   `json:"thread,omitempty"`
	ExpiresMS int64       `json:"expires_ms"`
}

// Decode returns the typed data of a chat event: a pointer to one of the
// event structs above, or nil for an event without data of interest. An
// unknown type is not an error (newer events are skipped by older code).
func Decode(ev *eventlog.Event) (any, error) {
	var v any
	switch ev.Type {
	case EvWorkspaceCreated:
		v = new(WorkspaceCreated)
	case EvWorkspaceRenamed:
		v = new(WorkspaceRenamed)
	case EvMemberJoined:
		v = new(MemberJoined)
	case EvMemberLeft:
		v = new(MemberLeft)
	case EvMemberRemoved:
		v = new(MemberRemoved)
	case EvMemberRole:
		v = new(MemberRoleChanged)
	case EvMemberUpdated:
		v = new(MemberUpdated)
	case EvInviteCreated:
		v = new(InviteCreated)
	case EvInviteRevoked:
		v = new(InviteRevoked)
	case EvChannelCreated:
		v = new(ChannelCreated)
	case EvChannelNamed:
		v = new(ChannelNameReserved)
	case EvChannelOpened:
		v = new(ChannelOpened)
	case EvChannelRenamed:
		v = new(ChannelRenamed)
	case EvChannelUpdated:
		v = new(ChannelUpdated)
	case EvChannelArchived, EvChannelUnarchived:
		return nil, nil
	case EvMessagePosted:
		v = new(MessagePosted)
	case EvMessageEdited:
		v = new(MessageEdited)
	case EvMessageDeleted:
		v = new(MessageDeleted)
	case EvReactionAdded, EvReactionRemoved:
		v = new(Reaction)
	case EvMessagePinned, EvMessageUnpinned:
		v = new(Pin)
	case EvThreadFollowed, EvThreadUnfollowed:
		v = new(ThreadFollow)
	case EvReadMarked:
		v = new(ReadMarked)
	default:
		return nil, nil
	}
	if len(ev.Data) == 0 {
		return nil, errs.E(errs.Internal, "chat: %s event %s#%d has no data", ev.Type, ev.Stream, ev.Seq)
	}
	if err := json.Unmarshal(ev.Data, v); err != nil {
		return nil, errs.Wrap(errs.Internal, err, "chat: decode "+ev.Type)
	}
	return v, nil
}

// draft builds an event draft from typed data.
func draft(typ string, actor core.UserID, data any) eventlog.Draft {
	d := eventlog.Draft{Type: typ, Actor: actor}
	if data != nil {
		b, err := json.Marshal(data)
		if err != nil {
			panic("chat: marshal " + typ + ": " + err.Error())
		}
		d.Data = b
	}
	return d
}
