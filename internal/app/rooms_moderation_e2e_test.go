package app_test

import (
	"context"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/parleyhq/parley/client"
	"github.com/parleyhq/parley/internal/app/apptest"
	"github.com/parleyhq/parley/internal/config"
	"github.com/parleyhq/parley/internal/rooms"
)

// TestRoomKickedAndBlockedCannotRejoin: a kicked user loses the room's
// stream at once and cannot join or subscribe again; a blocked user cannot
// join this room or any other room of the host, nor see them.
func TestRoomKickedAndBlockedCannotRejoin(t *testing.T) {
	n := roomNode(t)
	host := newRoomUser(t, n, "Host")
	kim := newRoomUser(t, n, "Kim")
	bea := newRoomUser(t, n, "Bea")
	var unsub sync.Map
	unsubOpts := func(ev *apptest.Events) *client.Options {
		o := ev.Options()
		o.OnUnsubscribed = func(stream string, err error) { unsub.Store(stream, err) }
		return o
	}
	kim.c.Close()
	kim.c = n.Dial(t, kim.User, unsubOpts(kim.ev))
	room := host.createRoom(t, nil)
	host.join(t, room)
	kim.join(t, room)
	bea.join(t, room)
	host.must(t, "kick", map[string]any{"room": room, "user": kim.ID})
	apptest.Wait(t, 5*time.Second, "kim's subscription ended", func() bool {
		_, ok := unsub.Load(string(room.Stream()))
		return ok
	})
	kim.fails(t, "forbidden", "join", map[string]any{"room": room})
	kim.fails(t, "forbidden", "comment", map[string]any{"room": room, "text": "let me back"})
	if _, err := kim.c.Subscribe(ctx(t), string(room.Stream()), nil); err == nil {
		t.Fatal("a kicked user subscribed again")
	}
	kicked := eventsOf[rooms.Target](t, bea, room, rooms.EvKicked)
	apptest.Wait(t, 5*time.Second, "the kick event", func() bool {
		kicked = eventsOf[rooms.Target](t, bea, room, rooms.EvKicked)
		return len(kicked) == 1
	})
	if ev := bea.ev.Of(string(room.Stream()), rooms.EvKicked)[0]; ev.Actor != host.ID || string(kicked[0].User) != kim.ID {
		t.Fatalf("kick event by %s of %s", ev.Actor, kicked[0].User)
	}
	// Kim may join another room of the host: a kick is for one room.
	other := host.createRoom(t, map[string]any{"title": "Second"})
	kim.join(t, other)

	// Blocked: Bea is out of this room and every room of the host.
	host.must(t, "block", map[string]any{"room": room, "user": bea.ID})
	bea.fails(t, "forbidden", "join", map[string]any{"room": room})
	bea.fails(t, "forbidden", "join", map[string]any{"room": other})
	third := host.createRoom(t, map[string]any{"title": "Third"})
	bea.fails(t, "forbidden", "join", map[string]any{"room": third})
	bea.fails(t, "forbidden", "get", map[string]any{"room": third})
	apptest.Wait(t, 5*time.Second, "rooms listed", func() bool {
		var page struct{ Rooms []rooms.Listing }
		_ = n.API.Do(ctx(t), http.MethodGet, "/v1/rooms?status=live", token(t, kim), nil, &page)
		return len(page.Rooms) == 3
	})
	var page struct{ Rooms []rooms.Listing }
	if err := n.API.Do(ctx(t), http.MethodGet, "/v1/rooms?status=live", token(t, bea), nil, &page); err != nil || len(page.Rooms) != 0 {
		t.Fatalf("blocked user sees %d rooms (%v)", len(page.Rooms), err)
	}
	var l rooms.Listing
	if err := n.API.Do(ctx(t), http.MethodGet, "/v1/rooms/"+string(third), token(t, bea), nil, &l); !isCode(err, "not_found") {
		t.Fatalf("blocked user reads the room: %v", err)
	}
	// The host unblocks her from their block list; she may come back.
	if err := n.API.Do(ctx(t), http.MethodDelete, "/v1/me/blocks/"+bea.ID, token(t, host), nil, nil); err != nil {
		t.Fatal(err)
	}
	bea.join(t, third)
	// Unblocking in the room lifts the room's own block too.
	host.must(t, "unblock", map[string]any{"room": room, "user": bea.ID})
	bea.join(t, room)
}

