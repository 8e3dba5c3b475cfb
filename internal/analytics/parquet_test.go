package analytics_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"syscall"
	"testing"
	"time"

	"github.com/parleyhq/parley/internal/analytics"
	"github.com/parleyhq/parley/internal/rooms"
	"github.com/parleyhq/parley/internal/rooms/roomstest"
)

func read(dir string) func(t *testing.T, room rooms.RoomID) roomstest.SinkContents {
	return func(t *testing.T, room rooms.RoomID) roomstest.SinkContents {
		t.Helper()
		sums, evs, err := analytics.ReadRoom(dir, room)
		if err != nil {
			t.Fatal(err)
		}
		var c roomstest.SinkContents
		for _, s := range sums {
			c.Summaries = append(c.Summaries, rooms.Summary{Room: rooms.RoomID(s.RoomID), Comments: s.Comments,
				ReactionsTotal: s.ReactionsTotal, UniqueListeners: int(s.UniqueListeners), PeakConcurrent: int(s.PeakConcurrent)})
		}
		sort.Slice(evs, func(i, j int) bool { return evs[i].Seq < evs[j].Seq })
		for _, e := range evs {
			c.Events = append(c.Events, roomstest.SinkRow{Seq: e.Seq, Type: e.Type, Actor: e.Actor, Data: e.Data})
		}
		return c
	}
}

func TestParquetSink(t *testing.T) {
	roomstest.RunSink(t, func(t *testing.T) (rooms.Sink, func(*testing.T, rooms.RoomID) roomstest.SinkContents) {
		dir := t.TempDir()
		return analytics.NewSink(dir), read(dir)
	})
}

func TestPartitionsAndLayout(t *testing.T) {
	dir := t.TempDir()
	s := analytics.NewSink(dir)
	a := roomstest.ArchiveOf("r_p", 3, time.Date(2030, 5, 6, 23, 59, 0, 0, time.UTC))
	if err := s.WriteRoom(context.Background(), a); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{"room_summaries/date=2030-05-06/r_p.parquet", "room_events/date=2030-05-06/r_p.parquet"} {
		if _, err := os.Stat(filepath.Join(dir, p)); err != nil {
			t.Fatal(err)
		}
	}
	sums, _, _ := analytics.ReadRoom(dir, "r_p")
	if len(sums) != 1 || sums[0].StartedAt == nil || sums[0].Reactions != `{"🔥":11}` || len(sums[0].Speakers) != 1 {
		t.Fatalf("summary row %+v", sums)
	}
}

// TestKilledWriterWritesOnce kills a writing process with SIGKILL after
// its events file is in place and before its summary, as a worker crash
// would, then writes the room again: every row is there exactly once and
// no temporary file is left.
func TestKilledWriterWritesOnce(t *testing.T) {
	if dir := os.Getenv("PARLEY_ANALYTICS_CHILD"); dir != "" {
		s := analytics.NewSink(dir)
		s.BeforeSummary = func() {
			// A half-written file of the next write, then stop for good.
			_ = os.WriteFile(filepath.Join(dir, "room_summaries", analytics.Partition(roomstest.Epoch), ".r_k.parquet.tmp-dead"), []byte("PAR1 partial"), 0o640)
			_ = os.WriteFile(filepath.Join(dir, "ready"), nil, 0o640)
			select {}
		}
		_ = s.WriteRoom(context.Background(), roomstest.ArchiveOf("r_k", 500, roomstest.Epoch))
		os.Exit(3)
	}
	dir := t.TempDir()
	os.MkdirAll(filepath.Join(dir, "room_summaries", analytics.Partition(roomstest.Epoch)), 0o750)
	cmd := exec.Command(os.Args[0], "-test.run=^TestKilledWriterWritesOnce$")
	cmd.Env = append(os.Environ(), "PARLEY_ANALYTICS_CHILD="+dir)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		if _, err := os.Stat(filepath.Join(dir, "ready")); err == nil {
			break
		}
		if time.Now().After(deadline) {
			cmd.Process.Kill()
			t.Fatal("child never reached the summary")
		}
		time.Sleep(5 * time.Millisecond)
	}
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = cmd.Wait()
	sums, evs, err := analytics.ReadRoom(dir, "r_k")
	if err != nil || len(sums) != 0 || len(evs) != 500 || len(analytics.Leftovers(dir)) != 1 {
		t.Fatalf("after the kill: %d summaries, %d events, leftovers %v, err %v", len(sums), len(evs), analytics.Leftovers(dir), err)
	}
	a := roomstest.ArchiveOf("r_k", 500, roomstest.Epoch)
	if err := analytics.NewSink(dir).WriteRoom(context.Background(), a); err != nil {
		t.Fatal(err)
	}
	c := read(dir)(t, "r_k")
	if len(c.Summaries) != 1 || len(c.Events) != 500 || len(analytics.Leftovers(dir)) != 0 {
		t.Fatalf("after the redo: %d summaries, %d events, leftovers %v", len(c.Summaries), len(c.Events), analytics.Leftovers(dir))
	}
	for i, e := range c.Events {
		if e.Seq != int64(i+1) {
			t.Fatalf("event %d has seq %d", i, e.Seq)
		}
	}
}

func BenchmarkWriteRoom(b *testing.B) {
	dir := b.TempDir()
	s := analytics.NewSink(dir)
	a := roomstest.ArchiveOf("r_bench", 60000, roomstest.Epoch)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if err := s.WriteRoom(context.Background(), a); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(len(a.Events))*float64(b.N)/b.Elapsed().Seconds(), "events/s")
}
