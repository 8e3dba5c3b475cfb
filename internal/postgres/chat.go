package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/parleyhq/parley/internal/chat"
	"github.com/parleyhq/parley/internal/core"
	"github.com/parleyhq/parley/internal/eventlog"
)

// ChatStore keeps the chat read models (projected from the event log),
// uploads, bot tokens and webhooks. Several nodes may project into it at
// once: a batch locks the checkpoint rows of its streams (in name order,
// so two batches never wait on each other in a cycle) and skips what
// another node projected first, so each event is applied exactly once. It
// is safe for concurrent use.
type ChatStore struct {
	db         *DB
	rankWindow int // 0: defaultRankWindow
}

// NewChatStore returns the chat store of db.
func NewChatStore(db *DB) *ChatStore { return &ChatStore{db: db} }

var (
	_ chat.Store            = (*ChatStore)(nil)
	_ chat.Projector        = (*ChatStore)(nil)
	_ chat.HistoryStore     = (*ChatStore)(nil)
	_ chat.DirectoryStore   = (*ChatStore)(nil)
	_ chat.Searcher         = (*ChatStore)(nil)
	_ chat.UploadStore      = (*ChatStore)(nil)
	_ chat.IntegrationStore = (*ChatStore)(nil)
	_ chat.Dumper           = (*ChatStore)(nil)
	_ chat.Rows             = (*chatRows)(nil)
)

// ApplyBatch implements chat.Projector.
func (s *ChatStore) ApplyBatch(ctx context.Context, events []eventlog.Event) ([]chat.ProjectionResult, error) {
	var out []chat.ProjectionResult
	var err error
	for attempt := 1; attempt <= maxAttempts; attempt++ {
		err = s.db.Tx(ctx, func(tx pgx.Tx) error {
			out = out[:0]
			var streams []string
			seen := map[core.StreamID]bool{}
			for _, e := range events {
				if !seen[e.Stream] {
					seen[e.Stream] = true
					streams = append(streams, string(e.Stream))
				}
			}
			// Create missing checkpoints, then lock them all, in name order.
			sort.Strings(streams)
			if _, err := tx.Exec(ctx, `INSERT INTO chat_checkpoints (stream, seq) SELECT unnest($1::text[]), 0 ON CONFLICT DO NOTHING`, streams); err != nil {
				return err
			}
			rows, err := tx.Query(ctx, `SELECT stream, seq FROM chat_checkpoints WHERE stream = ANY($1) ORDER BY stream COLLATE "C" FOR UPDATE`, streams)
			if err != nil {
				return err
			}
			cps := map[core.StreamID]uint64{}
			for rows.Next() {
				var name string
				var seq int64
				if err := rows.Scan(&name, &seq); err != nil {
					rows.Close()
					return err
				}
				cps[core.StreamID(name)] = uint64(seq)
			}
			rows.Close()
			if err := rows.Err(); err != nil {
				return err
			}
			r := &chatRows{tx: tx}
			for i := 0; i < len(events); {
				j := i + 1
				for j < len(events) && events[j].Stream == events[i].Stream {
					j++
				}
				res, err := projectStream(ctx, r, cps[events[i].Stream], events[i:j])
				if err != nil {
					return err
				}
				cps[res.Stream] = res.Checkpoint
				out = append(out, res)
				i = j
			}
			return nil
		})
		if !IsRetryable(err) {
			break
		}
	}
	if err != nil {
		return nil, fmt.Errorf("postgres: chat projection: %w", err)
	}
	return out, nil
}

