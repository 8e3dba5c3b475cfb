package postgres

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/parleyhq/parley/internal/rooms"
)

// AnalyticsSink writes room archives to the analytics_room_summaries and
// analytics_room_events tables. A room is written in one transaction, and
// rows are keyed by room (and event sequence), so a write redone after a
// crash adds nothing twice. It is safe for concurrent use.
type AnalyticsSink struct{ db *DB }

var _ rooms.Sink = (*AnalyticsSink)(nil)

// NewAnalyticsSink returns the PostgreSQL analytics sink of db.
func NewAnalyticsSink(db *DB) *AnalyticsSink { return &AnalyticsSink{db: db} }

// WriteRoom writes a's events and summary, once.
func (s *AnalyticsSink) WriteRoom(ctx context.Context, a *rooms.Archive) error {
	sum := &a.Summary
	return s.db.Tx(ctx, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `CREATE TEMP TABLE analytics_load (LIKE analytics_room_events) ON COMMIT DROP`); err != nil {
			return fmt.Errorf("postgres: analytics: %w", err)
		}
		rows := make([][]any, len(a.Events))
		for i, e := range a.Events {
			var data any
			if len(e.Data) > 0 {
				data = string(e.Data)
			}
			rows[i] = []any{string(sum.Room), int64(e.Seq), e.Type, e.Time, string(e.Actor), data}
		}
		if _, err := tx.CopyFrom(ctx, pgx.Identifier{"analytics_load"}, []string{"room_id", "seq", "type", "time", "actor", "data"},
			pgx.CopyFromRows(rows)); err != nil {
			return fmt.Errorf("postgres: analytics copy: %w", err)
		}
		if _, err := tx.Exec(ctx, `INSERT INTO analytics_room_events SELECT * FROM analytics_load ON CONFLICT DO NOTHING`); err != nil {
			return fmt.Errorf("postgres: analytics events: %w", err)
		}
		reactions, _ := json.Marshal(sum.Reactions)
		polls, _ := json.Marshal(sum.Polls)
		speakers := make([]string, len(sum.Speakers))
		for i, u := range sum.Speakers {
			speakers[i] = string(u)
		}
		_, err := tx.Exec(ctx, `INSERT INTO analytics_room_summaries (room_id, title, host_id, visibility, workspace_id,
			created_at, started_at, ended_at, end_reason, duration_seconds, unique_listeners, peak_concurrent, speakers,
			comments, comments_deleted, reactions_total, reactions, polls, interested, events)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20)
			ON CONFLICT (room_id) DO NOTHING`,
			sum.Room, sum.Title, sum.Host, sum.Visibility, sum.Workspace, sum.CreatedAt, sum.StartedAt, sum.EndedAt,
			sum.EndReason, sum.DurationSeconds, sum.UniqueListeners, sum.PeakConcurrent, speakers, sum.Comments,
			sum.CommentsDeleted, sum.ReactionsTotal, string(reactions), string(polls), sum.Interested, int64(sum.Events))
		if err != nil {
			return fmt.Errorf("postgres: analytics summary: %w", err)
		}
		return nil
	})
}
