package app_test

import (
	"fmt"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/parleyhq/parley/internal/app/apptest"
	"github.com/parleyhq/parley/internal/config"
	"github.com/parleyhq/parley/internal/rooms"
)

// TestRoomReactionTotalsExact: concurrent clients send reactions at high
// rate; the room logs one aggregated event per tick, and the totals equal
// the sum of what every client sent.
func TestRoomReactionTotalsExact(t *testing.T) {
	n := roomNode(t, apptest.WithConfig(func(c *config.Config) {
		c.Rooms.ReactionRate, c.Rooms.ReactionBurst = 100000, 100000
	}))
	host := newRoomUser(t, n, "Host")
	room := host.createRoom(t, nil)
	host.join(t, room)
	emoji := n.Config.Rooms.Reactions
	const clients, each = 12, 150
	want := make([]atomic.Int64, len(emoji))
	var wg sync.WaitGroup
	for i := 0; i < clients; i++ {
		m := newRoomUser(t, n, "Fan")
		m.join(t, room)
		wg.Add(1)
		go func() {
			defer wg.Done()
			for k := 0; k < each; k++ {
				e, c := (i+k)%len(emoji), 1+(i*k)%7
				if _, err := m.call(t, "react", map[string]any{"room": room, "emoji": emoji[e], "count": c}); err != nil {
					t.Errorf("react: %v", err)
					return
				}
				want[e].Add(int64(c))
			}
		}()
	}
	wg.Wait()
	var total int64
	wantMap := map[string]int64{}
	for i := range want {
		if v := want[i].Load(); v > 0 {
			wantMap[emoji[i]] = v
			total += v
		}
	}
	apptest.Wait(t, 10*time.Second, "totals to settle", func() bool {
		evs := eventsOf[rooms.Reactions](t, host, room, rooms.EvReactions)
		if len(evs) == 0 {
			return false
		}
		var sum int64
		for _, e := range evs {
			for _, c := range e.Counts {
				sum += c
			}
		}
		return sum == total && jsonOf(evs[len(evs)-1].Totals) == jsonOf(wantMap)
	})
	if evs := host.ev.Of(string(room.Stream()), rooms.EvReactions); len(evs) >= clients*each/10 {
		t.Fatalf("%d reaction events for %d reactions: not aggregated", len(evs), clients*each)
	}
	if s := host.snapshot(t, room); jsonOf(s.Reactions) != jsonOf(wantMap) {
		t.Fatalf("snapshot totals %v, want %v", s.Reactions, wantMap)
	}
	host.must(t, "end", map[string]any{"room": room})
	var sum rooms.Summary
	apptest.Wait(t, 5*time.Second, "the summary", func() bool {
		return n.API.Do(ctx(t), http.MethodGet, "/v1/rooms/"+string(room)+"/summary", token(t, host), nil, &sum) == nil
	})
	if sum.ReactionsTotal != total || jsonOf(sum.Reactions) != jsonOf(wantMap) {
		t.Fatalf("summary reactions %v (%d), want %v (%d)", sum.Reactions, sum.ReactionsTotal, wantMap, total)
	}
}

