package app_test

import (
	"testing"
	"time"

	"github.com/parleyhq/parley/internal/app/apptest"
	"github.com/parleyhq/parley/internal/config"
	"github.com/parleyhq/parley/internal/core"
	"github.com/parleyhq/parley/internal/rooms"
)

// TestRoomStageFlow walks hand -> invite -> accept -> speaker -> moderator
// mute -> back to listener with Go clients, checking what every
// participant receives.
func TestRoomStageFlow(t *testing.T) {
	n := roomNode(t)
	host := newRoomUser(t, n, "Host")
	mod := newRoomUser(t, n, "Mod")
	ann := newRoomUser(t, n, "Ann")
	bob := newRoomUser(t, n, "Bob")
	room := host.createRoom(t, map[string]any{"title": "Stage flow", "topics": []string{"Go"}})
	host.join(t, room)
	mod.join(t, room)
	ann.join(t, room)
	bob.join(t, room)
	host.must(t, "role", map[string]any{"room": room, "user": mod.ID, "role": "moderator"})

	ann.must(t, "hand", map[string]any{"room": room, "raised": true})
	var hands rooms.Page
	apptest.Wait(t, 5*time.Second, "the hand in the queue", func() bool {
		raw := mod.must(t, "hands", map[string]any{"room": room})
		hands = rooms.Page{}
		_ = jsonUnmarshal(raw, &hands)
		return len(hands.Users) == 1
	})
	if string(hands.Users[0]) != ann.ID {
		t.Fatalf("hands %v", hands.Users)
	}
	bob.fails(t, "forbidden", "hands", map[string]any{"room": room})
	mod.must(t, "invite", map[string]any{"room": room, "user": ann.ID})
	ann.must(t, "invite.answer", map[string]any{"room": room, "accept": true})
	apptest.Wait(t, 5*time.Second, "everyone sees ann on the stage", func() bool {
		for _, m := range []*roomUser{host, mod, bob} {
			added := eventsOf[rooms.RoleData](t, m, room, rooms.EvSpeakerAdded)
			if len(added) == 0 || string(added[len(added)-1].User) != ann.ID {
				return false
			}
		}
		return true
	})
	ann.must(t, "mute", map[string]any{"room": room, "muted": false})
	mod.must(t, "mute", map[string]any{"room": room, "user": ann.ID, "muted": true, "locked": true})
	ann.fails(t, "forbidden", "mute", map[string]any{"room": room, "muted": false})
	apptest.Wait(t, 5*time.Second, "the locked mute event", func() bool {
		ms := eventsOf[rooms.MuteData](t, bob, room, rooms.EvMute)
		return len(ms) == 2 && ms[1].Muted && ms[1].Locked && string(ms[1].User) == ann.ID
	})
	stage, err := n.RoomStage(ctx(t), room)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range stage {
		if string(s.User) == ann.ID && (!s.Muted || !s.Locked) {
			t.Fatalf("stage %+v", stage)
		}
	}
	if ok, err := n.CanSpeak(ctx(t), room, core.UserID(ann.ID)); ok || err != nil {
		t.Fatalf("a locked speaker can speak: %v %v", ok, err)
	}
	mod.must(t, "stage.remove", map[string]any{"room": room, "user": ann.ID})
	apptest.Wait(t, 5*time.Second, "ann back in the audience", func() bool {
		rm := eventsOf[rooms.RoleData](t, ann, room, rooms.EvSpeakerRemoved)
		return len(rm) == 1 && rm[0].Role == rooms.RoleListener && len(rm[0].Stage) == 2
	})
	if s := ann.snapshot(t, room); s.You.Role != "listener" || s.You.Muted {
		t.Fatalf("ann: %+v", s.You)
	}
	ann.fails(t, "forbidden", "stage.join", map[string]any{"room": room})
}

// TestRoomConfiguredLimitsApply: the rooms section of the configuration
// reaches the rules of a running node.
func TestRoomConfiguredLimitsApply(t *testing.T) {
	n := roomNode(t, apptest.WithConfig(func(c *config.Config) {
		c.Rooms.MaxStage = 1
		c.Rooms.MaxComment = 10
		c.Rooms.Reactions = []string{"🎉"}
	}))
	host := newRoomUser(t, n, "Host")
	lis := newRoomUser(t, n, "Lis")
	room := host.createRoom(t, nil)
	host.join(t, room)
	lis.join(t, room)
	host.fails(t, "limit_exceeded", "invite", map[string]any{"room": room, "user": lis.ID})
	lis.fails(t, "limit_exceeded", "comment", map[string]any{"room": room, "text": "eleven char"})
	lis.must(t, "comment", map[string]any{"room": room, "text": "ten chars!"})
	lis.fails(t, "invalid_argument", "react", map[string]any{"room": room, "emoji": "🔥"})
	lis.must(t, "react", map[string]any{"room": room, "emoji": "🎉"})
}
