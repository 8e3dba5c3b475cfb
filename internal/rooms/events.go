package rooms

import (
	"encoding/json"
	"time"

	"github.com/parleyhq/parley/internal/core"
)

// Event types of the room stream. Every event that changes the stage
// carries Stage, the whole stage after the change, so that a follower (the
// media server) needs only the latest one.
const (
	EvCreated         = "room.created"
	EvUpdated         = "room.updated"
	EvStarted         = "room.started"
	EvEnded           = "room.ended"
	EvParticipants    = "room.participants"
	EvInterest        = "room.interest"
	EvGuests          = "room.guests"
	EvHand            = "room.hand"
	EvInvited         = "room.invited"
	EvInviteCancelled = "room.invite_cancelled"
	EvInviteDeclined  = "room.invite_declined"
	EvSpeakerAdded    = "room.speaker_added"
	EvSpeakerRemoved  = "room.speaker_removed"
	EvRoleChanged     = "room.role_changed"
	EvMute            = "room.mute"
	EvKicked          = "room.kicked"
	EvBlocked         = "room.blocked"
	EvUnblocked       = "room.unblocked"
	EvComment         = "room.comment"
	EvCommentDeleted  = "room.comment_deleted"
	EvPinned          = "room.comment_pinned"
	EvUnpinned        = "room.comment_unpinned"
	EvSettings        = "room.settings"
	EvReactions       = "room.reactions"
	EvPollOpened      = "room.poll_opened"
	EvPollVotes       = "room.poll_votes"
	EvPollClosed      = "room.poll_closed"

	// EvCounts is ephemeral: the counts per role, pushed at most once per
	// CountsInterval when they changed.
	EvCounts = "room.counts"

	// EvReported is the event of the moderation inbox (roommod:<id>).
	EvReported = "room.reported"
)

// Created is the data of EvCreated.
type Created struct {
	Room        RoomID      `json:"room"`
	Host        core.UserID `json:"host"`
	Title       string      `json:"title"`
	Description string      `json:"description,omitempty"`
	Topics      []string    `json:"topics,omitempty"`
	Visibility  Visibility  `json:"visibility"`
	Workspace   string      `json:"workspace,omitempty"`
	ScheduledAt *time.Time  `json:"scheduled_at,omitempty"`
	OpenStage   bool        `json:"open_stage,omitempty"`
	Status      Status      `json:"status"`
	// ExpiresAt is when the room's hot state expires: HotStateTTL after it
	// started (or after its scheduled start, while it waits).
	ExpiresAt time.Time `json:"expires_at"`
}

// Updated is the data of EvUpdated; absent fields did not change.
type Updated struct {
	Title       *string    `json:"title,omitempty"`
	Description *string    `json:"description,omitempty"`
	Topics      []string   `json:"topics,omitempty"`
	ScheduledAt *time.Time `json:"scheduled_at,omitempty"`
	ExpiresAt   *time.Time `json:"expires_at,omitempty"`
}

// Started is the data of EvStarted.
type Started struct {
	ExpiresAt time.Time     `json:"expires_at"`
	Stage     []StageMember `json:"stage"`
}

// EndedData is the data of EvEnded.
type EndedData struct {
	Reason  string        `json:"reason"`
	Summary Summary       `json:"summary"`
	Stage   []StageMember `json:"stage"`
}

// Change is one join (J true) or leave of a participant.
type Change struct {
	U core.UserID `json:"u"`
	J bool        `json:"j,omitempty"`
}

// Participants is the data of EvParticipants: the joins and leaves since
// the last one, in order. Stage is set when a stage member came or went.
type Participants struct {
	Changes []Change      `json:"changes"`
	Count   int           `json:"count"`
	Stage   []StageMember `json:"stage,omitempty"`
}

// InterestChange is one interest mark (I true) or unmark.
type InterestChange struct {
	U core.UserID `json:"u"`
	I bool        `json:"i,omitempty"`
}

// Interest is the data of EvInterest.
type Interest struct {
	Changes []InterestChange `json:"changes"`
	Count   int              `json:"count"`
}

// Guests is the data of EvGuests.
type Guests struct {
	Users []core.UserID `json:"users"`
}

// Hand is the data of EvHand.
type Hand struct {
	User   core.UserID `json:"user"`
	Raised bool        `json:"raised"`
	Queue  int         `json:"queue"`
}

// Target is the data of events about one user (invitations, kick, block).
type Target struct {
	User  core.UserID   `json:"user"`
	Stage []StageMember `json:"stage,omitempty"`
}

// RoleData is the data of EvSpeakerAdded, EvSpeakerRemoved and
// EvRoleChanged.
type RoleData struct {
	User     core.UserID   `json:"user"`
	Role     Role          `json:"role"`
	Previous Role          `json:"previous"`
	Reason   string        `json:"reason"` // invite, open_stage, moved, left_stage, set_role
	Stage    []StageMember `json:"stage"`
}

