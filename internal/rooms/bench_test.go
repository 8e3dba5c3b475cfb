package rooms_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/parleyhq/parley/internal/core"
	"github.com/parleyhq/parley/internal/rooms"
	"github.com/parleyhq/parley/internal/rooms/roomstest"
)

// Benchmarks of the room behaviour's per-message paths (decide and apply,
// without I/O):
//
//	go test -run XXX -bench . -benchmem ./internal/rooms/

func benchRoom(b *testing.B, listeners int) *roomstest.Driver {
	b.Helper()
	lim := rooms.DefaultLimits()
	lim.CommentRate, lim.CommentBurst = 1e9, 1e9
	lim.ReactionRate, lim.ReactionBurst = 1e9, 1e9
	d := roomstest.NewDriver(lim)
	title := "Bench"
	if _, err := d.Do("u_host", rooms.CmdCreate, rooms.Input{Title: &title}, rooms.Access{}); err != nil {
		b.Fatal(err)
	}
	d.Do("u_host", rooms.CmdAttach, rooms.Input{}, rooms.Access{Conn: "c_host"})
	if _, err := d.Do("u_host", rooms.CmdJoin, rooms.Input{}, rooms.Access{}); err != nil {
		b.Fatal(err)
	}
	for i := 0; i < listeners; i++ {
		u := core.UserID(fmt.Sprintf("u_%06d", i))
		d.Do(u, rooms.CmdAttach, rooms.Input{}, rooms.Access{Conn: core.ConnID("c" + string(u))})
		if _, err := d.Do(u, rooms.CmdJoin, rooms.Input{}, rooms.Access{}); err != nil {
			b.Fatal(err)
		}
	}
	d.Advance(time.Second)
	return d
}

func BenchmarkComment(b *testing.B) {
	d := benchRoom(b, 10000)
	in := rooms.Input{Text: "a comment of ordinary length, about sixty bytes long"}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := d.Do(core.UserID(fmt.Sprintf("u_%06d", i%10000)), rooms.CmdComment, in, rooms.Access{}); err != nil {
			b.Fatal(err)
		}
		if len(d.Log) > 100000 {
			d.Log = d.Log[:0:0]
		}
	}
}

func BenchmarkReact(b *testing.B) {
	d := benchRoom(b, 10000)
	in := rooms.Input{Emoji: "🔥"}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := d.Do(core.UserID(fmt.Sprintf("u_%06d", i%10000)), rooms.CmdReact, in, rooms.Access{}); err != nil {
			b.Fatal(err)
		}
		if i%1000 == 999 {
			d.Now = d.Now.Add(200 * time.Millisecond)
			d.Tick()
		}
	}
}

func BenchmarkJoinLeaveBatched(b *testing.B) {
	d := benchRoom(b, 10000)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		u := core.UserID(fmt.Sprintf("u_x%08d", i))
		if _, err := d.Do(u, rooms.CmdJoin, rooms.Input{}, rooms.Access{}); err != nil {
			b.Fatal(err)
		}
		if i%250 == 249 {
			d.Now = d.Now.Add(250 * time.Millisecond)
			d.Tick()
			d.Log = d.Log[:0:0]
		}
	}
}

func BenchmarkAudiencePage(b *testing.B) {
	d := benchRoom(b, 10000)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := d.Do("u_000001", rooms.CmdAudience, rooms.Input{After: fmt.Sprintf("u_%06d", i%9000), Limit: 100}, rooms.Access{}); err != nil {
			b.Fatal(err)
		}
	}
}
