package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/parleyhq/parley/internal/chat"
	"github.com/parleyhq/parley/internal/core"
	"github.com/parleyhq/parley/internal/eventlog"
)

// ChatStore keeps the chat read models (projected from the event log),
// uploads, bot tokens and webhooks in the app database. Projection batches
// run on the database's single writer connection; queries run on the
// reader pool and see committed batches only. It is safe for concurrent
// use.
type ChatStore struct {
	db         *DB
	rankWindow int // 0: defaultRankWindow; tests set a small one
}

// NewChatStore returns the chat store of db, the app database (set "app").
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
	err := s.db.Tx(ctx, func(tx *sql.Tx) error {
		out = out[:0]
		r := &chatRows{tx: tx, stmts: map[string]*sql.Stmt{}}
		defer r.close()
		for i := 0; i < len(events); {
			j := i + 1
			for j < len(events) && events[j].Stream == events[i].Stream {
				j++
			}
			res, err := projectStream(ctx, r, events[i:j])
			if err != nil {
				return err
			}
			out = append(out, res)
			i = j
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("sqlite: chat projection: %w", err)
	}
	return out, nil
}

// projectStream applies one stream's events past its checkpoint, stopping
// at the first hole, and moves the checkpoint.
func projectStream(ctx context.Context, r *chatRows, group []eventlog.Event) (chat.ProjectionResult, error) {
	stream := group[0].Stream
	var cp int64
	err := r.queryRow(ctx, `SELECT seq FROM chat_checkpoints WHERE stream = ?`, string(stream)).Scan(&cp)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return chat.ProjectionResult{}, err
	}
	res := chat.ProjectionResult{Stream: stream, Checkpoint: uint64(cp)}
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
	if res.Checkpoint != uint64(cp) {
		if err := r.exec(ctx, `INSERT INTO chat_checkpoints (stream, seq) VALUES (?, ?)
			ON CONFLICT (stream) DO UPDATE SET seq = excluded.seq`, string(stream), int64(res.Checkpoint)); err != nil {
			return res, err
		}
	}
	return res, nil
}

// Analyze refreshes the query planner's statistics of the chat tables,
// after a bulk load or a rebuild.
func (s *ChatStore) Analyze(ctx context.Context) error {
	_, err := s.db.W.ExecContext(ctx, `ANALYZE`)
	return err
}

// Checkpoint implements chat.Projector.
func (s *ChatStore) Checkpoint(ctx context.Context, stream core.StreamID) (uint64, error) {
	var seq int64
	err := s.db.R.QueryRowContext(ctx, `SELECT seq FROM chat_checkpoints WHERE stream = ?`, string(stream)).Scan(&seq)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("sqlite: chat checkpoint: %w", err)
	}
	return uint64(seq), nil
}