// MuteData is the data of EvMute.
type MuteData struct {
	User   core.UserID   `json:"user"`
	Muted  bool          `json:"muted"`
	Locked bool          `json:"locked"`
	Stage  []StageMember `json:"stage"`
}

// CommentData is the data of EvComment. N numbers the room's comments from 1.
type CommentData struct {
	N    int64           `json:"n"`
	Text string          `json:"text"`
	Meta json.RawMessage `json:"meta,omitempty"`
}

// CommentRef is the data of EvCommentDeleted and EvUnpinned.
type CommentRef struct {
	N int64 `json:"n"`
}

// Pinned is the data of EvPinned.
type Pinned struct {
	N      int64       `json:"n"`
	Text   string      `json:"text"`
	Author core.UserID `json:"author"`
}

// Settings are the room's adjustable rules.
type Settings struct {
	SlowMode    int  `json:"slow_mode"` // seconds between one user's comments, 0 for off
	CommentsOff bool `json:"comments_off"`
	OpenStage   bool `json:"open_stage"`
}

// Reactions is the data of EvReactions: the reactions counted in one tick
// and the room's totals after it.
type Reactions struct {
	Counts map[string]int64 `json:"counts"`
	Totals map[string]int64 `json:"totals"`
}

// PollOpened is the data of EvPollOpened.
type PollOpened struct {
	Poll     int        `json:"poll"`
	Question string     `json:"question"`
	Options  []string   `json:"options"`
	ClosesAt *time.Time `json:"closes_at,omitempty"`
}

// PollVotes is the data of EvPollVotes: who voted since the last one (not
// for what: votes are secret) and the tallies.
type PollVotes struct {
	Poll   int           `json:"poll"`
	Voters []core.UserID `json:"voters"`
	Counts []int64       `json:"counts"`
	Totals []int64       `json:"totals"`
}

// PollClosed is the data of EvPollClosed.
type PollClosed struct {
	Poll   int     `json:"poll"`
	Totals []int64 `json:"totals"`
	Reason string  `json:"reason"` // closed, deadline, room_ended
}

// Counts are the room's participants per role, and its queues.
type Counts struct {
	Total      int `json:"total"`
	Hosts      int `json:"hosts"`
	Moderators int `json:"moderators"`
	Speakers   int `json:"speakers"`
	Listeners  int `json:"listeners"`
	Hands      int `json:"hands"`
	Interested int `json:"interested"`
}

// StageMember is one person on the stage. Muted is their mute state;
// Locked means a moderator muted them and they may not unmute.
type StageMember struct {
	User   core.UserID `json:"user"`
	Role   Role        `json:"role"`
	Muted  bool        `json:"muted"`
	Locked bool        `json:"locked,omitempty"`
}

// PollResult is one poll of a summary or a snapshot.
type PollResult struct {
	Poll     int        `json:"poll"`
	Question string     `json:"question"`
	Options  []string   `json:"options"`
	Totals   []int64    `json:"totals"`
	Votes    int64      `json:"votes"`
	Open     bool       `json:"open"`
	ClosesAt *time.Time `json:"closes_at,omitempty"`
	ClosedAt *time.Time `json:"closed_at,omitempty"`
}

// Summary describes an ended room. UniqueListeners counts the distinct
// users who joined, the host excepted; PeakConcurrent the most
// participants present at once (host included); Speakers everyone who was
// on the stage, host included.
type Summary struct {
	Room            RoomID           `json:"room"`
	Title           string           `json:"title"`
	Host            core.UserID      `json:"host"`
	Visibility      Visibility       `json:"visibility"`
	Workspace       string           `json:"workspace,omitempty"`
	CreatedAt       time.Time        `json:"created_at"`
	StartedAt       *time.Time       `json:"started_at,omitempty"`
	EndedAt         time.Time        `json:"ended_at"`
	EndReason       string           `json:"end_reason"`
	DurationSeconds int64            `json:"duration_seconds"`
	UniqueListeners int              `json:"unique_listeners"`
	PeakConcurrent  int              `json:"peak_concurrent"`
	Speakers        []core.UserID    `json:"speakers"`
	Comments        int64            `json:"comments"`
	CommentsDeleted int64            `json:"comments_deleted"`
	Reactions       map[string]int64 `json:"reactions"`
	ReactionsTotal  int64            `json:"reactions_total"`
	Polls           []PollResult     `json:"polls"`
	Interested      int              `json:"interested"`
	Events          uint64           `json:"events"`
}

// Report is the data of EvReported, in the moderation inbox.
type Report struct {
	Report  int         `json:"report"`
	User    core.UserID `json:"user,omitempty"`    // the reported user
	Comment int64       `json:"comment,omitempty"` // the reported comment
	Text    string      `json:"text,omitempty"`    // the comment's text when reported
	Reason  string      `json:"reason"`
}
