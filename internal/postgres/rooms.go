package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/parleyhq/parley/internal/core"
	"github.com/parleyhq/parley/internal/rooms"
)

// RoomStore is the rooms read model in PostgreSQL: listings, block lists,
// follows and precomputed homes. It is safe for concurrent use.
type RoomStore struct{ db *DB }

var (
	_ rooms.Listings   = (*RoomStore)(nil)
	_ rooms.Archives   = (*RoomStore)(nil)
	_ rooms.Blocks     = (*RoomStore)(nil)
	_ rooms.Follows    = (*RoomStore)(nil)
	_ rooms.Homes      = (*RoomStore)(nil)
	_ rooms.HomeReader = (*RoomStore)(nil)
)

// NewRoomStore returns the rooms store of db.
func NewRoomStore(db *DB) *RoomStore { return &RoomStore{db: db} }

const listingCols = `r.id, r.host_id, r.title, r.description, r.topics, r.visibility, r.workspace_id, r.status,
	r.created_at, r.scheduled_at, r.started_at, r.ended_at, r.end_reason, r.expires_at,
	r.participants, r.speakers, r.interested, r.summary, r.seq, r.updated_at`

func ptrUTC(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	u := t.UTC()
	return &u
}

func scanListing(row pgx.Row, extra ...any) (rooms.Listing, error) {
	var (
		l       rooms.Listing
		summary []byte
		seq     int64
	)
	dest := append([]any{&l.Room, &l.Host, &l.Title, &l.Description, &l.Topics, &l.Visibility, &l.Workspace, &l.Status,
		&l.CreatedAt, &l.ScheduledAt, &l.StartedAt, &l.EndedAt, &l.EndReason, &l.ExpiresAt,
		&l.Participants, &l.Speakers, &l.Interested, &summary, &seq, &l.UpdatedAt}, extra...)
	if err := row.Scan(dest...); err != nil {
		return l, err
	}
	l.Seq = uint64(seq)
	l.CreatedAt, l.ExpiresAt, l.UpdatedAt = l.CreatedAt.UTC(), l.ExpiresAt.UTC(), l.UpdatedAt.UTC()
	l.ScheduledAt, l.StartedAt, l.EndedAt = ptrUTC(l.ScheduledAt), ptrUTC(l.StartedAt), ptrUTC(l.EndedAt)
	if l.Topics == nil {
		l.Topics = []string{}
	}
	if summary != nil {
		l.Summary = new(rooms.Summary)
		if err := json.Unmarshal(summary, l.Summary); err != nil {
			return l, fmt.Errorf("postgres: room %s summary: %w", l.Room, err)
		}
	}
	return l, nil
}

// PutListing stores l unless a later event was already folded.
func (s *RoomStore) PutListing(ctx context.Context, l rooms.Listing) error {
	topics := l.Topics
	if topics == nil {
		topics = []string{}
	}
	var sum []byte
	if l.Summary != nil {
		sum, _ = json.Marshal(l.Summary)
	}
	_, err := s.db.Pool.Exec(ctx, `INSERT INTO rooms (id, host_id, title, description, topics, visibility, workspace_id, status,
		created_at, scheduled_at, started_at, ended_at, end_reason, expires_at, sort_at, participants, speakers, interested,
		summary, seq, updated_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21)
		ON CONFLICT (id) DO UPDATE SET title = excluded.title, description = excluded.description, topics = excluded.topics,
			visibility = excluded.visibility, workspace_id = excluded.workspace_id, status = excluded.status,
			scheduled_at = excluded.scheduled_at, started_at = excluded.started_at, ended_at = excluded.ended_at,
			end_reason = excluded.end_reason, expires_at = excluded.expires_at, sort_at = excluded.sort_at,
			participants = excluded.participants, speakers = excluded.speakers, interested = excluded.interested,
			summary = excluded.summary, seq = excluded.seq, updated_at = excluded.updated_at
		WHERE excluded.seq > rooms.seq`,
		l.Room, l.Host, l.Title, l.Description, topics, l.Visibility, l.Workspace, l.Status,
		l.CreatedAt, l.ScheduledAt, l.StartedAt, l.EndedAt, l.EndReason, l.ExpiresAt,
		l.SortAt(), l.Participants, l.Speakers, l.Interested, sum, int64(l.Seq), l.UpdatedAt)
	if err != nil {
		return fmt.Errorf("postgres: put room %s: %w", l.Room, err)
	}
	return nil
}

