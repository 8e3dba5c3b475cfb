// Package analytics is Parley's Parquet adapter for room analytics: each
// ended room's summary and its events are written as Parquet files,
// partitioned by the date the room ended, under a directory that DuckDB,
// ClickHouse, Spark or a BigQuery load job read as two Hive-partitioned
// tables:
//
//	<dir>/room_summaries/date=2030-01-02/<room>.parquet   one row per room
//	<dir>/room_events/date=2030-01-02/<room>.parquet      one row per event
//
// For example, in DuckDB:
//
//	SELECT date, count(*), sum(comments) FROM read_parquet('analytics/room_summaries/*/*.parquet', hive_partitioning = true) GROUP BY date;
//
// Writes are exactly once per room: each file has a name fixed by its room,
// is written to a temporary file in the same directory, synced and renamed
// over the final name, so a reader sees either no file or the whole file,
// and writing a room again (a job redelivered after a worker crashed)
// replaces its files with identical ones instead of adding rows. The
// summary is written last, so a room with a summary file has its events
// file too.
package analytics

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/parquet-go/parquet-go"

	"github.com/parleyhq/parley/internal/rooms"
)

// Table directories under the sink's directory.
const (
	SummariesTable = "room_summaries"
	EventsTable    = "room_events"
)

// SummaryRow is one row of the room_summaries table.
type SummaryRow struct {
	RoomID          string   `parquet:"room_id,dict"`
	Title           string   `parquet:"title"`
	HostID          string   `parquet:"host_id,dict"`
	Visibility      string   `parquet:"visibility,dict"`
	WorkspaceID     string   `parquet:"workspace_id,dict"`
	CreatedAt       int64    `parquet:"created_at,timestamp(microsecond)"`
	StartedAt       *int64   `parquet:"started_at,timestamp(microsecond),optional"`
	EndedAt         int64    `parquet:"ended_at,timestamp(microsecond)"`
	EndReason       string   `parquet:"end_reason,dict"`
	DurationSeconds int64    `parquet:"duration_seconds"`
	UniqueListeners int64    `parquet:"unique_listeners"`
	PeakConcurrent  int64    `parquet:"peak_concurrent"`
	Speakers        []string `parquet:"speakers,list"`
	Comments        int64    `parquet:"comments"`
	CommentsDeleted int64    `parquet:"comments_deleted"`
	ReactionsTotal  int64    `parquet:"reactions_total"`
	Reactions       string   `parquet:"reactions,json"`
	Polls           string   `parquet:"polls,json"`
	Interested      int64    `parquet:"interested"`
	Events          int64    `parquet:"events"`
}

// EventRow is one row of the room_events table.
type EventRow struct {
	RoomID string `parquet:"room_id,dict"`
	Seq    int64  `parquet:"seq,delta"`
	Type   string `parquet:"type,dict"`
	Time   int64  `parquet:"time,timestamp(microsecond),delta"`
	Actor  string `parquet:"actor,dict"`
	Data   string `parquet:"data,json,zstd"`
}

// Sink writes room archives as Parquet files under Dir. It is safe for
// concurrent use (different rooms write different files; the same room
// written twice at once ends with one of two identical files).
type Sink struct {
	Dir string
	// BeforeSummary, if set, runs after the events file is in place and
	// before the summary is written (fault-injection tests stop a worker
	// there).
	BeforeSummary func()
}

var _ rooms.Sink = (*Sink)(nil)

// NewSink returns a sink writing under dir.
func NewSink(dir string) *Sink { return &Sink{Dir: dir} }

// Partition returns the date partition of a room that ended at t.
func Partition(t time.Time) string { return "date=" + t.UTC().Format("2006-01-02") }

// Paths returns the summary and events files of a room.
func (s *Sink) Paths(sum *rooms.Summary) (summary, events string) {
	p := Partition(sum.EndedAt)
	name := string(sum.Room) + ".parquet"
	return filepath.Join(s.Dir, SummariesTable, p, name), filepath.Join(s.Dir, EventsTable, p, name)
}

