// Package chat is Parley's team messaging domain: workspaces with roles and
// invites, public and private channels, direct and group messages, threads,
// reactions, pins, mentions and per-user read state.
//
// The package holds types, commands, events and rules, and does no I/O.
// Three stream kinds carry the state, each with one writer (an
// actor.Behavior run by actor.Host):
//
//   - workspace:<id>: the workspace, its members and roles, invites, bots
//     and the registry of channel names;
//   - channel:<id>: one channel or DM: its members, messages, edits,
//     deletions, reactions, pins and thread follows;
//   - inbox:<user>: one user's read markers.
//
// Everything else is derived from those streams: the read models that the
// adapters project (see Store), and the in-memory View every node keeps for
// authorization, the slim boot, counts and @mention autocomplete.
package chat

import (
	"crypto/sha256"
	"encoding/hex"
	"strconv"
	"strings"
	"time"

	"github.com/parleyhq/parley/internal/core"
)

// Stream kinds of the chat domain.
const (
	KindWorkspace = "workspace"
	KindChannel   = "channel"
	KindInbox     = "inbox"
)

// WorkspaceID identifies a workspace ("w_...").
type WorkspaceID string

// ChannelID identifies a channel or a DM ("c_..." for channels, "d_..." for
// direct and group messages).
type ChannelID string

// MessageID identifies a message within its channel: "m" followed by the
// message's number in the channel (1, 2, ...), assigned by the channel's
// writer and never reused. Messages are always addressed with their
// channel, as in Slack, which keeps the per-message state of a channel
// writer to a slice indexed by number.
type MessageID string

// Stream returns the workspace's stream.
func (w WorkspaceID) Stream() core.StreamID { return core.NewStreamID(KindWorkspace, string(w)) }

// Stream returns the channel's stream.
func (c ChannelID) Stream() core.StreamID { return core.NewStreamID(KindChannel, string(c)) }

// InboxStream returns the stream of user's read markers.
func InboxStream(u core.UserID) core.StreamID { return core.NewStreamID(KindInbox, string(u)) }

// Valid reports whether w is a well-formed id.
func (w WorkspaceID) Valid() bool { return core.ValidToken(string(w)) && len(w) <= 64 }

// Valid reports whether c is a well-formed id.
func (c ChannelID) Valid() bool { return core.ValidToken(string(c)) && len(c) <= 64 }

// NewWorkspaceID returns a new workspace id.
func NewWorkspaceID() WorkspaceID { return WorkspaceID(core.NewID("w")) }

// NewChannelID returns a new channel id.
func NewChannelID() ChannelID { return ChannelID(core.NewID("c")) }

// NewBotID returns a new user id for a bot.
func NewBotID() core.UserID { return core.UserID(core.NewID("b")) }

// DMChannelID returns the id of the direct or group conversation between
// users in ws: the same set of people always gets the same conversation.
func DMChannelID(ws WorkspaceID, users []core.UserID) ChannelID {
	h := sha256.New()
	h.Write([]byte(ws))
	for _, u := range sortedUsers(users) {
		h.Write([]byte{0})
		h.Write([]byte(u))
	}
	return ChannelID("d_" + hex.EncodeToString(h.Sum(nil))[:26])
}

// MessageIDOf returns the id of the n-th message of a channel.
func MessageIDOf(n uint32) MessageID { return MessageID("m" + strconv.FormatUint(uint64(n), 10)) }

// Number returns the message's number, or 0 if the id is malformed.
func (m MessageID) Number() uint32 {
	s, ok := strings.CutPrefix(string(m), "m")
	if !ok || s == "" || s[0] == '0' || len(s) > 10 {
		return 0
	}
	n, err := strconv.ParseUint(s, 10, 32)
	if err != nil {
		return 0
	}
	return uint32(n)
}

// Role is a member's role in a workspace.
type Role string

// Roles, from most to least powerful. Guests see only the channels they are
// added to.
const (
	RoleOwner  Role = "owner"
	RoleAdmin  Role = "admin"
	RoleMember Role = "member"
	RoleGuest  Role = "guest"
)

// Valid reports whether r is a known role.
func (r Role) Valid() bool {
	switch r {
	case RoleOwner, RoleAdmin, RoleMember, RoleGuest:
		return true
	}
	return false
}

// Admin reports whether r may administer the workspace.
func (r Role) Admin() bool { return r == RoleOwner || r == RoleAdmin }

// ChannelKind says what a channel is.
type ChannelKind string

// Channel kinds.
const (
	Public  ChannelKind = "public"  // any non-guest member may read and join
	Private ChannelKind = "private" // members only
	DM      ChannelKind = "dm"      // two people (or one, notes to self)
	Group   ChannelKind = "group"   // a group DM of three to MaxGroupDM people
)

// Direct reports whether k is a DM or a group DM.
func (k ChannelKind) Direct() bool { return k == DM || k == Group }

// Profile is the part of a user's profile that chat shows next to their
// messages and in member lists.
type Profile struct {
	Handle      string `json:"handle"`
	DisplayName string `json:"display_name"`
	AvatarURL   string `json:"avatar_url,omitempty"`
}

// Limits are the configurable bounds the rules enforce.
type Limits struct {
	MaxMessageChars  int // runes in a message's text
	MaxAttachments   int // attachments per message
	MaxReactions     int // distinct emoji per message
	MaxPins          int // pinned messages per channel
	MaxGroupDM       int // people in a group DM, the caller included
	MaxInviteUses    int // uses of one invite
	MaxInviteChannel int // channels a guest invite may name
}

// DefaultLimits are the limits used when none are configured.
func DefaultLimits() Limits {
	return Limits{MaxMessageChars: 4000, MaxAttachments: 10, MaxReactions: 50, MaxPins: 100, MaxGroupDM: 8, MaxInviteUses: 1000, MaxInviteChannel: 20}
}

// Attachment is an uploaded file referenced by a message.
type Attachment struct {
	ID          string `json:"id"`
	Name        string `json:"name"`
	Size        int64  `json:"size"`
	ContentType string `json:"content_type"`
}

// Marker is a read position in a channel: the stream sequence read up to,
// and Top, the number of top-level messages posted up to it (unread counts
// are differences of those numbers).
type Marker struct {
	Seq uint64 `json:"seq"`
	Top uint32 `json:"top"`
}

// TimeOf returns t in UTC rounded to the microsecond, as stores keep it.
func TimeOf(t time.Time) time.Time { return t.UTC().Truncate(time.Microsecond) }
