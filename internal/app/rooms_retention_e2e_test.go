package app_test

import (
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/parleyhq/parley/internal/analytics"
	"github.com/parleyhq/parley/internal/app"
	"github.com/parleyhq/parley/internal/app/apptest"
	"github.com/parleyhq/parley/internal/auth/authtest"
	"github.com/parleyhq/parley/internal/config"
	"github.com/parleyhq/parley/internal/rooms"
)

// TestRoomHotStateExpiresAfter72Hours drives a node's clock: a live room's
// hot state in the bus KV carries a TTL that ends 72 hours after the room
// started, and the bus removes it by itself (no cleanup involved); at 72
// hours the room's actor ends the room, drops its in-memory state and the
// analytics are written. A room whose actor is not running when its time
// comes (the node was down) is ended by the sweeper of the next node.
func TestRoomHotStateExpiresAfter72Hours(t *testing.T) {
	t0 := time.Now().UTC().Truncate(time.Second)
	clk := authtest.NewClock(t0)
	fast := apptest.WithConfig(func(c *config.Config) {
		c.Rooms.CommentBurst = 1000
	})
	n := roomNode(t, apptest.WithClock(clk), fast)
	host := newRoomUser(t, n, "Host")
	lis := newRoomUser(t, n, "Listener")
	room := host.createRoom(t, nil)
	host.join(t, room)
	snap := lis.join(t, room)
	if want := t0.Add(72 * time.Hour); !snap.ExpiresAt.Equal(want) {
		t.Fatalf("expires at %v, want %v", snap.ExpiresAt, want)
	}
	lis.must(t, "comment", map[string]any{"room": room, "text": "before"})
	var hot rooms.Hot
	apptest.Wait(t, 5*time.Second, "the hot state in the KV", func() bool {
		h, ok, err := n.RoomHotState(ctx(t), room)
		hot = h
		return err == nil && ok && h.Counts.Total == 2
	})
	if hot.Status != rooms.Live || len(hot.Stage) != 1 || string(hot.Host) != host.ID {
		t.Fatalf("hot state %+v", hot)
	}

	// Three seconds before the deadline a new event rewrites the entry
	// with the TTL left: three seconds, counted by the bus in real time.
	clk.Advance(72*time.Hour - 3*time.Second)
	lis.must(t, "comment", map[string]any{"room": room, "text": "almost there"})
	apptest.Wait(t, 15*time.Second, "the bus to expire the hot state", func() bool {
		_, ok, err := n.RoomHotState(ctx(t), room)
		return err == nil && !ok
	})
	if s := lis.snapshot(t, room); s.Status != rooms.Live || s.Counts.Total != 2 {
		t.Fatalf("the KV entry went, the room must still be live: %s %+v", s.Status, s.Counts)
	}

	// At 72 hours the actor ends the room and drops its hot state.
	clk.Advance(3 * time.Second)
	apptest.Wait(t, 10*time.Second, "the room to end", func() bool {
		return len(eventsOf[rooms.EndedData](t, lis, room, rooms.EvEnded)) == 1
	})
	ended := eventsOf[rooms.EndedData](t, lis, room, rooms.EvEnded)[0]
	if ended.Reason != rooms.EndedExpired || ended.Summary.Comments != 2 || ended.Summary.DurationSeconds != 72*3600 {
		t.Fatalf("ended %+v", ended)
	}
	s := host.snapshot(t, room)
	if s.Status != rooms.Ended || s.Counts.Total != 0 || len(s.Comments) != 0 || len(s.Stage) != 0 {
		t.Fatalf("hot state kept after the end: %+v", s)
	}
	apptest.Wait(t, 10*time.Second, "analytics of the expired room", func() bool {
		sums, evs, err := analytics.ReadRoom(n.RoomAnalyticsDir(), room)
		return err == nil && len(sums) == 1 && len(evs) > 0
	})

	// A room whose node was down at its deadline.
	late := host.createRoom(t, map[string]any{"title": "Left alone"})
	dir := n.Config.DataDir
	n.Close()
	clk.Advance(72*time.Hour + time.Minute)
	n2 := roomNode(t, apptest.WithClock(clk), apptest.WithDataDir(dir), fast)
	viewer := newRoomUser(t, n2, "Viewer")
	apptest.Wait(t, 10*time.Second, "the sweeper to end the room", func() bool {
		return viewer.snapshot(t, late).Status == rooms.Ended
	})
	if s := viewer.snapshot(t, late); s.EndReason != rooms.EndedExpired {
		t.Fatalf("late room ended for %q", s.EndReason)
	}
	var l rooms.Listing
	apptest.Wait(t, 10*time.Second, "the listing to show the end", func() bool {
		return n2.API.Do(ctx(t), http.MethodGet, "/v1/rooms/"+string(late), token(t, viewer), nil, &l) == nil && l.Status == rooms.Ended
	})
}

