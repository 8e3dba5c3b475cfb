package app

import (
	"context"

	"github.com/parleyhq/parley/internal/chat"
	"github.com/parleyhq/parley/internal/core"
	"github.com/parleyhq/parley/internal/errs"
	"github.com/parleyhq/parley/internal/rooms"
)

// The adapters in this file let one domain use another's facts without
// importing it: rooms visible to a workspace ask chat who belongs to it,
// and calls in a channel or DM ask chat who its members are.

// connectDomains wires the domains that depend on each other, after each
// has started.
func (m *Main) connectDomains() {
	if m.chat == nil {
		return
	}
	m.SetRoomWorkspaces(roomWorkspaces{m.chat.view})
	m.media.members = conversationsOf{m.chat.view}
}

// roomWorkspaces answers the rooms domain's membership questions from the
// chat view (kept current by the chat streams' events on every node).
type roomWorkspaces struct{ v *chat.View }

var _ rooms.Workspaces = roomWorkspaces{}

func (w roomWorkspaces) IsMember(_ context.Context, ws string, user core.UserID) (bool, error) {
	_, _, _, ok := w.v.Member(chat.WorkspaceID(ws), user)
	return ok, nil
}

func (w roomWorkspaces) WorkspacesOf(_ context.Context, user core.UserID) ([]string, error) {
	ids := w.v.Workspaces(user)
	out := make([]string, len(ids))
	for i, id := range ids {
		out[i] = string(id)
	}
	return out, nil
}

// conversationsOf lists the members of a channel or DM for calls in it.
type conversationsOf struct{ v *chat.View }

var _ conversationMembers = conversationsOf{}

func (c conversationsOf) Members(_ context.Context, conversation core.StreamID) ([]core.UserID, error) {
	if conversation.Kind() != chat.KindChannel {
		return nil, errs.E(errs.InvalidArgument, "a call's conversation is a channel or DM stream (channel:<id>)")
	}
	members := c.v.ChannelMembers(chat.ChannelID(conversation.ID()))
	if len(members) == 0 {
		return nil, errs.E(errs.NotFound, "no conversation %s", conversation)
	}
	return members, nil
}
