package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/parleyhq/parley/internal/core"
	"github.com/parleyhq/parley/internal/rooms"
)

// RoomStore is the rooms read model in SQLite: listings, block lists,
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

// NewRoomStore returns the rooms store of db (the app database).
func NewRoomStore(db *DB) *RoomStore { return &RoomStore{db: db} }

const listingCols = `r.id, r.host_id, r.title, r.description, r.topics, r.visibility, r.workspace_id, r.status,
	r.created_at, r.scheduled_at, r.started_at, r.ended_at, r.end_reason, r.expires_at,
	r.participants, r.speakers, r.interested, r.summary, r.seq, r.updated_at`

func nullUS(t *time.Time) sql.NullInt64 {
	if t == nil {
		return sql.NullInt64{}
	}
	return sql.NullInt64{Int64: us(*t), Valid: true}
}

func ptrUS(v sql.NullInt64) *time.Time {
	if !v.Valid {
		return nil
	}
	t := fromUS(v.Int64)
	return &t
}

func scanListing(row scanner, extra ...any) (rooms.Listing, error) {
	var (
		l                         rooms.Listing
		topics                    string
		summary                   sql.NullString
		created, expires, upd     int64
		scheduled, started, ended sql.NullInt64
	)
	dest := append([]any{&l.Room, &l.Host, &l.Title, &l.Description, &topics, &l.Visibility, &l.Workspace, &l.Status,
		&created, &scheduled, &started, &ended, &l.EndReason, &expires,
		&l.Participants, &l.Speakers, &l.Interested, &summary, &l.Seq, &upd}, extra...)
	if err := row.Scan(dest...); err != nil {
		return l, err
	}
	l.CreatedAt, l.ExpiresAt, l.UpdatedAt = fromUS(created), fromUS(expires), fromUS(upd)
	l.ScheduledAt, l.StartedAt, l.EndedAt = ptrUS(scheduled), ptrUS(started), ptrUS(ended)
	if err := json.Unmarshal([]byte(topics), &l.Topics); err != nil {
		return l, fmt.Errorf("sqlite: room %s topics: %w", l.Room, err)
	}
	if summary.Valid {
		l.Summary = new(rooms.Summary)
		if err := json.Unmarshal([]byte(summary.String), l.Summary); err != nil {
			return l, fmt.Errorf("sqlite: room %s summary: %w", l.Room, err)
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
	tj, _ := json.Marshal(topics)
	var sum sql.NullString
	if l.Summary != nil {
		b, _ := json.Marshal(l.Summary)
		sum = sql.NullString{String: string(b), Valid: true}
	}
	_, err := s.db.W.ExecContext(ctx, `INSERT INTO rooms (id, host_id, title, description, topics, visibility, workspace_id, status,
		created_at, scheduled_at, started_at, ended_at, end_reason, expires_at, sort_at, participants, speakers, interested,
		summary, seq, updated_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (id) DO UPDATE SET title = excluded.title, description = excluded.description, topics = excluded.topics,
			visibility = excluded.visibility, workspace_id = excluded.workspace_id, status = excluded.status,
			scheduled_at = excluded.scheduled_at, started_at = excluded.started_at, ended_at = excluded.ended_at,
			end_reason = excluded.end_reason, expires_at = excluded.expires_at, sort_at = excluded.sort_at,
			participants = excluded.participants, speakers = excluded.speakers, interested = excluded.interested,
			summary = excluded.summary, seq = excluded.seq, updated_at = excluded.updated_at
		WHERE excluded.seq > rooms.seq`,
		l.Room, l.Host, l.Title, l.Description, string(tj), l.Visibility, l.Workspace, l.Status,
		us(l.CreatedAt), nullUS(l.ScheduledAt), nullUS(l.StartedAt), nullUS(l.EndedAt), l.EndReason, us(l.ExpiresAt),
		us(l.SortAt()), l.Participants, l.Speakers, l.Interested, sum, l.Seq, us(l.UpdatedAt))
	if err != nil {
		return fmt.Errorf("sqlite: put room %s: %w", l.Room, err)
	}
	return nil
}

// Listing returns a room's row.
func (s *RoomStore) Listing(ctx context.Context, id rooms.RoomID) (rooms.Listing, error) {
	l, err := scanListing(s.db.R.QueryRowContext(ctx, `SELECT `+listingCols+` FROM rooms r WHERE r.id = ?`, id))
	if err != nil {
		return l, notFound(err, "no such room")
	}
	return l, nil
}

// ListRooms returns a page of a listing.
func (s *RoomStore) ListRooms(ctx context.Context, q rooms.ListQuery) ([]rooms.Listing, string, error) {
	var where []string
	args := []any{}
	if q.Workspace != "" {
		where = append(where, `r.workspace_id = ? AND r.status = ? AND r.visibility IN ('public', 'workspace')`)
		args = append(args, q.Workspace, q.Status)
	} else {
		where = append(where, `r.status = ? AND r.visibility = 'public'`)
		args = append(args, q.Status)
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
		where = append(where, `(r.sort_at `+op+` ? OR (r.sort_at = ? AND r.id `+op+` ?))`)
		args = append(args, us(at), us(at), id)
	}
	if q.Viewer != "" {
		where = append(where, `NOT EXISTS (SELECT 1 FROM room_blocks b WHERE b.host_id = r.host_id AND b.user_id = ?)`)
		args = append(args, q.Viewer)
	}
	order := "r.sort_at, r.id"
	if desc {
		order = "r.sort_at DESC, r.id DESC"
	}
	limit := pageLimit(q.Limit)
	args = append(args, limit+1)
	rows, err := s.db.R.QueryContext(ctx, `SELECT `+listingCols+` FROM rooms r WHERE `+strings.Join(where, " AND ")+
		` ORDER BY `+order+` LIMIT ?`, args...)
	if err != nil {
		return nil, "", fmt.Errorf("sqlite: list rooms: %w", err)
	}
	defer rows.Close()
	var out []rooms.Listing
	for rows.Next() {
		l, err := scanListing(rows)
		if err != nil {
			return nil, "", err
		}
		out = append(out, l)
	}
	if err := rows.Err(); err != nil {
		return nil, "", fmt.Errorf("sqlite: list rooms: %w", err)
	}
	next := ""
	if len(out) > limit {
		out = out[:limit]
		last := out[limit-1]
		next = rooms.Cursor(last.SortAt(), last.Room)
	}
	return out, next, nil
}

func pageLimit(n int) int {
	if n <= 0 || n > 200 {
		return min(max(n, 50), 200)
	}
	return n
}

func (s *RoomStore) ids(ctx context.Context, query string, args ...any) ([]rooms.RoomID, error) {
	rows, err := s.db.R.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("sqlite: rooms: %w", err)
	}
	defer rows.Close()
	var out []rooms.RoomID
	for rows.Next() {
		var id rooms.RoomID
		if err := rows.Scan(&id); err != nil {
			return nil, err
		}
		out = append(out, id)
	}
	return out, rows.Err()
}

// Overdue returns rooms past their expiry that have not ended.
func (s *RoomStore) Overdue(ctx context.Context, now time.Time, limit int) ([]rooms.RoomID, error) {
	return s.ids(ctx, `SELECT id FROM rooms WHERE status <> 'ended' AND expires_at <= ? ORDER BY expires_at, id LIMIT ?`, us(now), limit)
}

// Unarchived returns ended rooms whose analytics were not written.
func (s *RoomStore) Unarchived(ctx context.Context, before time.Time, limit int) ([]rooms.RoomID, error) {
	return s.ids(ctx, `SELECT id FROM rooms WHERE status = 'ended' AND archived_at IS NULL AND ended_at <= ?
		ORDER BY ended_at, id LIMIT ?`, us(before), limit)
}

// MarkArchived records that a room's analytics were written.
func (s *RoomStore) MarkArchived(ctx context.Context, id rooms.RoomID, at time.Time) error {
	if _, err := s.db.W.ExecContext(ctx, `UPDATE rooms SET archived_at = ? WHERE id = ?`, us(at), id); err != nil {
		return fmt.Errorf("sqlite: mark %s archived: %w", id, err)
	}
	return nil
}

// Block adds user to host's block list.
func (s *RoomStore) Block(ctx context.Context, host, user, by core.UserID, at time.Time) error {
	_, err := s.db.W.ExecContext(ctx, `INSERT INTO room_blocks (host_id, user_id, blocked_by, created_at) VALUES (?, ?, ?, ?)
		ON CONFLICT DO NOTHING`, host, user, by, us(at))
	if err != nil {
		return fmt.Errorf("sqlite: block: %w", err)
	}
	return nil
}

// Unblock removes user from host's block list.
func (s *RoomStore) Unblock(ctx context.Context, host, user core.UserID) error {
	if _, err := s.db.W.ExecContext(ctx, `DELETE FROM room_blocks WHERE host_id = ? AND user_id = ?`, host, user); err != nil {
		return fmt.Errorf("sqlite: unblock: %w", err)
	}
	return nil
}

// Blocked reports whether host blocked user.
func (s *RoomStore) Blocked(ctx context.Context, host, user core.UserID) (bool, error) {
	var n int
	err := s.db.R.QueryRowContext(ctx, `SELECT count(*) FROM room_blocks WHERE host_id = ? AND user_id = ?`, host, user).Scan(&n)
	if err != nil {
		return false, fmt.Errorf("sqlite: blocked: %w", err)
	}
	return n > 0, nil
}

func (s *RoomStore) userPage(ctx context.Context, query string, key core.UserID, after string, limit int) ([]core.UserID, string, error) {
	limit = pageLimit(limit)
	rows, err := s.db.R.QueryContext(ctx, query, key, after, limit+1)
	if err != nil {
		return nil, "", fmt.Errorf("sqlite: user page: %w", err)
	}
	defer rows.Close()
	out := []core.UserID{}
	for rows.Next() {
		var u core.UserID
		if err := rows.Scan(&u); err != nil {
			return nil, "", err
		}
		out = append(out, u)
	}
	if err := rows.Err(); err != nil {
		return nil, "", err
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
	return s.userPage(ctx, `SELECT user_id FROM room_blocks WHERE host_id = ? AND user_id > ? ORDER BY user_id LIMIT ?`, host, after, limit)
}

// Follow makes follower follow followee.
func (s *RoomStore) Follow(ctx context.Context, follower, followee core.UserID, at time.Time) error {
	_, err := s.db.W.ExecContext(ctx, `INSERT INTO follows (follower_id, followee_id, created_at) VALUES (?, ?, ?)
		ON CONFLICT DO NOTHING`, follower, followee, us(at))
	if err != nil {
		return fmt.Errorf("sqlite: follow: %w", err)
	}
	return nil
}

// Unfollow undoes Follow.
func (s *RoomStore) Unfollow(ctx context.Context, follower, followee core.UserID) error {
	if _, err := s.db.W.ExecContext(ctx, `DELETE FROM follows WHERE follower_id = ? AND followee_id = ?`, follower, followee); err != nil {
		return fmt.Errorf("sqlite: unfollow: %w", err)
	}
	return nil
}

// Following returns a page of the users user follows.
func (s *RoomStore) Following(ctx context.Context, user core.UserID, after string, limit int) ([]core.UserID, string, error) {
	return s.userPage(ctx, `SELECT followee_id FROM follows WHERE follower_id = ? AND followee_id > ? ORDER BY followee_id LIMIT ?`, user, after, limit)
}

const homeUpsert = ` ON CONFLICT (user_id, room_id) DO UPDATE SET via_id = excluded.via_id, reason = excluded.reason, at = excluded.at`

// FanOut puts item on the home of every follower of via.
func (s *RoomStore) FanOut(ctx context.Context, via core.UserID, item rooms.HomeItem) (int, error) {
	res, err := s.db.W.ExecContext(ctx, `INSERT INTO home_items (user_id, room_id, via_id, reason, at)
		SELECT follower_id, ?, ?, ?, ? FROM follows WHERE followee_id = ?`+homeUpsert,
		item.Room, item.Via, item.Reason, us(item.At), via)
	if err != nil {
		return 0, fmt.Errorf("sqlite: fan out: %w", err)
	}
	n, _ := res.RowsAffected()
	return int(n), nil
}

// AddHome puts item on the homes of users.
func (s *RoomStore) AddHome(ctx context.Context, users []core.UserID, item rooms.HomeItem) error {
	return s.db.Tx(ctx, func(tx *sql.Tx) error {
		for _, u := range users {
			if _, err := tx.ExecContext(ctx, `INSERT INTO home_items (user_id, room_id, via_id, reason, at) VALUES (?, ?, ?, ?, ?)`+homeUpsert,
				u, item.Room, item.Via, item.Reason, us(item.At)); err != nil {
				return fmt.Errorf("sqlite: add home: %w", err)
			}
		}
		return nil
	})
}

// RebuildHome recomputes the follow-derived part of user's home.
func (s *RoomStore) RebuildHome(ctx context.Context, user core.UserID, now time.Time) error {
	return s.db.Tx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `DELETE FROM home_items WHERE user_id = ? AND reason IN ('hosting', 'speaking')`, user); err != nil {
			return fmt.Errorf("sqlite: rebuild home: %w", err)
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO home_items (user_id, room_id, via_id, reason, at)
			SELECT f.follower_id, r.id, r.host_id, 'hosting', r.sort_at FROM follows f JOIN rooms r ON r.host_id = f.followee_id
			WHERE f.follower_id = ? AND r.status IN ('live', 'scheduled') AND r.visibility = 'public'`+homeUpsert, user); err != nil {
			return fmt.Errorf("sqlite: rebuild home: %w", err)
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO home_state (user_id, built_at) VALUES (?, ?)
			ON CONFLICT (user_id) DO UPDATE SET built_at = excluded.built_at`, user, us(now))
		return err
	})
}