// Listing returns a room's row.
func (s *RoomStore) Listing(ctx context.Context, id rooms.RoomID) (rooms.Listing, error) {
	l, err := scanListing(s.db.Pool.QueryRow(ctx, `SELECT `+listingCols+` FROM rooms r WHERE r.id = $1`, id))
	if err != nil {
		return l, notFound(err, "no such room")
	}
	return l, nil
}

func pageLimit(n int) int {
	if n <= 0 || n > 200 {
		return min(max(n, 50), 200)
	}
	return n
}

// ListRooms returns a page of a listing.
func (s *RoomStore) ListRooms(ctx context.Context, q rooms.ListQuery) ([]rooms.Listing, string, error) {
	var where []string
	var args []any
	arg := func(v any) string { args = append(args, v); return fmt.Sprintf("$%d", len(args)) }
	if q.Workspace != "" {
		where = append(where, `r.workspace_id = `+arg(q.Workspace)+` AND r.status = `+arg(q.Status)+` AND r.visibility IN ('public', 'workspace')`)
	} else {
		where = append(where, `r.status = `+arg(q.Status)+` AND r.visibility = 'public'`)
	}
	desc := q.Status != rooms.Scheduled
	if q.Cursor != "" {
		at, id, err := rooms.ParseCursor(q.Cursor)
		if err != nil {
			return nil, "", err
		}
		op := ">"
		if desc {
			op = "<"
		}
		where = append(where, `(r.sort_at, r.id) `+op+` (`+arg(at)+`, `+arg(id)+`)`)
	}
	if q.Viewer != "" {
		where = append(where, `NOT EXISTS (SELECT 1 FROM room_blocks b WHERE b.host_id = r.host_id AND b.user_id = `+arg(q.Viewer)+`)`)
	}
	order := "r.sort_at, r.id"
	if desc {
		order = "r.sort_at DESC, r.id DESC"
	}
	limit := pageLimit(q.Limit)
	rows, err := s.db.Pool.Query(ctx, `SELECT `+listingCols+` FROM rooms r WHERE `+strings.Join(where, " AND ")+
		` ORDER BY `+order+` LIMIT `+arg(limit+1), args...)
	if err != nil {
		return nil, "", fmt.Errorf("postgres: list rooms: %w", err)
	}
	out, err := listings(rows)
	if err != nil {
		return nil, "", err
	}
	next := ""
	if len(out) > limit {
		out = out[:limit]
		last := out[limit-1]
		next = rooms.Cursor(last.SortAt(), last.Room)
	}
	return out, next, nil
}

func listings(rows pgx.Rows) ([]rooms.Listing, error) {
	defer rows.Close()
	var out []rooms.Listing
	for rows.Next() {
		l, err := scanListing(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, l)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("postgres: rooms: %w", err)
	}
	return out, nil
}

func (s *RoomStore) ids(ctx context.Context, query string, args ...any) ([]rooms.RoomID, error) {
	rows, err := s.db.Pool.Query(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("postgres: rooms: %w", err)
	}
	out, err := pgx.CollectRows(rows, pgx.RowTo[rooms.RoomID])
	if err != nil {
		return nil, fmt.Errorf("postgres: rooms: %w", err)
	}
	return out, nil
}

// Overdue returns rooms past their expiry that have not ended.
func (s *RoomStore) Overdue(ctx context.Context, now time.Time, limit int) ([]rooms.RoomID, error) {
	return s.ids(ctx, `SELECT id FROM rooms WHERE status <> 'ended' AND expires_at <= $1 ORDER BY expires_at, id LIMIT $2`, now, limit)
}

// Unarchived returns ended rooms whose analytics were not written.
func (s *RoomStore) Unarchived(ctx context.Context, before time.Time, limit int) ([]rooms.RoomID, error) {
	return s.ids(ctx, `SELECT id FROM rooms WHERE status = 'ended' AND archived_at IS NULL AND ended_at <= $1
		ORDER BY ended_at, id LIMIT $2`, before, limit)
}

// MarkArchived records that a room's analytics were written.
func (s *RoomStore) MarkArchived(ctx context.Context, id rooms.RoomID, at time.Time) error {
	if _, err := s.db.Pool.Exec(ctx, `UPDATE rooms SET archived_at = $1 WHERE id = $2`, at, id); err != nil {
		return fmt.Errorf("postgres: mark %s archived: %w", id, err)
	}
	return nil
}