func projectStream(ctx context.Context, r *chatRows, cp uint64, group []eventlog.Event) (chat.ProjectionResult, error) {
	res := chat.ProjectionResult{Stream: group[0].Stream, Checkpoint: cp}
	for k := range group {
		ev := &group[k]
		if ev.Seq <= res.Checkpoint {
			continue
		}
		if ev.Seq != res.Checkpoint+1 {
			res.Gap = true
			break
		}
		if err := chat.Project(ctx, r, ev); err != nil {
			return res, fmt.Errorf("project %s#%d (%s): %w", ev.Stream, ev.Seq, ev.Type, err)
		}
		res.Checkpoint = ev.Seq
	}
	if res.Checkpoint != cp {
		if _, err := r.tx.Exec(ctx, `UPDATE chat_checkpoints SET seq = $2 WHERE stream = $1`, string(res.Stream), int64(res.Checkpoint)); err != nil {
			return res, err
		}
	}
	return res, nil
}

// Analyze refreshes the query planner's statistics of the chat tables,
// after a bulk load or a rebuild (autovacuum does it too, later).
func (s *ChatStore) Analyze(ctx context.Context) error {
	_, err := s.db.Pool.Exec(ctx, `ANALYZE chat_messages, chat_members, chat_channel_members, chat_mentions, chat_reactions`)
	return err
}

// Checkpoint implements chat.Projector.
func (s *ChatStore) Checkpoint(ctx context.Context, stream core.StreamID) (uint64, error) {
	var seq int64
	err := s.db.Pool.QueryRow(ctx, `SELECT seq FROM chat_checkpoints WHERE stream = $1`, string(stream)).Scan(&seq)
	if errors.Is(err, pgx.ErrNoRows) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("postgres: chat checkpoint: %w", err)
	}
	return uint64(seq), nil
}

// Checkpoints implements chat.Projector.
func (s *ChatStore) Checkpoints(ctx context.Context, after core.StreamID, limit int) ([]eventlog.StreamInfo, error) {
	if limit <= 0 {
		limit = eventlog.DefaultReadLimit
	}
	rows, err := s.db.Pool.Query(ctx, `SELECT stream, seq FROM chat_checkpoints WHERE stream COLLATE "C" > $1 AND seq > 0
		ORDER BY stream COLLATE "C" LIMIT $2`, string(after), limit)
	if err != nil {
		return nil, fmt.Errorf("postgres: chat checkpoints: %w", err)
	}
	defer rows.Close()
	out := []eventlog.StreamInfo{}
	for rows.Next() {
		var name string
		var seq int64
		if err := rows.Scan(&name, &seq); err != nil {
			return nil, err
		}
		out = append(out, eventlog.StreamInfo{Stream: core.StreamID(name), Last: uint64(seq)})
	}
	return out, rows.Err()
}

// Reset implements chat.Projector.
func (s *ChatStore) Reset(ctx context.Context) error {
	_, err := s.db.Pool.Exec(ctx, `TRUNCATE chat_checkpoints, chat_workspaces, chat_members, chat_channels, chat_channel_members,
		chat_messages, chat_edits, chat_reactions, chat_mentions, chat_reads`)
	if err != nil {
		return fmt.Errorf("postgres: chat reset: %w", err)
	}
	return nil
}

var dumpQueries = map[string]string{
	"checkpoints":     `SELECT stream, seq FROM chat_checkpoints WHERE seq > 0 ORDER BY 1`,
	"workspaces":      `SELECT id, name, created_by, created_at FROM chat_workspaces ORDER BY 1`,
	"members":         `SELECT workspace, user_id, role, handle, display_name, avatar_url, bot, joined_at FROM chat_members ORDER BY 1, 2`,
	"channels":        `SELECT id, workspace, kind, name, topic, purpose, archived, created_by, created_at, tops, messages, last_at FROM chat_channels ORDER BY 1`,
	"channel_members": `SELECT channel, user_id, guest, since_seq, joined_at FROM chat_channel_members ORDER BY 1, 2`,
	"messages": `SELECT channel, n, seq, top, thread, author, text, mentions::text, attachments::text, created_at, edited_at, deleted,
		pinned_seq, replies, last_reply_at FROM chat_messages ORDER BY 1, 2`,
	"edits":     `SELECT channel, n, seq, text, until FROM chat_edits ORDER BY 1, 2, 3`,
	"reactions": `SELECT channel, n, emoji, user_id, seq FROM chat_reactions ORDER BY 1, 2, 3, 4`,
	"mentions":  `SELECT user_id, channel, seq, n, thread, workspace, author, kind, at FROM chat_mentions ORDER BY 1, 2, 3`,
	"reads":     `SELECT user_id, channel, seq, top, at FROM chat_reads ORDER BY 1, 2`,
	"search":    `SELECT channel, n, tsv::text FROM chat_messages WHERE tsv <> ''::tsvector ORDER BY 1, 2`,
}