// Checkpoints implements chat.Projector.
func (s *ChatStore) Checkpoints(ctx context.Context, after core.StreamID, limit int) ([]eventlog.StreamInfo, error) {
	if limit <= 0 {
		limit = eventlog.DefaultReadLimit
	}
	rows, err := s.db.R.QueryContext(ctx, `SELECT stream, seq FROM chat_checkpoints WHERE stream > ? ORDER BY stream LIMIT ?`, string(after), limit)
	if err != nil {
		return nil, fmt.Errorf("sqlite: chat checkpoints: %w", err)
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

// projectedTables are the tables Reset empties and Dump lists.
var projectedTables = []string{"chat_checkpoints", "chat_workspaces", "chat_members", "chat_channels", "chat_channel_members",
	"chat_messages", "chat_edits", "chat_reactions", "chat_mentions", "chat_reads"}

// Reset implements chat.Projector.
func (s *ChatStore) Reset(ctx context.Context) error {
	return s.db.Tx(ctx, func(tx *sql.Tx) error {
		for _, t := range projectedTables {
			if _, err := tx.ExecContext(ctx, `DELETE FROM `+t); err != nil {
				return fmt.Errorf("sqlite: reset %s: %w", t, err)
			}
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO chat_fts (chat_fts) VALUES ('delete-all')`)
		return err
	})
}

// dumpQueries select every projected column but the full-text rowid, in a
// canonical order, with times as microseconds.
var dumpQueries = map[string]string{
	"checkpoints":     `SELECT stream, seq FROM chat_checkpoints ORDER BY 1`,
	"workspaces":      `SELECT id, name, created_by, created_at FROM chat_workspaces ORDER BY 1`,
	"members":         `SELECT workspace, user_id, role, handle, display_name, avatar_url, bot, joined_at FROM chat_members ORDER BY 1, 2`,
	"channels":        `SELECT id, workspace, kind, name, topic, purpose, archived, created_by, created_at, tops, messages, last_at FROM chat_channels ORDER BY 1`,
	"channel_members": `SELECT channel, user_id, guest, since_seq, joined_at FROM chat_channel_members ORDER BY 1, 2`,
	"messages": `SELECT channel, n, seq, top, thread, author, text, mentions, attachments, created_at, coalesce(edited_at, 0), deleted,
		pinned_seq, replies, coalesce(last_reply_at, 0) FROM chat_messages ORDER BY 1, 2`,
	"edits":     `SELECT channel, n, seq, text, until FROM chat_edits ORDER BY 1, 2, 3`,
	"reactions": `SELECT channel, n, emoji, user_id, seq FROM chat_reactions ORDER BY 1, 2, 3, 4`,
	"mentions":  `SELECT user_id, channel, seq, n, thread, workspace, author, kind, at FROM chat_mentions ORDER BY 1, 2, 3`,
	"reads":     `SELECT user_id, channel, seq, top, at FROM chat_reads ORDER BY 1, 2`,
	// Every token the full-text index holds, by message.
	"search": `SELECT m.channel, m.n, v.term, v.offset FROM chat_fts_vocab AS v JOIN chat_messages AS m ON m.rid = v.doc ORDER BY 1, 2, 4, 3`,
}

// Dump implements chat.Dumper. Its "search" entry lists the messages the
// full-text index holds, so a rebuild proves the index equal too.
func (s *ChatStore) Dump(ctx context.Context) (chat.Dump, error) {
	out := chat.Dump{}
	for name, q := range dumpQueries {
		rows, err := s.db.R.QueryContext(ctx, q)
		if err != nil {
			return nil, fmt.Errorf("sqlite: dump %s: %w", name, err)
		}
		lines, err := dumpRows(rows)
		if err != nil {
			return nil, fmt.Errorf("sqlite: dump %s: %w", name, err)
		}
		out[name] = lines
	}
	return out, nil
}

func dumpRows(rows *sql.Rows) ([]string, error) {
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil {
		return nil, err
	}
	vals := make([]any, len(cols))
	ptrs := make([]any, len(cols))
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	out := []string{}
	for rows.Next() {
		if err := rows.Scan(ptrs...); err != nil {
			return nil, err
		}
		parts := make([]string, len(vals))
		for i, v := range vals {
			switch x := v.(type) {
			case []byte:
				parts[i] = string(x)
			case nil:
				parts[i] = "NULL"
			default:
				parts[i] = fmt.Sprint(x)
			}
		}
		out = append(out, strings.Join(parts, "|"))
	}
	return out, rows.Err()
}

// chatRows implements chat.Rows inside one write transaction, preparing
// each statement once per transaction.
type chatRows struct {
	tx    *sql.Tx
	stmts map[string]*sql.Stmt
}

func (r *chatRows) stmt(ctx context.Context, q string) (*sql.Stmt, error) {
	if st, ok := r.stmts[q]; ok {
		return st, nil
	}
	st, err := r.tx.PrepareContext(ctx, q)
	if err != nil {
		return nil, err
	}
	r.stmts[q] = st
	return st, nil
}

func (r *chatRows) close() {
	for _, st := range r.stmts {
		st.Close()
	}
}

func (r *chatRows) exec(ctx context.Context, q string, args ...any) error {
	st, err := r.stmt(ctx, q)
	if err != nil {
		return err
	}
	_, err = st.ExecContext(ctx, args...)
	return err
}

func (r *chatRows) queryRow(ctx context.Context, q string, args ...any) *sql.Row {
	st, err := r.stmt(ctx, q)
	if err != nil {
		return r.tx.QueryRowContext(ctx, q, args...) // reports the same error on Scan
	}
	return st.QueryRowContext(ctx, args...)
}

func jsonText(v any) string {
	b, _ := json.Marshal(v)
	if string(b) == "null" {
		return "[]"
	}
	return string(b)
}

func (r *chatRows) PutWorkspace(ctx context.Context, id chat.WorkspaceID, name string, by core.UserID, at time.Time) error {
	return r.exec(ctx, `INSERT OR REPLACE INTO chat_workspaces (id, name, created_by, created_at) VALUES (?, ?, ?, ?)`, string(id), name, string(by), us(at))
}

func (r *chatRows) RenameWorkspace(ctx context.Context, id chat.WorkspaceID, name string) error {
	return r.exec(ctx, `UPDATE chat_workspaces SET name = ? WHERE id = ?`, name, string(id))
}

func (r *chatRows) PutMember(ctx context.Context, ws chat.WorkspaceID, m chat.MemberRow) error {
	return r.exec(ctx, `INSERT OR REPLACE INTO chat_members (workspace, user_id, role, handle, display_name, avatar_url, bot, joined_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?)`, string(ws), string(m.User), string(m.Role), m.Profile.Handle, m.Profile.DisplayName, m.Profile.AvatarURL, m.Bot, us(m.JoinedAt))
}

func (r *chatRows) DeleteMember(ctx context.Context, ws chat.WorkspaceID, user core.UserID) error {
	return r.exec(ctx, `DELETE FROM chat_members WHERE workspace = ? AND user_id = ?`, string(ws), string(user))
}

func (r *chatRows) SetMemberRole(ctx context.Context, ws chat.WorkspaceID, user core.UserID, role chat.Role) error {
	return r.exec(ctx, `UPDATE chat_members SET role = ? WHERE workspace = ? AND user_id = ?`, string(role), string(ws), string(user))
}

func (r *chatRows) SetMemberProfile(ctx context.Context, ws chat.WorkspaceID, user core.UserID, p chat.Profile) error {
	return r.exec(ctx, `UPDATE chat_members SET handle = ?, display_name = ?, avatar_url = ? WHERE workspace = ? AND user_id = ?`,
		p.Handle, p.DisplayName, p.AvatarURL, string(ws), string(user))
}

func (r *chatRows) PutChannel(ctx context.Context, c chat.ChannelRow) error {
	return r.exec(ctx, `INSERT OR REPLACE INTO chat_channels (id, workspace, kind, name, topic, purpose, archived, created_by, created_at, tops, messages, last_at)
		VALUES (?, ?, ?, ?, ?, ?, 0, ?, ?, 0, 0, ?)`, string(c.ID), string(c.Workspace), string(c.Kind), c.Name, c.Topic, c.Purpose, string(c.CreatedBy), us(c.CreatedAt), us(c.CreatedAt))
}

func (r *chatRows) PatchChannel(ctx context.Context, id chat.ChannelID, p chat.ChannelPatch) error {
	if p.Name != nil {
		if err := r.exec(ctx, `UPDATE chat_channels SET name = ? WHERE id = ?`, *p.Name, string(id)); err != nil {
			return err
		}
	}
	if p.Topic != nil {
		if err := r.exec(ctx, `UPDATE chat_channels SET topic = ? WHERE id = ?`, *p.Topic, string(id)); err != nil {
			return err
		}
	}
	if p.Purpose != nil {
		if err := r.exec(ctx, `UPDATE chat_channels SET purpose = ? WHERE id = ?`, *p.Purpose, string(id)); err != nil {
			return err
		}
	}
	if p.Archived != nil {
		return r.exec(ctx, `UPDATE chat_channels SET archived = ? WHERE id = ?`, *p.Archived, string(id))
	}
	return nil
}

func (r *chatRows) PutChannelMember(ctx context.Context, ch chat.ChannelID, user core.UserID, guest bool, since uint64, at time.Time) error {
	return r.exec(ctx, `INSERT OR REPLACE INTO chat_channel_members (channel, user_id, guest, since_seq, joined_at) VALUES (?, ?, ?, ?, ?)`,
		string(ch), string(user), guest, int64(since), us(at))
}

func (r *chatRows) DeleteChannelMember(ctx context.Context, ch chat.ChannelID, user core.UserID) error {
	return r.exec(ctx, `DELETE FROM chat_channel_members WHERE channel = ? AND user_id = ?`, string(ch), string(user))
}

func (r *chatRows) ChannelMemberIDs(ctx context.Context, ch chat.ChannelID) ([]core.UserID, error) {
	st, err := r.stmt(ctx, `SELECT user_id FROM chat_channel_members WHERE channel = ? ORDER BY user_id`)
	if err != nil {
		return nil, err
	}
	rows, err := st.QueryContext(ctx, string(ch))
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
	err := r.queryRow(ctx, `SELECT workspace FROM chat_channels WHERE id = ?`, string(ch)).Scan(&ws)
	return chat.WorkspaceID(ws), err
}

func (r *chatRows) InsertMessage(ctx context.Context, m chat.MessageRow) error {
	var rid int64
	err := r.queryRow(ctx, `INSERT INTO chat_messages (channel, n, seq, top, thread, author, text, mentions, attachments, created_at, deleted, pinned_seq, replies)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 0, 0, 0) RETURNING rid`,
		string(m.Channel), m.N, int64(m.Seq), m.Top, m.Thread, string(m.Author), m.Text, jsonText(m.Mentions), jsonText(m.Attachments), us(m.At)).Scan(&rid)
	if err != nil {
		return err
	}
	if err := r.exec(ctx, `INSERT INTO chat_fts (rowid, text, author) VALUES (?, ?, ?)`, rid, m.Text, string(m.Author)); err != nil {
		return err
	}
	top := 0
	if m.Top > 0 {
		top = 1
	}
	return r.exec(ctx, `UPDATE chat_channels SET tops = tops + ?, messages = messages + 1, last_at = ? WHERE id = ?`, top, us(m.At), string(m.Channel))
}

func (r *chatRows) EditMessage(ctx context.Context, ch chat.ChannelID, n uint32, text string, mentions []core.UserID, seq uint64, at time.Time) error {
	var rid int64
	var old, author string
	err := r.queryRow(ctx, `SELECT rid, text, author FROM chat_messages WHERE channel = ? AND n = ? AND deleted = 0`, string(ch), n).Scan(&rid, &old, &author)
	if errors.Is(err, sql.ErrNoRows) {
		return nil
	}
	if err != nil {
		return err
	}
	if err := r.exec(ctx, `INSERT OR REPLACE INTO chat_edits (channel, n, seq, text, until) VALUES (?, ?, ?, ?, ?)`, string(ch), n, int64(seq), old, us(at)); err != nil {
		return err
	}
	if err := r.exec(ctx, `INSERT INTO chat_fts (chat_fts, rowid, text, author) VALUES ('delete', ?, ?, ?)`, rid, old, author); err != nil {
		return err
	}
	if err := r.exec(ctx, `INSERT INTO chat_fts (rowid, text, author) VALUES (?, ?, ?)`, rid, text, author); err != nil {
		return err
	}
	return r.exec(ctx, `UPDATE chat_messages SET text = ?, mentions = ?, edited_at = ? WHERE rid = ?`, text, jsonText(mentions), us(at), rid)
}

func (r *chatRows) DeleteMessage(ctx context.Context, ch chat.ChannelID, n uint32) error {
	var rid int64
	var old, author string
	err := r.queryRow(ctx, `SELECT rid, text, author FROM chat_messages WHERE channel = ? AND n = ? AND deleted = 0`, string(ch), n).Scan(&rid, &old, &author)
	if errors.Is(err, sql.ErrNoRows) {
		return nil
	}
	if err != nil {
		return err
	}
	for _, q := range []string{
		`DELETE FROM chat_edits WHERE channel = ? AND n = ?`,
		`DELETE FROM chat_reactions WHERE channel = ? AND n = ?`,
		`DELETE FROM chat_mentions WHERE channel = ? AND n = ?`,
	} {
		if err := r.exec(ctx, q, string(ch), n); err != nil {
			return err
		}
	}
	// The tombstone stays in the index as an empty document, so the index
	// keeps one entry per content row.
	if err := r.exec(ctx, `INSERT INTO chat_fts (chat_fts, rowid, text, author) VALUES ('delete', ?, ?, ?)`, rid, old, author); err != nil {
		return err
	}
	if err := r.exec(ctx, `INSERT INTO chat_fts (rowid, text, author) VALUES (?, '', ?)`, rid, author); err != nil {
		return err
	}
	return r.exec(ctx, `UPDATE chat_messages SET deleted = 1, text = '', mentions = '[]', attachments = '[]', pinned_seq = 0 WHERE rid = ?`, rid)
}

func (r *chatRows) AddReplies(ctx context.Context, ch chat.ChannelID, root uint32, delta int, at time.Time) error {
	if at.IsZero() {
		return r.exec(ctx, `UPDATE chat_messages SET replies = max(replies + ?, 0) WHERE channel = ? AND n = ?`, delta, string(ch), root)
	}
	return r.exec(ctx, `UPDATE chat_messages SET replies = max(replies + ?, 0), last_reply_at = ? WHERE channel = ? AND n = ?`, delta, us(at), string(ch), root)
}

func (r *chatRows) PutReaction(ctx context.Context, ch chat.ChannelID, n uint32, emoji string, user core.UserID, seq uint64) error {
	return r.exec(ctx, `INSERT OR IGNORE INTO chat_reactions (channel, n, emoji, user_id, seq) VALUES (?, ?, ?, ?, ?)`, string(ch), n, emoji, string(user), int64(seq))
}

func (r *chatRows) DeleteReaction(ctx context.Context, ch chat.ChannelID, n uint32, emoji string, user core.UserID) error {
	return r.exec(ctx, `DELETE FROM chat_reactions WHERE channel = ? AND n = ? AND emoji = ? AND user_id = ?`, string(ch), n, emoji, string(user))
}

func (r *chatRows) SetPinned(ctx context.Context, ch chat.ChannelID, n uint32, seq uint64) error {
	return r.exec(ctx, `UPDATE chat_messages SET pinned_seq = ? WHERE channel = ? AND n = ? AND deleted = 0`, int64(seq), string(ch), n)
}

func (r *chatRows) PutMention(ctx context.Context, m chat.MentionEntry) error {
	return r.exec(ctx, `INSERT OR REPLACE INTO chat_mentions (user_id, channel, seq, n, thread, workspace, author, kind, at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		string(m.User), string(m.Channel), int64(m.Seq), m.N, m.Thread, string(m.Workspace), string(m.Author), m.Kind, us(m.At))
}

func (r *chatRows) PutRead(ctx context.Context, user core.UserID, ch chat.ChannelID, mk chat.Marker, at time.Time) error {
	return r.exec(ctx, `INSERT OR REPLACE INTO chat_reads (user_id, channel, seq, top, at) VALUES (?, ?, ?, ?, ?)`,
		string(user), string(ch), int64(mk.Seq), mk.Top, us(at))
}