// RemoveRoom takes room off every home.
func (s *RoomStore) RemoveRoom(ctx context.Context, room rooms.RoomID) error {
	if _, err := s.db.W.ExecContext(ctx, `DELETE FROM home_items WHERE room_id = ?`, room); err != nil {
		return fmt.Errorf("sqlite: remove room from homes: %w", err)
	}
	return nil
}

// HomeOf returns user's precomputed home with its rooms.
func (s *RoomStore) HomeOf(ctx context.Context, user core.UserID, limit int) ([]rooms.HomeEntry, time.Time, error) {
	var built sql.NullInt64
	err := s.db.R.QueryRowContext(ctx, `SELECT built_at FROM home_state WHERE user_id = ?`, user).Scan(&built)
	if err != nil && err != sql.ErrNoRows {
		return nil, time.Time{}, fmt.Errorf("sqlite: home state: %w", err)
	}
	rows, err := s.db.R.QueryContext(ctx, `SELECT `+listingCols+`, h.via_id, h.reason, h.at FROM home_items h
		JOIN rooms r ON r.id = h.room_id WHERE h.user_id = ? ORDER BY h.at DESC, h.room_id LIMIT ?`, user, pageLimit(limit))
	if err != nil {
		return nil, time.Time{}, fmt.Errorf("sqlite: home: %w", err)
	}
	defer rows.Close()
	var out []rooms.HomeEntry
	for rows.Next() {
		var e rooms.HomeEntry
		var at int64
		l, err := scanListing(rows, &e.Via, &e.Reason, &at)
		if err != nil {
			return nil, time.Time{}, err
		}
		e.Listing, e.Room, e.At = l, l.Room, fromUS(at)
		out = append(out, e)
	}
	var bt time.Time
	if built.Valid {
		bt = fromUS(built.Int64)
	}
	return out, bt, rows.Err()
}

// FollowedRooms returns the public live and upcoming rooms hosted by
// people user follows that changed at or after since.
func (s *RoomStore) FollowedRooms(ctx context.Context, user core.UserID, since time.Time, limit int) ([]rooms.Listing, error) {
	rows, err := s.db.R.QueryContext(ctx, `SELECT `+listingCols+` FROM follows f JOIN rooms r ON r.host_id = f.followee_id
		WHERE f.follower_id = ? AND r.status IN ('live', 'scheduled') AND r.visibility = 'public' AND r.updated_at >= ?
		ORDER BY r.updated_at DESC, r.id LIMIT ?`, user, us(since), pageLimit(limit))
	if err != nil {
		return nil, fmt.Errorf("sqlite: followed rooms: %w", err)
	}
	defer rows.Close()
	var out []rooms.Listing
	for rows.Next() {
		l, err := scanListing(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, l)
	}
	return out, rows.Err()
}