// Dump implements chat.Dumper.
func (s *ChatStore) Dump(ctx context.Context) (chat.Dump, error) {
	out := chat.Dump{}
	for name, q := range dumpQueries {
		rows, err := s.db.Pool.Query(ctx, q)
		if err != nil {
			return nil, fmt.Errorf("postgres: dump %s: %w", name, err)
		}
		var lines []string
		for rows.Next() {
			vals, err := rows.Values()
			if err != nil {
				rows.Close()
				return nil, err
			}
			parts := make([]string, len(vals))
			for i, v := range vals {
				switch x := v.(type) {
				case nil:
					parts[i] = "NULL"
				case time.Time:
					parts[i] = fmt.Sprint(x.UnixMicro())
				default:
					parts[i] = fmt.Sprint(x)
				}
			}
			lines = append(lines, strings.Join(parts, "|"))
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return nil, err
		}
		if lines == nil {
			lines = []string{}
		}
		sort.Strings(lines) // byte order, whatever the database's collation
		out[name] = lines
	}
	return out, nil
}

// chatRows implements chat.Rows inside one transaction.
type chatRows struct {
	tx pgx.Tx
}

func (r *chatRows) exec(ctx context.Context, q string, args ...any) error {
	_, err := r.tx.Exec(ctx, q, args...)
	return err
}

func jsonText(v any) string {
	b, _ := json.Marshal(v)
	if string(b) == "null" {
		return "[]"
	}
	return string(b)
}

func (r *chatRows) PutWorkspace(ctx context.Context, id chat.WorkspaceID, name string, by core.UserID, at time.Time) error {
	return r.exec(ctx, `INSERT INTO chat_workspaces (id, name, created_by, created_at) VALUES ($1, $2, $3, $4)
		ON CONFLICT (id) DO UPDATE SET name = excluded.name, created_by = excluded.created_by, created_at = excluded.created_at`, string(id), name, string(by), at)
}

func (r *chatRows) RenameWorkspace(ctx context.Context, id chat.WorkspaceID, name string) error {
	return r.exec(ctx, `UPDATE chat_workspaces SET name = $2 WHERE id = $1`, string(id), name)
}

func (r *chatRows) PutMember(ctx context.Context, ws chat.WorkspaceID, m chat.MemberRow) error {
	return r.exec(ctx, `INSERT INTO chat_members (workspace, user_id, role, handle, display_name, avatar_url, bot, joined_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (workspace, user_id) DO UPDATE SET role = excluded.role, handle = excluded.handle,
		display_name = excluded.display_name, avatar_url = excluded.avatar_url, bot = excluded.bot, joined_at = excluded.joined_at`,
		string(ws), string(m.User), string(m.Role), m.Profile.Handle, m.Profile.DisplayName, m.Profile.AvatarURL, m.Bot, m.JoinedAt)
}

func (r *chatRows) DeleteMember(ctx context.Context, ws chat.WorkspaceID, user core.UserID) error {
	return r.exec(ctx, `DELETE FROM chat_members WHERE workspace = $1 AND user_id = $2`, string(ws), string(user))
}

func (r *chatRows) SetMemberRole(ctx context.Context, ws chat.WorkspaceID, user core.UserID, role chat.Role) error {
	return r.exec(ctx, `UPDATE chat_members SET role = $3 WHERE workspace = $1 AND user_id = $2`, string(ws), string(user), string(role))
}

