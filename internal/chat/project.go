package chat

import (
	"context"
	"sort"
	"time"

	"github.com/parleyhq/parley/internal/core"
	"github.com/parleyhq/parley/internal/eventlog"
)

// ChannelRow is a channel as the read model stores it.
type ChannelRow struct {
	ID        ChannelID
	Workspace WorkspaceID
	Kind      ChannelKind
	Name      string
	Topic     string
	Purpose   string
	CreatedBy core.UserID
	CreatedAt time.Time
}

// ChannelPatch changes the fields of a channel row that are set.
type ChannelPatch struct {
	Name     *string
	Topic    *string
	Purpose  *string
	Archived *bool
}

// MessageRow is a new message row.
type MessageRow struct {
	Channel     ChannelID
	N           uint32
	Seq         uint64
	Top         uint32
	Thread      uint32
	Author      core.UserID
	Text        string
	Mentions    []core.UserID
	Attachments []Attachment
	At          time.Time
}

// MentionEntry is a row of a user's mentions inbox.
type MentionEntry struct {
	User      core.UserID
	Workspace WorkspaceID
	Channel   ChannelID
	N         uint32
	Seq       uint64
	Thread    uint32
	Author    core.UserID
	Kind      string
	At        time.Time
}

// Rows is the write side of the read models inside one projection
// transaction. Project decides what each event means; an adapter only
// implements these row operations, so both adapters project identically.
// It is larger than the usual port because it is the whole schema's write
// surface.
type Rows interface {
	PutWorkspace(ctx context.Context, id WorkspaceID, name string, by core.UserID, at time.Time) error
	RenameWorkspace(ctx context.Context, id WorkspaceID, name string) error
	PutMember(ctx context.Context, ws WorkspaceID, m MemberRow) error
	DeleteMember(ctx context.Context, ws WorkspaceID, user core.UserID) error
	SetMemberRole(ctx context.Context, ws WorkspaceID, user core.UserID, role Role) error
	SetMemberProfile(ctx context.Context, ws WorkspaceID, user core.UserID, p Profile) error
	PutChannel(ctx context.Context, c ChannelRow) error
	PatchChannel(ctx context.Context, id ChannelID, p ChannelPatch) error
	PutChannelMember(ctx context.Context, ch ChannelID, user core.UserID, guest bool, since uint64, at time.Time) error
	DeleteChannelMember(ctx context.Context, ch ChannelID, user core.UserID) error
	// ChannelMemberIDs returns the current members of ch, sorted.
	ChannelMemberIDs(ctx context.Context, ch ChannelID) ([]core.UserID, error)
	// InsertMessage adds a message (and to the full-text index) and counts
	// it in its channel's totals.
	InsertMessage(ctx context.Context, m MessageRow) error
	// EditMessage keeps the current text as an edit of seq and replaces it.
	EditMessage(ctx context.Context, ch ChannelID, n uint32, text string, mentions []core.UserID, seq uint64, at time.Time) error
	// DeleteMessage makes the message a tombstone and drops its text from
	// the index, its edits, reactions, mentions and pin.
	DeleteMessage(ctx context.Context, ch ChannelID, n uint32) error
	// AddReplies changes a thread root's reply count by delta; at, if not
	// zero, is the time of the latest reply.
	AddReplies(ctx context.Context, ch ChannelID, root uint32, delta int, at time.Time) error
	PutReaction(ctx context.Context, ch ChannelID, n uint32, emoji string, user core.UserID, seq uint64) error
	DeleteReaction(ctx context.Context, ch ChannelID, n uint32, emoji string, user core.UserID) error
	// SetPinned pins a message at seq, or unpins it with 0.
	SetPinned(ctx context.Context, ch ChannelID, n uint32, seq uint64) error
	PutMention(ctx context.Context, m MentionEntry) error
	PutRead(ctx context.Context, user core.UserID, ch ChannelID, mk Marker, at time.Time) error
	// ChannelWorkspace returns the workspace of a projected channel.
	ChannelWorkspace(ctx context.Context, ch ChannelID) (WorkspaceID, error)
}

// Project applies one event to the read models through rows. Events of a
// stream must come in sequence order; different streams are independent.
func Project(ctx context.Context, rows Rows, ev *eventlog.Event) error {
	data, err := Decode(ev)
	if err != nil || data == nil && ev.Type != EvChannelArchived && ev.Type != EvChannelUnarchived {
		return err
	}
	at := TimeOf(ev.Time)
	switch ev.Stream.Kind() {
	case KindWorkspace:
		return projectWorkspace(ctx, rows, WorkspaceID(ev.Stream.ID()), ev, at, data)
	case KindChannel:
		return projectChannel(ctx, rows, ChannelID(ev.Stream.ID()), ev, at, data)
	case KindInbox:
		if e, ok := data.(*ReadMarked); ok {
			return rows.PutRead(ctx, core.UserID(ev.Stream.ID()), e.Channel, Marker{Seq: e.Seq, Top: e.Top}, at)
		}
	}
	return nil
}