// WriteRoom writes a's events file, then its summary file.
func (s *Sink) WriteRoom(ctx context.Context, a *rooms.Archive) error {
	if !a.Summary.Room.Valid() {
		return fmt.Errorf("analytics: bad room id %q", a.Summary.Room)
	}
	sumPath, evPath := s.Paths(&a.Summary)
	evs := make([]EventRow, len(a.Events))
	for i, e := range a.Events {
		data := string(e.Data)
		if data == "" {
			data = "null"
		}
		evs[i] = EventRow{RoomID: string(a.Summary.Room), Seq: int64(e.Seq), Type: e.Type, Time: e.Time.UnixMicro(), Actor: string(e.Actor), Data: data}
	}
	if err := writeAtomic(ctx, evPath, evs); err != nil {
		return err
	}
	if s.BeforeSummary != nil {
		s.BeforeSummary()
	}
	return writeAtomic(ctx, sumPath, []SummaryRow{SummaryOf(&a.Summary)})
}

// SummaryOf converts a summary to its row.
func SummaryOf(s *rooms.Summary) SummaryRow {
	reactions, _ := json.Marshal(s.Reactions)
	polls, _ := json.Marshal(s.Polls)
	r := SummaryRow{
		RoomID: string(s.Room), Title: s.Title, HostID: string(s.Host), Visibility: string(s.Visibility),
		WorkspaceID: s.Workspace, CreatedAt: s.CreatedAt.UnixMicro(), EndedAt: s.EndedAt.UnixMicro(),
		EndReason: s.EndReason, DurationSeconds: s.DurationSeconds, UniqueListeners: int64(s.UniqueListeners),
		PeakConcurrent: int64(s.PeakConcurrent), Speakers: []string{}, Comments: s.Comments,
		CommentsDeleted: s.CommentsDeleted, ReactionsTotal: s.ReactionsTotal, Reactions: string(reactions),
		Polls: string(polls), Interested: int64(s.Interested), Events: int64(s.Events),
	}
	if s.StartedAt != nil {
		v := s.StartedAt.UnixMicro()
		r.StartedAt = &v
	}
	for _, u := range s.Speakers {
		r.Speakers = append(r.Speakers, string(u))
	}
	return r
}

// writeAtomic writes rows to a temporary file next to path, syncs it,
// renames it over path and syncs the directory. Temporary files of earlier
// interrupted writes of the same path are removed.
func writeAtomic[T any](ctx context.Context, path string, rows []T) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return fmt.Errorf("analytics: %w", err)
	}
	base := filepath.Base(path)
	if old, _ := filepath.Glob(filepath.Join(dir, "."+base+".tmp-*")); len(old) > 0 {
		for _, o := range old {
			_ = os.Remove(o)
		}
	}
	var rnd [6]byte
	_, _ = rand.Read(rnd[:])
	tmp := filepath.Join(dir, "."+base+".tmp-"+hex.EncodeToString(rnd[:]))
	f, err := os.OpenFile(tmp, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o640)
	if err != nil {
		return fmt.Errorf("analytics: %w", err)
	}
	w := parquet.NewGenericWriter[T](f, parquet.Compression(&parquet.Zstd))
	_, err = w.Write(rows)
	if err == nil {
		err = w.Close()
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		_ = os.Remove(tmp)
		return fmt.Errorf("analytics: write %s: %w", path, err)
	}
	if d, err := os.Open(dir); err == nil {
		_ = d.Sync()
		d.Close()
	}
	return nil
}

// ReadRoom reads back a room's rows from the files under dir: every
// summary and event row of room, in all partitions (tests and tools).
func ReadRoom(dir string, room rooms.RoomID) ([]SummaryRow, []EventRow, error) {
	var sums []SummaryRow
	var evs []EventRow
	for _, table := range []string{SummariesTable, EventsTable} {
		files, err := filepath.Glob(filepath.Join(dir, table, "date=*", "*.parquet"))
		if err != nil {
			return nil, nil, err
		}
		for _, f := range files {
			if strings.HasPrefix(filepath.Base(f), ".") {
				continue
			}
			if table == SummariesTable {
				rows, err := parquet.ReadFile[SummaryRow](f)
				if err != nil {
					return nil, nil, err
				}
				for _, r := range rows {
					if r.RoomID == string(room) {
						sums = append(sums, r)
					}
				}
			} else {
				rows, err := parquet.ReadFile[EventRow](f)
				if err != nil {
					return nil, nil, err
				}
				for _, r := range rows {
					if r.RoomID == string(room) {
						evs = append(evs, r)
					}
				}
			}
		}
	}
	return sums, evs, nil
}

// Leftovers returns the temporary files under dir (writes interrupted and
// not yet redone).
func Leftovers(dir string) []string {
	var out []string
	for _, table := range []string{SummariesTable, EventsTable} {
		m, _ := filepath.Glob(filepath.Join(dir, table, "date=*", ".*.tmp-*"))
		out = append(out, m...)
	}
	return out
}