// TestRoomSummaryExact plays a known room and checks every summary figure,
// pushed to participants with the end and served by the API.
func TestRoomSummaryExact(t *testing.T) {
	n := roomNode(t)
	host := newRoomUser(t, n, "Host")
	room := host.createRoom(t, map[string]any{"title": "Summary"})
	host.join(t, room)
	var ms []*roomUser
	for i := 0; i < 6; i++ {
		m := newRoomUser(t, n, "L")
		m.join(t, room)
		ms = append(ms, m)
	}
	// Peak so far: 7. Two leave, one comes back: 6 unique listeners, peak 7.
	apptest.Wait(t, 5*time.Second, "seven present", func() bool { return host.snapshot(t, room).Counts.Total == 7 })
	ms[0].must(t, "leave", map[string]any{"room": room})
	ms[1].must(t, "leave", map[string]any{"room": room})
	apptest.Wait(t, 5*time.Second, "five present", func() bool { return host.snapshot(t, room).Counts.Total == 5 })
	ms[0].must(t, "join", map[string]any{"room": room})
	host.must(t, "role", map[string]any{"room": room, "user": ms[2].ID, "role": "speaker"})
	for i := 0; i < 4; i++ {
		ms[3+i%3].must(t, "comment", map[string]any{"room": room, "text": fmt.Sprintf("comment %d", i)})
	}
	host.must(t, "comment.delete", map[string]any{"room": room, "comment": 2})
	ms[3].must(t, "react", map[string]any{"room": room, "emoji": "🔥", "count": 9})
	ms[4].must(t, "react", map[string]any{"room": room, "emoji": "👏", "count": 2})
	host.must(t, "poll.open", map[string]any{"room": room, "question": "Again?", "options": []string{"yes", "no"}})
	ms[3].must(t, "poll.vote", map[string]any{"room": room, "poll": 1, "option": 0})
	ms[4].must(t, "poll.vote", map[string]any{"room": room, "poll": 1, "option": 0})
	ms[5].must(t, "poll.vote", map[string]any{"room": room, "poll": 1, "option": 1})
	host.must(t, "end", map[string]any{"room": room})
	var pushed []rooms.EndedData
	apptest.Wait(t, 5*time.Second, "the end pushed to a participant", func() bool {
		pushed = eventsOf[rooms.EndedData](t, ms[5], room, rooms.EvEnded)
		return len(pushed) == 1
	})
	s := pushed[0].Summary
	speakers := []string{host.ID, ms[2].ID}
	if speakers[0] > speakers[1] {
		speakers[0], speakers[1] = speakers[1], speakers[0]
	}
	if s.UniqueListeners != 6 || s.PeakConcurrent != 7 || s.Comments != 4 || s.CommentsDeleted != 1 ||
		s.ReactionsTotal != 11 || s.Reactions["🔥"] != 9 || jsonOf(s.Speakers) != jsonOf(speakers) ||
		len(s.Polls) != 1 || jsonOf(s.Polls[0].Totals) != "[2,1]" || s.Polls[0].Votes != 3 || s.EndReason != "host" ||
		s.DurationSeconds < 0 || s.Title != "Summary" || s.Events != ms[5].c.Position(string(room.Stream())) {
		t.Fatalf("summary %s", jsonOf(s))
	}
	var got rooms.Summary
	apptest.Wait(t, 5*time.Second, "the summary from the API", func() bool {
		return n.API.Do(ctx(t), http.MethodGet, "/v1/rooms/"+string(room)+"/summary", token(t, ms[0]), nil, &got) == nil
	})
	if jsonOf(got) != jsonOf(s) {
		t.Fatalf("API summary differs:\n%s\n%s", jsonOf(got), jsonOf(s))
	}
	ms[3].fails(t, "closed", "comment", map[string]any{"room": room, "text": "after the end"})
}

// TestRoomResumeMissesNoComment: a listener's connection drops again and
// again while comments flow; it resumes every time and ends with every
// comment once, in order, and still in the room.
func TestRoomResumeMissesNoComment(t *testing.T) {
	n := roomNode(t, apptest.WithConfig(func(c *config.Config) {
		c.Rooms.CommentRate, c.Rooms.CommentBurst = 10000, 10000
	}))
	host := newRoomUser(t, n, "Host")
	room := host.createRoom(t, nil)
	host.join(t, room)
	lis := newRoomUser(t, n, "Listener")
	start := lis.join(t, room).Seq
	const total = 300
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := 1; i <= total; i++ {
			if _, err := host.call(t, "comment", map[string]any{"room": room, "text": fmt.Sprintf("c%d", i)}); err != nil {
				t.Errorf("comment %d: %v", i, err)
				return
			}
			if i%10 == 0 {
				time.Sleep(2 * time.Millisecond)
			}
		}
	}()
	for drops := 0; ; drops++ {
		select {
		case <-done:
		default:
			time.Sleep(15 * time.Millisecond)
			lis.c.Drop()
			continue
		}
		break
	}
	apptest.Wait(t, 15*time.Second, "every comment", func() bool {
		return len(lis.ev.Of(string(room.Stream()), rooms.EvComment)) == total
	})
	for i, c := range eventsOf[rooms.CommentData](t, lis, room, rooms.EvComment) {
		if c.N != int64(i+1) || c.Text != fmt.Sprintf("c%d", i+1) {
			t.Fatalf("comment %d: %+v", i, c)
		}
	}
	prev := start
	for _, e := range lis.ev.Of(string(room.Stream())) {
		if e.Seq == 0 {
			continue // ephemeral (counts)
		}
		if e.Seq != prev+1 {
			t.Fatalf("sequence jumps from %d to %d", prev, e.Seq)
		}
		prev = e.Seq
	}
	if st := lis.c.Stats(); st.Connects < 3 {
		t.Fatalf("only %d connects: the test did not drop the connection", st.Connects)
	}
	if err := lis.c.WaitConnected(ctx(t)); err != nil {
		t.Fatal(err)
	}
	if s := lis.snapshot(t, room); s.You.Role != "listener" {
		t.Fatalf("listener left the room after resuming: %+v", s.You)
	}
}