func projectWorkspace(ctx context.Context, rows Rows, ws WorkspaceID, ev *eventlog.Event, at time.Time, data any) error {
	switch e := data.(type) {
	case *WorkspaceCreated:
		return rows.PutWorkspace(ctx, ws, e.Name, ev.Actor, at)
	case *WorkspaceRenamed:
		return rows.RenameWorkspace(ctx, ws, e.Name)
	case *MemberJoined:
		m := MemberRow{User: e.User, Role: e.Role, Bot: e.Bot, JoinedAt: at}
		if e.Profile != nil {
			m.Profile = *e.Profile
		}
		return rows.PutMember(ctx, ws, m)
	case *MemberLeft:
		return rows.DeleteMember(ctx, ws, e.User)
	case *MemberRemoved:
		return rows.DeleteMember(ctx, ws, e.User)
	case *MemberRoleChanged:
		return rows.SetMemberRole(ctx, ws, e.User, e.Role)
	case *MemberUpdated:
		return rows.SetMemberProfile(ctx, ws, e.User, e.Profile)
	}
	return nil
}

func projectChannel(ctx context.Context, rows Rows, ch ChannelID, ev *eventlog.Event, at time.Time, data any) error {
	switch ev.Type {
	case EvChannelArchived, EvChannelUnarchived:
		archived := ev.Type == EvChannelArchived
		return rows.PatchChannel(ctx, ch, ChannelPatch{Archived: &archived})
	}
	switch e := data.(type) {
	case *ChannelOpened:
		return rows.PutChannel(ctx, ChannelRow{ID: ch, Workspace: e.Workspace, Kind: e.Kind, Name: e.Name, Topic: e.Topic, Purpose: e.Purpose, CreatedBy: ev.Actor, CreatedAt: at})
	case *ChannelRenamed:
		return rows.PatchChannel(ctx, ch, ChannelPatch{Name: &e.Name})
	case *ChannelUpdated:
		return rows.PatchChannel(ctx, ch, ChannelPatch{Topic: e.Topic, Purpose: e.Purpose})
	case *MemberJoined:
		return rows.PutChannelMember(ctx, ch, e.User, e.Guest, ev.Seq, at)
	case *MemberLeft:
		return rows.DeleteChannelMember(ctx, ch, e.User)
	case *MemberRemoved:
		return rows.DeleteChannelMember(ctx, ch, e.User)
	case *MessagePosted:
		return projectPost(ctx, rows, ch, ev, at, e)
	case *MessageEdited:
		return rows.EditMessage(ctx, ch, e.ID.Number(), e.Text, e.Mentions, ev.Seq, at)
	case *MessageDeleted:
		if err := rows.DeleteMessage(ctx, ch, e.ID.Number()); err != nil {
			return err
		}
		if e.Thread != "" {
			return rows.AddReplies(ctx, ch, e.Thread.Number(), -1, time.Time{})
		}
	case *Reaction:
		if ev.Type == EvReactionAdded {
			return rows.PutReaction(ctx, ch, e.ID.Number(), e.Emoji, ev.Actor, ev.Seq)
		}
		return rows.DeleteReaction(ctx, ch, e.ID.Number(), e.Emoji, ev.Actor)
	case *Pin:
		seq := ev.Seq
		if ev.Type == EvMessageUnpinned {
			seq = 0
		}
		return rows.SetPinned(ctx, ch, e.ID.Number(), seq)
	}
	return nil
}

// projectPost inserts a message and the mentions inbox entries of the
// channel's members it mentions: by name, with @here (those online then)
// and with @channel (every member). The author is never mentioned by
// their own message, and each member once, as the most specific kind.
func projectPost(ctx context.Context, rows Rows, ch ChannelID, ev *eventlog.Event, at time.Time, e *MessagePosted) error {
	n := e.ID.Number()
	root := e.Thread.Number()
	err := rows.InsertMessage(ctx, MessageRow{Channel: ch, N: n, Seq: ev.Seq, Top: e.Top, Thread: root, Author: ev.Actor,
		Text: e.Text, Mentions: e.Mentions, Attachments: e.Attachments, At: at})
	if err != nil {
		return err
	}
	if root != 0 {
		if err := rows.AddReplies(ctx, ch, root, 1, at); err != nil {
			return err
		}
	}
	if len(e.Mentions) == 0 && len(e.Here) == 0 && !e.Channel {
		return nil
	}
	members, err := rows.ChannelMemberIDs(ctx, ch)
	if err != nil {
		return err
	}
	isMember := make(map[core.UserID]bool, len(members))
	for _, u := range members {
		isMember[u] = true
	}
	kind := map[core.UserID]string{}
	if e.Channel {
		for _, u := range members {
			kind[u] = "channel"
		}
	}
	for _, u := range e.Here {
		kind[u] = "here"
	}
	for _, u := range e.Mentions {
		kind[u] = "user"
	}
	delete(kind, ev.Actor)
	users := make([]core.UserID, 0, len(kind))
	for u := range kind {
		if isMember[u] {
			users = append(users, u)
		}
	}
	if len(users) == 0 {
		return nil
	}
	ws, err := rows.ChannelWorkspace(ctx, ch)
	if err != nil {
		return err
	}
	sort.Slice(users, func(i, j int) bool { return users[i] < users[j] })
	for _, u := range users {
		err := rows.PutMention(ctx, MentionEntry{User: u, Workspace: ws, Channel: ch, N: n, Seq: ev.Seq, Thread: root, Author: ev.Actor, Kind: kind[u], At: at})
		if err != nil {
			return err
		}
	}
	return nil
}