// TestRoomAnalyticsExactlyOnceAfterKilledWorker ends a room on a node
// whose analytics worker is stopped half way through the room (its events
// file written, its summary not), kills the node with SIGKILL, starts a
// node on the same data: the job is redelivered and every row is written
// exactly once.
func TestRoomAnalyticsExactlyOnceAfterKilledWorker(t *testing.T) {
	short := apptest.WithConfig(func(c *config.Config) { c.Rooms.AnalyticsAckWait = 2 * time.Second })
	if dir := os.Getenv("PARLEY_ROOMS_KILL_DIR"); dir != "" {
		app.SetRoomsSinkHook(func(s rooms.Sink) {
			s.(*analytics.Sink).BeforeSummary = func() {
				_ = os.WriteFile(filepath.Join(dir, "stopped"), nil, 0o640)
				select {} // the worker hangs here until the process is killed
			}
		})
		n := roomNode(t, apptest.WithDataDir(filepath.Join(dir, "node")), short)
		host := newRoomUser(t, n, "Host")
		room := host.createRoom(t, nil)
		host.join(t, room)
		for i := 0; i < 4; i++ {
			m := newRoomUser(t, n, "L")
			m.join(t, room)
			m.must(t, "comment", map[string]any{"room": room, "text": fmt.Sprintf("hello %d", i)})
			m.must(t, "react", map[string]any{"room": room, "emoji": "🔥", "count": 5})
		}
		host.must(t, "end", map[string]any{"room": room})
		_ = os.WriteFile(filepath.Join(dir, "room"), []byte(room), 0o640)
		select {}
	}
	dir := t.TempDir()
	cmd := exec.Command(os.Args[0], "-test.run=^TestRoomAnalyticsExactlyOnceAfterKilledWorker$", "-test.timeout=2m")
	cmd.Env = append(os.Environ(), "PARLEY_ROOMS_KILL_DIR="+dir)
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	apptest.Wait(t, 60*time.Second, "the child's worker to stop half way", func() bool {
		_, e1 := os.Stat(filepath.Join(dir, "stopped"))
		_, e2 := os.Stat(filepath.Join(dir, "room"))
		return e1 == nil && e2 == nil
	})
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = cmd.Wait()
	b, _ := os.ReadFile(filepath.Join(dir, "room"))
	room := rooms.RoomID(b)
	adir := filepath.Join(dir, "node", "analytics")
	sums, evs, err := analytics.ReadRoom(adir, room)
	if err != nil || len(sums) != 0 || len(evs) == 0 {
		t.Fatalf("after the kill: %d summaries, %d events, %v", len(sums), len(evs), err)
	}

	n := roomNode(t, apptest.WithDataDir(filepath.Join(dir, "node")), short)
	_, last, err := n.Log().Bounds(ctx(t), room.Stream())
	if err != nil || last == 0 {
		t.Fatalf("bounds %d %v", last, err)
	}
	apptest.Wait(t, 30*time.Second, "the redelivered job to finish", func() bool {
		sums, _, err := analytics.ReadRoom(adir, room)
		return err == nil && len(sums) == 1
	})
	sums, evs, err = analytics.ReadRoom(adir, room)
	if err != nil || len(sums) != 1 || len(evs) != int(last) || len(analytics.Leftovers(adir)) != 0 {
		t.Fatalf("after the redelivery: %d summaries, %d events (log has %d), leftovers %v, %v",
			len(sums), len(evs), last, analytics.Leftovers(adir), err)
	}
	seen := map[int64]bool{}
	for _, e := range evs {
		if seen[e.Seq] || e.Seq < 1 || e.Seq > int64(last) {
			t.Fatalf("event row %d twice or out of range", e.Seq)
		}
		seen[e.Seq] = true
	}
	if sums[0].Comments != 4 || sums[0].ReactionsTotal != 20 || sums[0].UniqueListeners != 4 {
		t.Fatalf("summary row %+v", sums[0])
	}
}