func (r *chatRows) SetMemberProfile(ctx context.Context, ws chat.WorkspaceID, user core.UserID, p chat.Profile) error {
	return r.exec(ctx, `UPDATE chat_members SET handle = $3, display_name = $4, avatar_url = $5 WHERE workspace = $1 AND user_id = $2`,
		string(ws), string(user), p.Handle, p.DisplayName, p.AvatarURL)
}

func (r *chatRows) PutChannel(ctx context.Context, c chat.ChannelRow) error {
	return r.exec(ctx, `INSERT INTO chat_channels (id, workspace, kind, name, topic, purpose, archived, created_by, created_at, tops, messages, last_at)
		VALUES ($1, $2, $3, $4, $5, $6, false, $7, $8, 0, 0, $8) ON CONFLICT (id) DO NOTHING`,
		string(c.ID), string(c.Workspace), string(c.Kind), c.Name, c.Topic, c.Purpose, string(c.CreatedBy), c.CreatedAt)
}

func (r *chatRows) PatchChannel(ctx context.Context, id chat.ChannelID, p chat.ChannelPatch) error {
	return r.exec(ctx, `UPDATE chat_channels SET name = coalesce($2, name), topic = coalesce($3, topic), purpose = coalesce($4, purpose),
		archived = coalesce($5, archived) WHERE id = $1`, string(id), p.Name, p.Topic, p.Purpose, p.Archived)
}

func (r *chatRows) PutChannelMember(ctx context.Context, ch chat.ChannelID, user core.UserID, guest bool, since uint64, at time.Time) error {
	return r.exec(ctx, `INSERT INTO chat_channel_members (channel, user_id, guest, since_seq, joined_at) VALUES ($1, $2, $3, $4, $5)
		ON CONFLICT (channel, user_id) DO UPDATE SET guest = excluded.guest, since_seq = excluded.since_seq, joined_at = excluded.joined_at`,
		string(ch), string(user), guest, int64(since), at)
}

func (r *chatRows) DeleteChannelMember(ctx context.Context, ch chat.ChannelID, user core.UserID) error {
	return r.exec(ctx, `DELETE FROM chat_channel_members WHERE channel = $1 AND user_id = $2`, string(ch), string(user))
}

func (r *chatRows) ChannelMemberIDs(ctx context.Context, ch chat.ChannelID) ([]core.UserID, error) {
	rows, err := r.tx.Query(ctx, `SELECT user_id FROM chat_channel_members WHERE channel = $1 ORDER BY user_id COLLATE "C"`, string(ch))
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []core.UserID
	for rows.Next() {
		var u string
		if err := rows.Scan(&u); err != nil {
			return nil, err
		}
		out = append(out, core.UserID(u))
	}
	return out, rows.Err()
}

func (r *chatRows) ChannelWorkspace(ctx context.Context, ch chat.ChannelID) (chat.WorkspaceID, error) {
	var ws string
	err := r.tx.QueryRow(ctx, `SELECT workspace FROM chat_channels WHERE id = $1`, string(ch)).Scan(&ws)
	return chat.WorkspaceID(ws), err
}

func (r *chatRows) InsertMessage(ctx context.Context, m chat.MessageRow) error {
	err := r.exec(ctx, `INSERT INTO chat_messages (channel, n, seq, top, thread, author, text, mentions, attachments, created_at, deleted, pinned_seq, replies)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8::jsonb, $9::jsonb, $10, false, 0, 0)`,
		string(m.Channel), int64(m.N), int64(m.Seq), int64(m.Top), int64(m.Thread), string(m.Author), m.Text, jsonText(m.Mentions), jsonText(m.Attachments), m.At)
	if err != nil {
		return err
	}
	top := 0
	if m.Top > 0 {
		top = 1
	}
	return r.exec(ctx, `UPDATE chat_channels SET tops = tops + $2, messages = messages + 1, last_at = $3 WHERE id = $1`, string(m.Channel), top, m.At)
}

