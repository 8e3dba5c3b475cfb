package roomstest

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/parleyhq/parley/internal/core"
	"github.com/parleyhq/parley/internal/eventlog"
	"github.com/parleyhq/parley/internal/rooms"
)

// SinkRow is one archived event as a sink stored it.
type SinkRow struct {
	Seq   int64
	Type  string
	Actor string
	Data  string // JSON
}

// SinkContents is what a sink holds for one room: its summary rows (room
// id, comments and reactions totals are enough to tell them apart) and its
// event rows in sequence order.
type SinkContents struct {
	Summaries []rooms.Summary
	Events    []SinkRow
}

// ArchiveOf returns an archive of room with n events.
func ArchiveOf(room rooms.RoomID, n int, ended time.Time) *rooms.Archive {
	a := &rooms.Archive{Summary: rooms.Summary{
		Room: room, Title: "Room " + string(room), Host: "u_host", Visibility: rooms.Public,
		CreatedAt: ended.Add(-time.Hour), EndedAt: ended, EndReason: rooms.EndedByHost, DurationSeconds: 3600,
		UniqueListeners: 7, PeakConcurrent: 5, Comments: int64(n / 2), Reactions: map[string]int64{"🔥": 11},
		ReactionsTotal: 11, Speakers: []core.UserID{"u_host"}, Polls: []rooms.PollResult{}, Events: uint64(n),
	}}
	started := ended.Add(-time.Hour)
	a.Summary.StartedAt = &started
	for i := 1; i <= n; i++ {
		data, _ := json.Marshal(map[string]any{"n": i, "text": fmt.Sprintf("comment %d", i)})
		a.Events = append(a.Events, eventlog.Event{Stream: room.Stream(), Seq: uint64(i), Type: rooms.EvComment,
			Time: started.Add(time.Duration(i) * time.Second), Actor: "u_a", Data: data})
	}
	return a
}

// RunSink runs the contract suite of an analytics sink: open returns a new,
// empty sink and a function that reads back what it holds for a room.
func RunSink(t *testing.T, open func(t *testing.T) (rooms.Sink, func(t *testing.T, room rooms.RoomID) SinkContents)) {
	t.Run("WriteReadBack", func(t *testing.T) {
		s, read := open(t)
		a := ArchiveOf("r_one", 50, Epoch)
		if err := s.WriteRoom(context.Background(), a); err != nil {
			t.Fatal(err)
		}
		checkSink(t, read(t, "r_one"), a)
		if c := read(t, "r_other"); len(c.Summaries)+len(c.Events) != 0 {
			t.Fatalf("another room has rows: %+v", c)
		}
	})
	t.Run("RewriteIsExactlyOnce", func(t *testing.T) {
		s, read := open(t)
		a := ArchiveOf("r_two", 120, Epoch)
		for i := 0; i < 3; i++ {
			if err := s.WriteRoom(context.Background(), a); err != nil {
				t.Fatal(err)
			}
		}
		b := ArchiveOf("r_three", 10, Epoch.Add(48*time.Hour))
		if err := s.WriteRoom(context.Background(), b); err != nil {
			t.Fatal(err)
		}
		checkSink(t, read(t, "r_two"), a)
		checkSink(t, read(t, "r_three"), b)
	})
}

func checkSink(t *testing.T, c SinkContents, a *rooms.Archive) {
	t.Helper()
	if len(c.Summaries) != 1 {
		t.Fatalf("%s: %d summary rows, want 1", a.Summary.Room, len(c.Summaries))
	}
	s := c.Summaries[0]
	if s.Room != a.Summary.Room || s.Comments != a.Summary.Comments || s.ReactionsTotal != a.Summary.ReactionsTotal ||
		s.UniqueListeners != a.Summary.UniqueListeners || s.PeakConcurrent != a.Summary.PeakConcurrent {
		t.Fatalf("summary row %+v, want %+v", s, a.Summary)
	}
	if len(c.Events) != len(a.Events) {
		t.Fatalf("%s: %d event rows, want %d", a.Summary.Room, len(c.Events), len(a.Events))
	}
	for i, e := range a.Events {
		r := c.Events[i]
		var got, want any
		_ = json.Unmarshal([]byte(r.Data), &got)
		_ = json.Unmarshal(e.Data, &want)
		if r.Seq != int64(e.Seq) || r.Type != e.Type || r.Actor != string(e.Actor) || JSON(got) != JSON(want) {
			t.Fatalf("event row %d: %+v, want %+v", i, r, e)
		}
	}
}