// Block adds user to host's block list.
func (s *RoomStore) Block(ctx context.Context, host, user, by core.UserID, at time.Time) error {
	_, err := s.db.Pool.Exec(ctx, `INSERT INTO room_blocks (host_id, user_id, blocked_by, created_at) VALUES ($1, $2, $3, $4)
		ON CONFLICT DO NOTHING`, host, user, by, at)
	if err != nil {
		return fmt.Errorf("postgres: block: %w", err)
	}
	return nil
}

// Unblock removes user from host's block list.
func (s *RoomStore) Unblock(ctx context.Context, host, user core.UserID) error {
	if _, err := s.db.Pool.Exec(ctx, `DELETE FROM room_blocks WHERE host_id = $1 AND user_id = $2`, host, user); err != nil {
		return fmt.Errorf("postgres: unblock: %w", err)
	}
	return nil
}

// Blocked reports whether host blocked user.
func (s *RoomStore) Blocked(ctx context.Context, host, user core.UserID) (bool, error) {
	var ok bool
	err := s.db.Pool.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM room_blocks WHERE host_id = $1 AND user_id = $2)`, host, user).Scan(&ok)
	if err != nil {
		return false, fmt.Errorf("postgres: blocked: %w", err)
	}
	return ok, nil
}

func (s *RoomStore) userPage(ctx context.Context, query string, key core.UserID, after string, limit int) ([]core.UserID, string, error) {
	limit = pageLimit(limit)
	rows, err := s.db.Pool.Query(ctx, query, key, after, limit+1)
	if err != nil {
		return nil, "", fmt.Errorf("postgres: user page: %w", err)
	}
	out, err := pgx.CollectRows(rows, pgx.RowTo[core.UserID])
	if err != nil {
		return nil, "", fmt.Errorf("postgres: user page: %w", err)
	}
	if out == nil {
		out = []core.UserID{}
	}
	next := ""
	if len(out) > limit {
		out = out[:limit]
		next = string(out[limit-1])
	}
	return out, next, nil
}

// BlockList returns a page of host's blocked users.
func (s *RoomStore) BlockList(ctx context.Context, host core.UserID, after string, limit int) ([]core.UserID, string, error) {
	return s.userPage(ctx, `SELECT user_id FROM room_blocks WHERE host_id = $1 AND user_id > $2 ORDER BY user_id LIMIT $3`, host, after, limit)
}

// Follow makes follower follow followee.
func (s *RoomStore) Follow(ctx context.Context, follower, followee core.UserID, at time.Time) error {
	_, err := s.db.Pool.Exec(ctx, `INSERT INTO follows (follower_id, followee_id, created_at) VALUES ($1, $2, $3)
		ON CONFLICT DO NOTHING`, follower, followee, at)
	if err != nil {
		return fmt.Errorf("postgres: follow: %w", err)
	}
	return nil
}

// Unfollow undoes Follow.
func (s *RoomStore) Unfollow(ctx context.Context, follower, followee core.UserID) error {
	if _, err := s.db.Pool.Exec(ctx, `DELETE FROM follows WHERE follower_id = $1 AND followee_id = $2`, follower, followee); err != nil {
		return fmt.Errorf("postgres: unfollow: %w", err)
	}
	return nil
}

// Following returns a page of the users user follows.
func (s *RoomStore) Following(ctx context.Context, user core.UserID, after string, limit int) ([]core.UserID, string, error) {
	return s.userPage(ctx, `SELECT followee_id FROM follows WHERE follower_id = $1 AND followee_id > $2 ORDER BY followee_id LIMIT $3`, user, after, limit)
}

const homeUpsert = ` ON CONFLICT (user_id, room_id) DO UPDATE SET via_id = excluded.via_id, reason = excluded.reason, at = excluded.at`

// FanOut puts item on the home of every follower of via.
func (s *RoomStore) FanOut(ctx context.Context, via core.UserID, item rooms.HomeItem) (int, error) {
	tag, err := s.db.Pool.Exec(ctx, `INSERT INTO home_items (user_id, room_id, via_id, reason, at)
		SELECT follower_id, $1, $2, $3, $4 FROM follows WHERE followee_id = $5`+homeUpsert,
		item.Room, item.Via, item.Reason, item.At, via)
	if err != nil {
		return 0, fmt.Errorf("postgres: fan out: %w", err)
	}
	return int(tag.RowsAffected()), nil
}

// AddHome puts item on the homes of users.
func (s *RoomStore) AddHome(ctx context.Context, users []core.UserID, item rooms.HomeItem) error {
	_, err := s.db.Pool.Exec(ctx, `INSERT INTO home_items (user_id, room_id, via_id, reason, at)
		SELECT u, $2, $3, $4, $5 FROM unnest($1::text[]) AS u`+homeUpsert, users, item.Room, item.Via, item.Reason, item.At)
	if err != nil {
		return fmt.Errorf("postgres: add home: %w", err)
	}
	return nil
}

// RebuildHome recomputes the follow-derived part of user's home.
func (s *RoomStore) RebuildHome(ctx context.Context, user core.UserID, now time.Time) error {
	return s.db.Tx(ctx, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `DELETE FROM home_items WHERE user_id = $1 AND reason IN ('hosting', 'speaking')`, user); err != nil {
			return fmt.Errorf("postgres: rebuild home: %w", err)
		}
		if _, err := tx.Exec(ctx, `INSERT INTO home_items (user_id, room_id, via_id, reason, at)
			SELECT f.follower_id, r.id, r.host_id, 'hosting', r.sort_at FROM follows f JOIN rooms r ON r.host_id = f.followee_id
			WHERE f.follower_id = $1 AND r.status IN ('live', 'scheduled') AND r.visibility = 'public'`+homeUpsert, user); err != nil {
			return fmt.Errorf("postgres: rebuild home: %w", err)
		}
		_, err := tx.Exec(ctx, `INSERT INTO home_state (user_id, built_at) VALUES ($1, $2)
			ON CONFLICT (user_id) DO UPDATE SET built_at = excluded.built_at`, user, now)
		return err
	})
}

// RemoveRoom takes room off every home.
func (s *RoomStore) RemoveRoom(ctx context.Context, room rooms.RoomID) error {
	if _, err := s.db.Pool.Exec(ctx, `DELETE FROM home_items WHERE room_id = $1`, room); err != nil {
		return fmt.Errorf("postgres: remove room from homes: %w", err)
	}
	return nil
}

// HomeOf returns user's precomputed home with its rooms.
func (s *RoomStore) HomeOf(ctx context.Context, user core.UserID, limit int) ([]rooms.HomeEntry, time.Time, error) {
	var built time.Time
	err := s.db.Pool.QueryRow(ctx, `SELECT built_at FROM home_state WHERE user_id = $1`, user).Scan(&built)
	if err != nil && !errors.Is(err, pgx.ErrNoRows) {
		return nil, time.Time{}, fmt.Errorf("postgres: home state: %w", err)
	}
	rows, err := s.db.Pool.Query(ctx, `SELECT `+listingCols+`, h.via_id, h.reason, h.at FROM home_items h
		JOIN rooms r ON r.id = h.room_id WHERE h.user_id = $1 ORDER BY h.at DESC, h.room_id LIMIT $2`, user, pageLimit(limit))
	if err != nil {
		return nil, time.Time{}, fmt.Errorf("postgres: home: %w", err)
	}
	defer rows.Close()
	var out []rooms.HomeEntry
	for rows.Next() {
		var e rooms.HomeEntry
		l, err := scanListing(rows, &e.Via, &e.Reason, &e.At)
		if err != nil {
			return nil, time.Time{}, err
		}
		e.Listing, e.Room, e.At = l, l.Room, e.At.UTC()
		out = append(out, e)
	}
	if err := rows.Err(); err != nil {
		return nil, time.Time{}, err
	}
	if !built.IsZero() {
		built = built.UTC()
	}
	return out, built, nil
}

// FollowedRooms returns the public live and upcoming rooms hosted by
// people user follows that changed at or after since.
func (s *RoomStore) FollowedRooms(ctx context.Context, user core.UserID, since time.Time, limit int) ([]rooms.Listing, error) {
	rows, err := s.db.Pool.Query(ctx, `SELECT `+listingCols+` FROM follows f JOIN rooms r ON r.host_id = f.followee_id
		WHERE f.follower_id = $1 AND r.status IN ('live', 'scheduled') AND r.visibility = 'public' AND r.updated_at >= $2
		ORDER BY r.updated_at DESC, r.id LIMIT $3`, user, since, pageLimit(limit))
	if err != nil {
		return nil, fmt.Errorf("postgres: followed rooms: %w", err)
	}
	return listings(rows)
}