func (r *chatRows) EditMessage(ctx context.Context, ch chat.ChannelID, n uint32, text string, mentions []core.UserID, seq uint64, at time.Time) error {
	var old string
	err := r.tx.QueryRow(ctx, `SELECT text FROM chat_messages WHERE channel = $1 AND n = $2 AND NOT deleted`, string(ch), int64(n)).Scan(&old)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil
	}
	if err != nil {
		return err
	}
	if err := r.exec(ctx, `INSERT INTO chat_edits (channel, n, seq, text, until) VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING`,
		string(ch), int64(n), int64(seq), old, at); err != nil {
		return err
	}
	return r.exec(ctx, `UPDATE chat_messages SET text = $3, mentions = $4::jsonb, edited_at = $5 WHERE channel = $1 AND n = $2`,
		string(ch), int64(n), text, jsonText(mentions), at)
}

func (r *chatRows) DeleteMessage(ctx context.Context, ch chat.ChannelID, n uint32) error {
	for _, q := range []string{
		`DELETE FROM chat_edits WHERE channel = $1 AND n = $2`,
		`DELETE FROM chat_reactions WHERE channel = $1 AND n = $2`,
		`DELETE FROM chat_mentions WHERE channel = $1 AND n = $2`,
		`UPDATE chat_messages SET deleted = true, text = '', mentions = '[]', attachments = '[]', pinned_seq = 0 WHERE channel = $1 AND n = $2`,
	} {
		if err := r.exec(ctx, q, string(ch), int64(n)); err != nil {
			return err
		}
	}
	return nil
}

func (r *chatRows) AddReplies(ctx context.Context, ch chat.ChannelID, root uint32, delta int, at time.Time) error {
	if at.IsZero() {
		return r.exec(ctx, `UPDATE chat_messages SET replies = greatest(replies + $3, 0) WHERE channel = $1 AND n = $2`, string(ch), int64(root), delta)
	}
	return r.exec(ctx, `UPDATE chat_messages SET replies = greatest(replies + $3, 0), last_reply_at = $4 WHERE channel = $1 AND n = $2`,
		string(ch), int64(root), delta, at)
}

func (r *chatRows) PutReaction(ctx context.Context, ch chat.ChannelID, n uint32, emoji string, user core.UserID, seq uint64) error {
	return r.exec(ctx, `INSERT INTO chat_reactions (channel, n, emoji, user_id, seq) VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING`,
		string(ch), int64(n), emoji, string(user), int64(seq))
}

func (r *chatRows) DeleteReaction(ctx context.Context, ch chat.ChannelID, n uint32, emoji string, user core.UserID) error {
	return r.exec(ctx, `DELETE FROM chat_reactions WHERE channel = $1 AND n = $2 AND emoji = $3 AND user_id = $4`, string(ch), int64(n), emoji, string(user))
}

func (r *chatRows) SetPinned(ctx context.Context, ch chat.ChannelID, n uint32, seq uint64) error {
	return r.exec(ctx, `UPDATE chat_messages SET pinned_seq = $3 WHERE channel = $1 AND n = $2 AND NOT deleted`, string(ch), int64(n), int64(seq))
}

func (r *chatRows) PutMention(ctx context.Context, m chat.MentionEntry) error {
	return r.exec(ctx, `INSERT INTO chat_mentions (user_id, channel, seq, n, thread, workspace, author, kind, at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
		ON CONFLICT (user_id, channel, seq) DO UPDATE SET kind = excluded.kind`,
		string(m.User), string(m.Channel), int64(m.Seq), int64(m.N), int64(m.Thread), string(m.Workspace), string(m.Author), m.Kind, m.At)
}

func (r *chatRows) PutRead(ctx context.Context, user core.UserID, ch chat.ChannelID, mk chat.Marker, at time.Time) error {
	return r.exec(ctx, `INSERT INTO chat_reads (user_id, channel, seq, top, at) VALUES ($1, $2, $3, $4, $5)
		ON CONFLICT (user_id, channel) DO UPDATE SET seq = excluded.seq, top = excluded.top, at = excluded.at`,
		string(user), string(ch), int64(mk.Seq), int64(mk.Top), at)
}
