package app_test

import (
	"context"
	"fmt"
	"sync"
	"testing"

	"github.com/parleyhq/parley/internal/actor"
	"github.com/parleyhq/parley/internal/app/apptest"
	"github.com/parleyhq/parley/internal/config"
	"github.com/parleyhq/parley/internal/core"
	"github.com/parleyhq/parley/internal/rooms"
)

// TestRoomHoldsTheSeedsFigures puts 10,000 comments and 50,000 reactions
// into one room on a node (through its room actor, without sockets),
// restarts the node, and finds every comment and exact reaction totals in
// the rebuilt room and its summary.
func TestRoomHoldsTheSeedsFigures(t *testing.T) {
	fast := apptest.WithConfig(func(c *config.Config) {
		c.Rooms.CommentRate, c.Rooms.CommentBurst = 1e6, 1000000
		c.Rooms.ReactionRate, c.Rooms.ReactionBurst = 1e6, 1000000
	})
	n := roomNode(t, fast)
	host := newRoomUser(t, n, "Host")
	room := host.createRoom(t, nil)
	host.join(t, room)
	s := room.Stream()
	do := func(user core.UserID, cmd string, in rooms.Input) error {
		in.Room = room
		_, err := n.Actors().Do(context.Background(), s, actor.Command{Name: cmd, Actor: user, Data: rooms.Encode(in, rooms.Access{Conn: core.ConnID("c_" + string(user))})})
		return err
	}
	const users, comments, reactions = 50, 10000, 50000
	for i := 0; i < users; i++ {
		u := core.UserID(fmt.Sprintf("u_load%02d", i))
		if err := do(u, rooms.CmdAttach, rooms.Input{}); err != nil {
			t.Fatal(err)
		}
		if err := do(u, rooms.CmdJoin, rooms.Input{}); err != nil {
			t.Fatal(err)
		}
	}
	emoji := n.Config.Rooms.Reactions
	var wg sync.WaitGroup
	for w := 0; w < users; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			u := core.UserID(fmt.Sprintf("u_load%02d", w))
			for k := 0; k < comments/users; k++ {
				if err := do(u, rooms.CmdComment, rooms.Input{Text: fmt.Sprintf("comment %d from %d", k, w)}); err != nil {
					t.Error(err)
					return
				}
			}
			for k := 0; k < reactions/users; k++ {
				if err := do(u, rooms.CmdReact, rooms.Input{Emoji: emoji[k%len(emoji)]}); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	if t.Failed() {
		return
	}
	dir := n.Config.DataDir
	n.Close()
	n2 := roomNode(t, apptest.WithDataDir(dir), fast)
	host2 := newRoomUser(t, n2, "Host2")
	snap := host2.snapshot(t, room)
	var total int64
	for _, v := range snap.Reactions {
		total += v
	}
	if total != reactions {
		t.Fatalf("%d reactions after the restart, want %d (%v)", total, reactions, snap.Reactions)
	}
	res, err := n2.Actors().Do(context.Background(), s, actor.Command{Name: rooms.CmdEnd, Actor: core.UserID(host.ID)})
	if err != nil {
		t.Fatal(err)
	}
	sum := res.Reply.(map[string]any)["summary"].(rooms.Summary)
	if sum.Comments != comments || sum.ReactionsTotal != reactions || sum.UniqueListeners != users {
		t.Fatalf("summary: %d comments, %d reactions, %d listeners", sum.Comments, sum.ReactionsTotal, sum.UniqueListeners)
	}
	_, last, _ := n2.Log().Bounds(context.Background(), s)
	if last < comments || last > comments+reactions/10 {
		t.Fatalf("%d events in the stream: reactions were not aggregated", last)
	}
}
