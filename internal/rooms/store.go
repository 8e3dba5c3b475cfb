package rooms

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"sort"
	"time"

	"github.com/parleyhq/parley/internal/core"
	"github.com/parleyhq/parley/internal/errs"
	"github.com/parleyhq/parley/internal/eventlog"
)

// Listing is a room as listings show it: the read model projected from the
// room's events. Seq is the last event folded into it.
type Listing struct {
	Room         RoomID      `json:"room"`
	Host         core.UserID `json:"host"`
	Title        string      `json:"title"`
	Description  string      `json:"description,omitempty"`
	Topics       []string    `json:"topics"`
	Visibility   Visibility  `json:"visibility"`
	Workspace    string      `json:"workspace,omitempty"`
	Status       Status      `json:"status"`
	CreatedAt    time.Time   `json:"created_at"`
	ScheduledAt  *time.Time  `json:"scheduled_at,omitempty"`
	StartedAt    *time.Time  `json:"started_at,omitempty"`
	EndedAt      *time.Time  `json:"ended_at,omitempty"`
	EndReason    string      `json:"end_reason,omitempty"`
	ExpiresAt    time.Time   `json:"expires_at"`
	Participants int         `json:"participants"`
	Speakers     int         `json:"speakers"`
	Interested   int         `json:"interested"`
	Summary      *Summary    `json:"summary,omitempty"`
	Seq          uint64      `json:"seq"`
	UpdatedAt    time.Time   `json:"updated_at"`
}

// SortAt is the listing's order key: the start for live and ended rooms,
// the scheduled start for upcoming ones.
func (l *Listing) SortAt() time.Time {
	switch {
	case l.StartedAt != nil:
		return *l.StartedAt
	case l.ScheduledAt != nil:
		return *l.ScheduledAt
	}
	return l.CreatedAt
}

// ListQuery selects a page of a listing.
type ListQuery struct {
	// Status is Live (newest first) or Scheduled (soonest first).
	Status Status
	// Workspace, if set, lists the rooms of that workspace (public and
	// workspace rooms); otherwise the public rooms.
	Workspace string
	// Viewer's blocks apply: rooms whose host blocked the viewer are left out.
	Viewer core.UserID
	Cursor string
	Limit  int
}

// Listings stores the rooms read model. Implementations are safe for
// concurrent use.
type Listings interface {
	// PutListing stores l unless the stored row already folded l.Seq or
	// a later event, so projections may run more than once and out of
	// order and the row only moves forward.
	PutListing(ctx context.Context, l Listing) error
	// Listing returns a room's row, or an errs.NotFound error.
	Listing(ctx context.Context, id RoomID) (Listing, error)
	// ListRooms returns a page of rooms and the cursor of the next page
	// ("" at the end).
	ListRooms(ctx context.Context, q ListQuery) ([]Listing, string, error)
	// Overdue returns up to limit rooms, not ended, whose ExpiresAt is at
	// or before now.
	Overdue(ctx context.Context, now time.Time, limit int) ([]RoomID, error)
}

// Archives records which ended rooms were written to the analytics sink.
type Archives interface {
	// Unarchived returns up to limit ended rooms not marked archived,
	// ended at or before before.
	Unarchived(ctx context.Context, before time.Time, limit int) ([]RoomID, error)
	// MarkArchived records that id's analytics were written.
	MarkArchived(ctx context.Context, id RoomID, at time.Time) error
}

// Blocks stores each host's block list. Implementations are safe for
// concurrent use.
type Blocks interface {
	// Block adds user to host's list (by who did it); blocking twice is
	// not an error.
	Block(ctx context.Context, host, user, by core.UserID, at time.Time) error
	// Unblock removes user from host's list; it is not an error if absent.
	Unblock(ctx context.Context, host, user core.UserID) error
	// Blocked reports whether host blocked user.
	Blocked(ctx context.Context, host, user core.UserID) (bool, error)
	// BlockList returns a page of host's blocked users, by user id.
	BlockList(ctx context.Context, host core.UserID, after string, limit int) ([]core.UserID, string, error)
}

// Follows stores who follows whom.
type Follows interface {
	// Follow makes follower follow followee; following twice is not an
	// error.
	Follow(ctx context.Context, follower, followee core.UserID, at time.Time) error
	// Unfollow undoes Follow; it is not an error if absent.
	Unfollow(ctx context.Context, follower, followee core.UserID) error
	// Following returns a page of the users user follows, by user id.
	Following(ctx context.Context, user core.UserID, after string, limit int) ([]core.UserID, string, error)
}

// Home reasons: why a room is on a user's home.
const (
	ReasonHosting   = "hosting"   // someone you follow hosts it
	ReasonSpeaking  = "speaking"  // someone you follow is on its stage
	ReasonInvited   = "invited"   // you were invited
	ReasonWorkspace = "workspace" // it belongs to one of your workspaces
)