func token(t *testing.T, m *roomUser) string {
	t.Helper()
	tok, err := m.Session.Token(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

func isCode(err error, code string) bool {
	ce, ok := err.(*client.Error)
	return ok && ce.Code == code
}

// TestRoomOneVotePerPoll: many concurrent votes of one user count once.
func TestRoomOneVotePerPoll(t *testing.T) {
	n := roomNode(t)
	host := newRoomUser(t, n, "Host")
	room := host.createRoom(t, nil)
	host.join(t, room)
	voters := make([]*roomUser, 8)
	for i := range voters {
		voters[i] = newRoomUser(t, n, "Voter")
		voters[i].join(t, room)
	}
	host.must(t, "poll.open", map[string]any{"room": room, "question": "Which?", "options": []string{"a", "b", "c"}})
	var wg sync.WaitGroup
	var mu sync.Mutex
	ok := map[string]int{}
	for i, v := range voters {
		for k := 0; k < 5; k++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if _, err := v.call(t, "poll.vote", map[string]any{"room": room, "poll": 1, "option": (i + k) % 3}); err == nil {
					mu.Lock()
					ok[v.ID]++
					mu.Unlock()
				} else if !isCode(err, "already_exists") {
					t.Errorf("vote: %v", err)
				}
			}()
		}
	}
	wg.Wait()
	for _, v := range voters {
		if ok[v.ID] != 1 {
			t.Fatalf("%s voted %d times", v.Handle, ok[v.ID])
		}
	}
	closed := host.must(t, "poll.close", map[string]any{"room": room, "poll": 1})
	var res struct{ Totals []int64 }
	_ = jsonUnmarshal(closed, &res)
	var sum int64
	for _, n := range res.Totals {
		sum += n
	}
	if sum != int64(len(voters)) {
		t.Fatalf("totals %v", res.Totals)
	}
	voters[0].fails(t, "closed", "poll.vote", map[string]any{"room": room, "poll": 1, "option": 0})
	apptest.Wait(t, 5*time.Second, "the closed poll", func() bool {
		return len(eventsOf[rooms.PollClosed](t, voters[1], room, rooms.EvPollClosed)) == 1
	})
}

// TestRoomParticipantsFollowConnections: a participant counts while one of
// their connections watches the room; when the last one closes they leave
// after the reconnect grace, and the host leaving ends the room after the
// host grace.
func TestRoomParticipantsFollowConnections(t *testing.T) {
	n := roomNode(t, apptest.WithConfig(func(c *config.Config) {
		c.Rooms.ReconnectGrace = time.Second
		c.Rooms.HostGrace = 2 * time.Second
	}))
	host := newRoomUser(t, n, "Host")
	room := host.createRoom(t, nil)
	host.join(t, room)
	lis := newRoomUser(t, n, "Lis")
	lis.join(t, room)
	second := n.Dial(t, lis.User, nil) // a second tab of the same user
	if _, err := second.Subscribe(ctx(t), string(room.Stream()), nil); err != nil {
		t.Fatal(err)
	}
	total := func() int { return host.snapshot(t, room).Counts.Total }
	apptest.Wait(t, 5*time.Second, "two participants", func() bool { return total() == 2 })
	lis.c.Close()
	time.Sleep(1500 * time.Millisecond) // past the grace: the second tab still watches
	if got := total(); got != 2 {
		t.Fatalf("%d participants while a tab still watches", got)
	}
	second.Close()
	apptest.Wait(t, 5*time.Second, "the listener to leave", func() bool { return total() == 1 })
	// The host's connection goes: the room ends after the host grace.
	host.c.Close()
	watcher := newRoomUser(t, n, "Watcher")
	apptest.Wait(t, 10*time.Second, "the room to end", func() bool {
		s := watcher.snapshot(t, room)
		return s.Status == rooms.Ended && s.EndReason == rooms.EndedHostLeft
	})
}
