// Package rooms is the domain of live audio rooms: their lifecycle
// (scheduled, live, ended), roles (host, moderator, speaker, listener) and
// the one permission table that says who may do what, participants, the
// stage with raised hands, invitations to speak and mute state, moderation
// (kick, block, report), live comments, aggregated reactions, polls, and
// the summary of an ended room.
//
// Every room is one stream, room:<id>, with one writer: the room's actor
// runs Behavior, which validates each command against the permission table
// and the room's state and returns the events to append. The package does
// no I/O: the app wires it to the actor host, the gateway, the stores and
// the bus through the small interfaces declared in store.go.
//
// Most of Behavior's state is the fold of the stream's logged events, so a
// replay rebuilds it exactly. A small volatile part is not logged: which
// connections watch the room, joins and leaves not yet flushed, reactions
// and votes counted since the last tick, per-user reaction buckets. High
// rate input is gathered there and logged in batches by Tick: joins and
// leaves every MembershipInterval, reactions every ReactionInterval, votes
// every TallyInterval, so one event carries many actions and fan-out cost
// does not grow with their rate. Any command that logs an event first
// flushes the pending joins, leaves, interest marks and votes ahead of its
// own events, so the logged order always matches the decided order.
package rooms

import (
	"time"

	"github.com/parleyhq/parley/internal/core"
)

// Stream kinds.
const (
	// Kind is the stream kind of rooms: room:<id>, the room's public stream.
	Kind = "room"
	// ModKind is the stream kind of a room's moderation inbox,
	// roommod:<id>: reports, visible to the room's host and moderators only.
	ModKind = "roommod"
)

// RoomID identifies a room: "r_" followed by a core.NewID suffix.
type RoomID string

// NewRoomID returns a new room id.
func NewRoomID() RoomID { return RoomID(core.NewID("r")) }

// Stream returns the room's stream.
func (id RoomID) Stream() core.StreamID { return core.NewStreamID(Kind, string(id)) }

// ModStream returns the room's moderation inbox stream.
func (id RoomID) ModStream() core.StreamID { return core.NewStreamID(ModKind, string(id)) }

// Valid reports whether id can name a stream.
func (id RoomID) Valid() bool { return core.ValidToken(string(id)) && len(id) <= 64 }

// RoomOf returns the room of a room or roommod stream.
func RoomOf(s core.StreamID) (RoomID, bool) {
	if s.Validate() != nil || (s.Kind() != Kind && s.Kind() != ModKind) {
		return "", false
	}
	return RoomID(s.ID()), true
}

// Role is a user's role in a room. The zero Role is a visitor: someone who
// may see the room but has not joined it.
type Role string

// Roles, from the most to the least powerful.
const (
	RoleHost      Role = "host"
	RoleModerator Role = "moderator"
	RoleSpeaker   Role = "speaker"
	RoleListener  Role = "listener"
	RoleVisitor   Role = ""
)

// Roles lists every role, most powerful first.
var Roles = []Role{RoleHost, RoleModerator, RoleSpeaker, RoleListener, RoleVisitor}

// rank orders roles: a moderator acts on speakers and listeners, the host on
// everyone else.
func (r Role) rank() int {
	switch r {
	case RoleHost:
		return 4
	case RoleModerator:
		return 3
	case RoleSpeaker:
		return 2
	case RoleListener:
		return 1
	}
	return 0
}

// OnStage reports whether the role is on the stage (may send audio).
func (r Role) OnStage() bool { return r == RoleHost || r == RoleModerator || r == RoleSpeaker }

// String returns the role's name, "visitor" for the zero role.
func (r Role) String() string {
	if r == RoleVisitor {
		return "visitor"
	}
	return string(r)
}

// Visibility says who may see and join a room.
type Visibility string

// Visibilities.
const (
	// Public rooms are listed and open to every signed-in user.
	Public Visibility = "public"
	// WorkspaceOnly rooms are open to the members of their workspace.
	WorkspaceOnly Visibility = "workspace"
	// InviteOnly rooms are open to their guests (and host and moderators).
	InviteOnly Visibility = "invite"
)

// Status is where a room is in its life.
type Status string

// Statuses.
const (
	Scheduled Status = "scheduled"
	Live      Status = "live"
	Ended     Status = "ended"
)

// End reasons.
const (
	EndedByHost     = "host"      // the host ended the room
	EndedHostLeft   = "host_left" // no host or moderator stayed for HostGrace
	EndedExpired    = "expired"   // the room reached HotStateTTL
	EndedCancelled  = "cancelled" // the host cancelled a scheduled room
	EndedNeverBegan = "not_started"
)

// Limits are the rules' numbers, from the rooms section of the
// configuration (internal/config/rooms.go documents each).
type Limits struct {
	Tick               time.Duration
	MembershipInterval time.Duration
	ReactionInterval   time.Duration
	TallyInterval      time.Duration
	CountsInterval     time.Duration
	ReconnectGrace     time.Duration
	HostGrace          time.Duration
	HotStateTTL        time.Duration
	MaxScheduleAhead   time.Duration

	MaxTitle        int
	MaxDescription  int
	MaxTopics       int
	MaxTopic        int
	MaxParticipants int
	MaxStage        int
	MaxGuests       int

	MaxComment       int
	MaxCommentMeta   int
	CommentRate      float64 // comments per second per user (token bucket refill)
	CommentBurst     int
	MaxSlowMode      time.Duration
	RecentComments   int
	Reactions        []string
	ReactionRate     float64 // reactions per second per user
	ReactionBurst    int
	MaxReactionBatch int
	HandRate         float64 // hand raises or lowers per second per user
	HandBurst        int

	MaxPollQuestion int
	MaxPollOption   int
	MaxPollOptions  int
	MaxPollDuration time.Duration
	MaxOpenPolls    int

	MaxReason int
	PageLimit int
}

// DefaultLimits returns the limits used when nothing is configured.
func DefaultLimits() Limits {
	return Limits{
		Tick:               50 * time.Millisecond,
		MembershipInterval: 250 * time.Millisecond,
		ReactionInterval:   200 * time.Millisecond,
		TallyInterval:      500 * time.Millisecond,
		CountsInterval:     time.Second,
		ReconnectGrace:     30 * time.Second,
		HostGrace:          2 * time.Minute,
		HotStateTTL:        72 * time.Hour,
		MaxScheduleAhead:   90 * 24 * time.Hour,

		MaxTitle:        120,
		MaxDescription:  2000,
		MaxTopics:       5,
		MaxTopic:        32,
		MaxParticipants: 100000,
		MaxStage:        20,
		MaxGuests:       200,

		MaxComment:       500,
		MaxCommentMeta:   256,
		CommentRate:      1,
		CommentBurst:     5,
		MaxSlowMode:      10 * time.Minute,
		RecentComments:   50,
		Reactions:        []string{"👏", "❤️", "😂", "🔥", "💯", "🙌", "😮", "👍"},
		ReactionRate:     20,
		ReactionBurst:    60,
		MaxReactionBatch: 50,
		HandRate:         0.5,
		HandBurst:        4,

		MaxPollQuestion: 200,
		MaxPollOption:   80,
		MaxPollOptions:  6,
		MaxPollDuration: 24 * time.Hour,
		MaxOpenPolls:    3,

		MaxReason: 500,
		PageLimit: 200,
	}
}
