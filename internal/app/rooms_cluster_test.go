package app_test

import (
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/parleyhq/parley/internal/app/apptest"
	"github.com/parleyhq/parley/internal/config"
	"github.com/parleyhq/parley/internal/rooms"
	"github.com/parleyhq/parley/internal/testutil/natstest"
	"github.com/parleyhq/parley/internal/testutil/pgtest"
)

// TestRoomAcrossTwoNodes runs a room on two nodes sharing NATS and
// PostgreSQL: the room's actor lives on one node, participants on the
// other reach it by forwarding, receive its events through the bus, count
// as participants while they watch, and are evicted from the other node
// when kicked; listings and the summary come from the shared database.
func TestRoomAcrossTwoNodes(t *testing.T) {
	ns := natstest.Start(t)
	db := pgtest.NewDatabase(t)
	ext := apptest.WithConfig(func(c *config.Config) {
		c.NATS.URL = ns.URL()
		c.Database.URL = db
		c.Cluster.LeaseTTL = 3 * time.Second
	})
	a := roomNode(t, ext)
	b := roomNode(t, ext)
	host := newRoomUser(t, a, "Host")
	room := host.createRoom(t, map[string]any{"title": "Two nodes"})
	host.join(t, room)
	var unsub sync.Map
	u := b.SignUp(t, "Remote")
	ev := &apptest.Events{}
	opts := ev.Options()
	opts.OnUnsubscribed = func(stream string, err error) { unsub.Store(stream, err) }
	remote := &roomUser{User: u, c: b.Dial(t, u, opts), ev: ev}
	other := newRoomUser(t, b, "Other")
	remote.join(t, room)
	other.join(t, room)
	apptest.Wait(t, 10*time.Second, "three participants", func() bool { return host.snapshot(t, room).Counts.Total == 3 })
	host.must(t, "comment", map[string]any{"room": room, "text": "hello from a"})
	other.must(t, "react", map[string]any{"room": room, "emoji": "🔥", "count": 4})
	apptest.Wait(t, 10*time.Second, "the comment and the reactions on node b", func() bool {
		rs := eventsOf[rooms.Reactions](t, remote, room, rooms.EvReactions)
		return len(eventsOf[rooms.CommentData](t, remote, room, rooms.EvComment)) == 1 && len(rs) > 0 && rs[len(rs)-1].Totals["🔥"] == 4
	})
	if got := a.Actors().Active() + b.Actors().Active(); got < 1 {
		t.Fatal("no room actor")
	}
	host.must(t, "kick", map[string]any{"room": room, "user": remote.ID})
	apptest.Wait(t, 10*time.Second, "the kicked user's subscription on node b to end", func() bool {
		_, ok := unsub.Load(string(room.Stream()))
		return ok
	})
	var page struct{ Rooms []rooms.Listing }
	apptest.Wait(t, 10*time.Second, "the room listed on node b", func() bool {
		return b.API.Do(ctx(t), http.MethodGet, "/v1/rooms", token(t, other), nil, &page) == nil && len(page.Rooms) == 1
	})
	host.must(t, "end", map[string]any{"room": room})
	var sum rooms.Summary
	apptest.Wait(t, 10*time.Second, "the summary on node b", func() bool {
		return b.API.Do(ctx(t), http.MethodGet, "/v1/rooms/"+string(room)+"/summary", token(t, other), nil, &sum) == nil
	})
	if sum.UniqueListeners != 2 || sum.Comments != 1 || sum.ReactionsTotal != 4 || sum.PeakConcurrent != 3 {
		t.Fatalf("summary %+v", sum)
	}
}
