package app_test

import (
	"context"
	"fmt"
	"sync"
	"testing"

	"github.com/parleyhq/parley/client"
	"github.com/parleyhq/parley/internal/app/apptest"
	"github.com/parleyhq/parley/internal/config"
	"github.com/parleyhq/parley/internal/rooms"
)

// Benchmarks of a room's per-message paths through a whole node: a request
// over a real WebSocket, the room actor, the event log (SQLite, group
// commit) and the fan-out to a subscriber on the same connection.
//
//	go test -run XXX -bench BenchmarkRoom -benchtime 3s ./internal/app/

func benchNode(b *testing.B) (*apptest.Node, []*client.Client, rooms.RoomID) {
	n := apptest.Start(b, apptest.WithConfig(func(c *config.Config) {
		c.Gateway.RatePerSecond, c.Gateway.RateBurst = 1e6, 1000000
		c.Gateway.SendQueueFrames = 1 << 20
		c.Gateway.SendQueueBytes = 1 << 30
		c.Rooms.CommentRate, c.Rooms.CommentBurst = 1e6, 1000000
		c.Rooms.ReactionRate, c.Rooms.ReactionBurst = 1e6, 1000000
	}))
	u := n.SignUp(b, "Bench")
	c := n.Dial(b, u, nil)
	ctx := context.Background()
	var res struct {
		Room rooms.RoomID `json:"room"`
	}
	if err := c.Request(ctx, "room.create", map[string]any{"title": "Bench"}, &res); err != nil {
		b.Fatal(err)
	}
	var snap rooms.Snapshot
	if err := c.Request(ctx, "room.join", map[string]any{"room": res.Room}, &snap); err != nil {
		b.Fatal(err)
	}
	if _, err := c.Subscribe(ctx, string(res.Room.Stream()), &snap.Seq); err != nil {
		b.Fatal(err)
	}
	// Requests of one connection run one at a time: senders use their own
	// connections, as participants do.
	conns := []*client.Client{c}
	for i := 1; i < 32; i++ {
		cu := n.SignUp(b, "Sender")
		cc := n.Dial(b, cu, nil)
		if err := cc.Request(ctx, "room.join", map[string]any{"room": res.Room}, nil); err != nil {
			b.Fatal(err)
		}
		if _, err := cc.Subscribe(ctx, string(res.Room.Stream()), nil); err != nil {
			b.Fatal(err)
		}
		conns = append(conns, cc)
	}
	return n, conns, res.Room
}

// sender hands each parallel benchmark goroutine its own connection.
func sender(conns []*client.Client) func() *client.Client {
	var mu sync.Mutex
	next := 0
	return func() *client.Client {
		mu.Lock()
		defer mu.Unlock()
		next++
		return conns[(next-1)%len(conns)]
	}
}

// BenchmarkRoomComment posts comments from 32 connections at once:
// throughput and latency of the comment path (one logged event each,
// gathered into group commits).
func BenchmarkRoomComment(b *testing.B) {
	_, conns, room := benchNode(b)
	next := sender(conns)
	b.SetParallelism(16)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		c := next()
		i := 0
		for pb.Next() {
			i++
			if err := c.Request(context.Background(), "room.comment", map[string]any{"room": room, "text": fmt.Sprintf("comment %d", i)}, nil); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "comments/s")
}

// BenchmarkRoomReact sends reactions the same way: counted by the actor,
// logged once per tick.
func BenchmarkRoomReact(b *testing.B) {
	_, conns, room := benchNode(b)
	next := sender(conns)
	b.SetParallelism(16)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		c := next()
		for pb.Next() {
			if err := c.Request(context.Background(), "room.react", map[string]any{"room": room, "emoji": "🔥"}, nil); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "reactions/s")
}