// HomeItem is one precomputed entry of a user's home.
type HomeItem struct {
	Room   RoomID      `json:"room"`
	Via    core.UserID `json:"via,omitempty"`
	Reason string      `json:"reason"`
	At     time.Time   `json:"at"`
}

// HomeEntry is a home item with its room.
type HomeEntry struct {
	HomeItem
	Listing Listing `json:"listing"`
}

// Homes stores the precomputed homes; the home workers write them.
// Implementations are safe for concurrent use.
type Homes interface {
	// FanOut puts item on the home of every follower of via, replacing
	// their entry for the same room, and returns how many homes it
	// touched.
	FanOut(ctx context.Context, via core.UserID, item HomeItem) (int, error)
	// AddHome puts item on the homes of users.
	AddHome(ctx context.Context, users []core.UserID, item HomeItem) error
	// RebuildHome recomputes user's home from scratch (the public live
	// and upcoming rooms hosted by the people they follow) and records
	// now as its build time.
	RebuildHome(ctx context.Context, user core.UserID, now time.Time) error
	// RemoveRoom takes room off every home (it ended).
	RemoveRoom(ctx context.Context, room RoomID) error
}

// HomeReader reads the precomputed homes for the read path.
type HomeReader interface {
	// HomeOf returns up to limit entries of user's home with their rooms
	// as stored, and when it was last rebuilt (zero if never).
	HomeOf(ctx context.Context, user core.UserID, limit int) ([]HomeEntry, time.Time, error)
	// FollowedRooms returns the public live and upcoming rooms hosted by
	// people user follows whose row changed at or after since: the rooms
	// that may have started after user's home was computed.
	FollowedRooms(ctx context.Context, user core.UserID, since time.Time, limit int) ([]Listing, error)
}

// Workspaces answers the workspace questions of the visibility rules and
// of the home. The chat domain implements it; until it does, the app uses
// one that knows no workspace.
type Workspaces interface {
	// IsMember reports whether user belongs to workspace.
	IsMember(ctx context.Context, workspace string, user core.UserID) (bool, error)
	// WorkspacesOf returns the workspaces user belongs to.
	WorkspacesOf(ctx context.Context, user core.UserID) ([]string, error)
}

// Archive is what the analytics sink receives for an ended room: its
// summary and every event of its stream.
type Archive struct {
	Summary Summary
	Events  []eventlog.Event
}

// Sink writes room archives for analytics. WriteRoom must be idempotent:
// writing a room again (a redelivered job) replaces what an earlier,
// possibly interrupted, write left and never duplicates a row.
type Sink interface {
	WriteRoom(ctx context.Context, a *Archive) error
}

// Cursor encodes a listing position (order key and room id).
func Cursor(at time.Time, id RoomID) string {
	b, _ := json.Marshal([]any{at.UnixMicro(), id})
	return base64.RawURLEncoding.EncodeToString(b)
}

// ParseCursor decodes a Cursor.
func ParseCursor(s string) (time.Time, RoomID, error) {
	b, err := base64.RawURLEncoding.DecodeString(s)
	var v []json.RawMessage
	if err == nil {
		err = json.Unmarshal(b, &v)
	}
	if err != nil || len(v) != 2 {
		return time.Time{}, "", errs.E(errs.InvalidArgument, "bad cursor")
	}
	var us int64
	var id RoomID
	if json.Unmarshal(v[0], &us) != nil || json.Unmarshal(v[1], &id) != nil {
		return time.Time{}, "", errs.E(errs.InvalidArgument, "bad cursor")
	}
	return time.UnixMicro(us).UTC(), id, nil
}

// MergeHome applies the read-time fix-ups to a precomputed home: rooms
// that ended (or whose rows are gone) are removed, rooms from fresh (the
// followed rooms that changed since the home was computed, and the
// workspace rooms) are added unless already there, and the result is
// ordered live first (newest start first), then upcoming (soonest first),
// at most limit entries.
func MergeHome(pre []HomeEntry, fresh []HomeEntry, limit int) []HomeEntry {
	out := make([]HomeEntry, 0, len(pre)+len(fresh))
	seen := map[RoomID]bool{}
	for _, list := range [][]HomeEntry{pre, fresh} {
		for _, e := range list {
			if seen[e.Room] || e.Listing.Room == "" || e.Listing.Status == Ended {
				continue
			}
			seen[e.Room] = true
			out = append(out, e)
		}
	}
	sort.SliceStable(out, func(i, j int) bool {
		a, b := &out[i].Listing, &out[j].Listing
		if (a.Status == Live) != (b.Status == Live) {
			return a.Status == Live
		}
		if a.Status == Live {
			if !a.SortAt().Equal(b.SortAt()) {
				return a.SortAt().After(b.SortAt())
			}
		} else if !a.SortAt().Equal(b.SortAt()) {
			return a.SortAt().Before(b.SortAt())
		}
		return a.Room < b.Room
	})
	if limit > 0 && len(out) > limit {
		out = out[:limit]
	}
	return out
}
