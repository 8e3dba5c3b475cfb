package app_test

import (
	"testing"
	"time"

	"github.com/parleyhq/parley/internal/app/apptest"
)

// TestWorkspaceRoomsFollowChatMembership: a room open to a workspace admits
// the workspace's members (as chat knows them) and refuses everyone else;
// its host must belong to the workspace.
func TestWorkspaceRoomsFollowChatMembership(t *testing.T) {
	n := apptest.Start(t, apptest.WithConfig(chatConfig))
	ann := newPerson(t, n, "Ann")
	bob := newPerson(t, n, "Bob")
	eve := newPerson(t, n, "Eve")
	ws := createWorkspace(t, ann, "Acme")
	join(t, ann, ws, bob)

	var created struct {
		Room string `json:"room"`
	}
	if code := eve.try("room.create", map[string]any{"title": "Standup", "visibility": "workspace", "workspace": ws.ID}, nil); code != "forbidden" {
		t.Fatalf("a stranger opened a room in the workspace: %q", code)
	}
	// The chat view follows the workspace's stream; wait until it knows Ann.
	apptest.Wait(t, 5*time.Second, "the host's room", func() bool {
		return ann.try("room.create", map[string]any{"title": "Standup", "visibility": "workspace", "workspace": ws.ID}, &created) == ""
	})
	apptest.Wait(t, 5*time.Second, "a member joins", func() bool {
		return bob.try("room.join", map[string]any{"room": created.Room}, nil) == ""
	})
	if code := eve.try("room.join", map[string]any{"room": created.Room}, nil); code != "forbidden" {
		t.Fatalf("a stranger joined a workspace room: %q", code)
	}
}

// TestCallInAChannelRingsItsMembers: call.start with a chat channel rings
// the channel's members; outsiders cannot start one there, and an unknown
// channel is not found.
func TestCallInAChannelRingsItsMembers(t *testing.T) {
	n := apptest.Start(t, apptest.WithConfig(chatConfig))
	ann := newPerson(t, n, "Ann")
	bob := newPerson(t, n, "Bob")
	eve := newPerson(t, n, "Eve")
	ws := createWorkspace(t, ann, "Acme")
	join(t, ann, ws, bob)

	var start struct {
		Call    string   `json:"call"`
		Members []string `json:"members"`
	}
	conv := map[string]any{"conversation": "channel:" + ws.General}
	apptest.Wait(t, 5*time.Second, "a call with both members", func() bool {
		return ann.try("call.start", conv, &start) == "" && len(start.Members) == 2
	})
	if !(start.Members[0] == ann.ID && start.Members[1] == bob.ID) && !(start.Members[0] == bob.ID && start.Members[1] == ann.ID) {
		t.Fatalf("call members %v, want Ann and Bob", start.Members)
	}
	apptest.Wait(t, 5*time.Second, "Bob's ring", func() bool { return len(pushesOf(bob.ev, "call.ring")) >= 1 })
	if code := eve.try("call.start", conv, nil); code != "forbidden" {
		t.Fatalf("an outsider started a call in the channel: %q", code)
	}
	if code := eve.try("call.start", map[string]any{"conversation": "channel:nope"}, nil); code != "not_found" {
		t.Fatalf("a call in an unknown channel: %q", code)
	}
	if code := eve.try("call.start", map[string]any{"conversation": "room:r1"}, nil); code != "invalid_argument" {
		t.Fatalf("a call in a room stream: %q", code)
	}
}
