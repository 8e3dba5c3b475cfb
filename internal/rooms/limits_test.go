package rooms_test

import (
	"encoding/json"
	"testing"

	"github.com/parleyhq/parley/internal/core"
	"github.com/parleyhq/parley/internal/errs"
	"github.com/parleyhq/parley/internal/rooms"
	"github.com/parleyhq/parley/internal/rooms/roomstest"
)

// TestConfiguredLimits: each configured limit refuses the one above it
// with its code.
func TestConfiguredLimits(t *testing.T) {
	lim := rooms.DefaultLimits()
	lim.MaxStage, lim.MaxParticipants, lim.MaxOpenPolls, lim.MaxGuests, lim.MaxTopics = 2, 4, 1, 2, 1
	r := newRoom(t, lim)
	r.join("u_host", "u_a", "u_b", "u_c")
	r.fail(errs.LimitExceeded, "u_d", rooms.CmdJoin, rooms.Input{})
	r.ok("u_host", rooms.CmdRole, rooms.Input{User: "u_a", Role: "speaker"})
	r.fail(errs.LimitExceeded, "u_host", rooms.CmdInvite, rooms.Input{User: "u_b"})
	r.fail(errs.LimitExceeded, "u_host", rooms.CmdRole, rooms.Input{User: "u_b", Role: "speaker"})
	r.ok("u_host", rooms.CmdPollOpen, rooms.Input{Question: "One", Options: []string{"a", "b"}})
	r.fail(errs.LimitExceeded, "u_host", rooms.CmdPollOpen, rooms.Input{Question: "Two", Options: []string{"a", "b"}})
	r.fail(errs.InvalidArgument, "u_host", rooms.CmdGuests, rooms.Input{Users: []core.UserID{"u_x", "u_y", "u_z"}})
	r.fail(errs.InvalidArgument, "u_host", rooms.CmdUpdate, rooms.Input{Topics: []string{"a", "b"}})
	r.fail(errs.InvalidArgument, "u_host", rooms.CmdSettings, rooms.Input{SlowMode: ptr(int(lim.MaxSlowMode.Seconds()) + 1)})
}

// FuzzDecide throws arbitrary commands at a populated room: nothing
// panics, and the counts stay consistent with a replay of the log.
func FuzzDecide(f *testing.F) {
	for _, s := range []string{
		`{"in":{"text":"hi"}}`, `{"in":{"emoji":"🔥","count":50}}`, `{"in":{"user":"u_a","role":"moderator"}}`,
		`{"in":{"poll":1,"option":-1}}`, `{"in":{"question":"q","options":["a","a"]}}`, `{"in":{"meta":{"a":1},"text":" "}}`,
		`{"in":{"after":"zzz","limit":-5}}`, `{"in":{"user":"u_host","muted":false,"locked":true}}`, `not json`, `{"in":{"slow_mode":-1}}`,
	} {
		for _, cmd := range []string{rooms.CmdComment, rooms.CmdReact, rooms.CmdRole, rooms.CmdPollVote, rooms.CmdMute, rooms.CmdAudience} {
			f.Add(cmd, "u_a", s)
		}
	}
	f.Fuzz(func(t *testing.T, cmd, user, data string) {
		lim := rooms.DefaultLimits()
		r := newRoom(t, lim)
		r.join("u_host", "u_a", "u_b")
		r.ok("u_host", rooms.CmdPollOpen, rooms.Input{Question: "Q", Options: []string{"x", "y"}})
		names := append(append([]string{}, rooms.ClientCommands...), rooms.CmdAttach, rooms.CmdDetach, rooms.CmdExpire, rooms.CmdHot)
		for i := 0; i < 3; i++ {
			name := cmd
			if len(cmd) > 0 && int(cmd[0])%2 == 0 {
				name = names[(int(cmd[0])+i)%len(names)]
			}
			_, _ = r.d.DoRaw(core.UserID(user), name, json.RawMessage(data))
			r.d.Advance(lim.ReactionInterval)
		}
		c := r.d.Snapshot("u_host").Counts
		if c.Total < 0 || c.Listeners < 0 || c.Speakers < 0 || c.Hosts < 0 || c.Moderators < 0 || c.Total != c.Hosts+c.Moderators+c.Speakers+c.Listeners {
			t.Fatalf("counts %+v", c)
		}
		replayed := r.d.Replay(lim)
		if roomstest.JSON(stateOf(t, replayed).Snapshot.Reactions) != roomstest.JSON(r.d.Snapshot("u_host").Reactions) {
			t.Fatalf("replay differs")
		}
	})
}
