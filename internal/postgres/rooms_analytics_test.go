package postgres_test

import (
	"context"
	"testing"

	"github.com/parleyhq/parley/internal/postgres"
	"github.com/parleyhq/parley/internal/rooms"
	"github.com/parleyhq/parley/internal/rooms/roomstest"
	"github.com/parleyhq/parley/internal/testutil/pgtest"
)

func TestAnalyticsSink(t *testing.T) {
	roomstest.RunSink(t, func(t *testing.T) (rooms.Sink, func(*testing.T, rooms.RoomID) roomstest.SinkContents) {
		db, err := postgres.Open(context.Background(), pgtest.NewDatabase(t), 8)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		return postgres.NewAnalyticsSink(db), func(t *testing.T, room rooms.RoomID) roomstest.SinkContents {
			t.Helper()
			ctx := context.Background()
			var c roomstest.SinkContents
			rows, err := db.Pool.Query(ctx, `SELECT room_id, comments, reactions_total, unique_listeners, peak_concurrent
				FROM analytics_room_summaries WHERE room_id = $1`, room)
			if err != nil {
				t.Fatal(err)
			}
			for rows.Next() {
				var s rooms.Summary
				var ul, pc int64
				if err := rows.Scan(&s.Room, &s.Comments, &s.ReactionsTotal, &ul, &pc); err != nil {
					t.Fatal(err)
				}
				s.UniqueListeners, s.PeakConcurrent = int(ul), int(pc)
				c.Summaries = append(c.Summaries, s)
			}
			rows.Close()
			rows, err = db.Pool.Query(ctx, `SELECT seq, type, actor, coalesce(data::text, 'null') FROM analytics_room_events
				WHERE room_id = $1 ORDER BY seq`, room)
			if err != nil {
				t.Fatal(err)
			}
			defer rows.Close()
			for rows.Next() {
				var r roomstest.SinkRow
				if err := rows.Scan(&r.Seq, &r.Type, &r.Actor, &r.Data); err != nil {
					t.Fatal(err)
				}
				c.Events = append(c.Events, r)
			}
			return c
		}
	})
}
