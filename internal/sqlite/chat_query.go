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
	"github.com/parleyhq/parley/internal/errs"
)

const msgCols = `channel, n, seq, top, thread, author, text, mentions, attachments, created_at, edited_at, deleted, pinned_seq, replies, last_reply_at`

func scanMessage(r scanner, extra ...any) (chat.Message, error) {
	var m chat.Message
	var n, top, thread uint32
	var seq, created, pinned int64
	var edited, lastReply sql.NullInt64
	var mentions, atts string
	dest := append([]any{&m.Channel, &n, &seq, &top, &thread, &m.Author, &m.Text, &mentions, &atts, &created, &edited, &m.Deleted, &pinned, &m.Replies, &lastReply}, extra...)
	if err := r.Scan(dest...); err != nil {
		return m, err
	}
	m.ID, m.Seq, m.Top, m.CreatedAt, m.Pinned = chat.MessageIDOf(n), uint64(seq), top, fromUS(created), pinned > 0
	if thread != 0 {
		m.Thread = chat.MessageIDOf(thread)
	}
	if edited.Valid {
		t := fromUS(edited.Int64)
		m.EditedAt = &t
	}
	if lastReply.Valid && m.Replies > 0 {
		t := fromUS(lastReply.Int64)
		m.LastReplyAt = &t
	}
	if mentions != "[]" {
		_ = json.Unmarshal([]byte(mentions), &m.Mentions)
	}
	if atts != "[]" {
		_ = json.Unmarshal([]byte(atts), &m.Attachments)
	}
	return m, nil
}

func (s *ChatStore) messages(ctx context.Context, q string, args ...any) ([]chat.Message, error) {
	rows, err := s.db.R.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []chat.Message{}
	for rows.Next() {
		m, err := scanMessage(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, m)
	}
	return out, rows.Err()
}

func reverse(ms []chat.Message) {
	for i, j := 0, len(ms)-1; i < j; i, j = i+1, j-1 {
		ms[i], ms[j] = ms[j], ms[i]
	}
}

// History implements chat.HistoryStore.
func (s *ChatStore) History(ctx context.Context, ch chat.ChannelID, q chat.HistoryQuery) (chat.History, error) {
	limit := q.Limit
	if limit <= 0 {
		limit = 50
	}
	var thread uint32
	h := chat.History{Messages: []chat.Message{}}
	var root *chat.Message
	if q.Thread != "" {
		r, err := s.Message(ctx, ch, q.Thread)
		if err != nil {
			return h, err
		}
		if r.Thread != "" {
			return h, errs.E(errs.InvalidArgument, "%s is a reply; ask for its thread %s", q.Thread, r.Thread)
		}
		thread, root = q.Thread.Number(), &r
	}
	base := `SELECT ` + msgCols + ` FROM chat_messages WHERE channel = ? AND thread = ? `
	older := func(before uint64, n int) ([]chat.Message, bool, error) {
		ms, err := s.messages(ctx, base+`AND seq < ? ORDER BY seq DESC LIMIT ?`, string(ch), thread, int64(before), n+1)
		if err != nil {
			return nil, false, err
		}
		more := len(ms) > n
		if more {
			ms = ms[:n]
		}
		reverse(ms)
		return ms, more, nil
	}
	newer := func(after uint64, n int) ([]chat.Message, bool, error) {
		ms, err := s.messages(ctx, base+`AND seq > ? ORDER BY seq LIMIT ?`, string(ch), thread, int64(after), n+1)
		if err != nil {
			return nil, false, err
		}
		more := len(ms) > n
		if more {
			ms = ms[:n]
		}
		return ms, more, nil
	}
	var err error
	switch {
	case q.Around != "":
		m, err := s.Message(ctx, ch, q.Around)
		if err != nil {
			return h, err
		}
		if (m.Thread != "" && thread == 0) || (thread != 0 && m.Thread != q.Thread && m.ID != q.Thread) {
			return h, errs.E(errs.InvalidArgument, "%s is not in this timeline", q.Around)
		}
		var before, after []chat.Message
		if before, h.MoreBefore, err = older(m.Seq, limit/2); err != nil {
			return h, err
		}
		if after, h.MoreAfter, err = newer(m.Seq-1, limit-len(before)); err != nil {
			return h, err
		}
		h.Messages = append(before, after...)
	case q.After > 0:
		if h.Messages, h.MoreAfter, err = newer(q.After, limit); err != nil {
			return h, err
		}
		h.MoreBefore, err = s.exists(ctx, base+`AND seq <= ?`, string(ch), thread, int64(q.After))
	case q.Before > 0:
		if h.Messages, h.MoreBefore, err = older(q.Before, limit); err != nil {
			return h, err
		}
		h.MoreAfter, err = s.exists(ctx, base+`AND seq >= ?`, string(ch), thread, int64(q.Before))
	case root != nil:
		h.Messages, h.MoreAfter, err = newer(0, limit)
	default:
		h.Messages, h.MoreBefore, err = older(1<<62, limit)
	}
	if err != nil {
		return h, err
	}
	if root != nil && q.Before == 0 && q.Around == "" && q.After < root.Seq {
		h.Messages = append([]chat.Message{*root}, h.Messages...)
	}
	return h, s.addReactions(ctx, ch, h.Messages)
}

func (s *ChatStore) exists(ctx context.Context, q string, args ...any) (bool, error) {
	var one int
	err := s.db.R.QueryRowContext(ctx, `SELECT 1 WHERE EXISTS (`+q+`)`, args...).Scan(&one)
	if errors.Is(err, sql.ErrNoRows) {
		return false, nil
	}
	return err == nil, err
}

// addReactions sets the reaction summaries of ms (all of one channel),
// replacing any they carried.
func (s *ChatStore) addReactions(ctx context.Context, ch chat.ChannelID, ms []chat.Message) error {
	if len(ms) == 0 {
		return nil
	}
	ns := make([]uint32, len(ms))
	idx := map[uint32]int{}
	for i := range ms {
		ns[i] = ms[i].ID.Number()
		idx[ns[i]] = i
		ms[i].Reactions = nil // set here, from the table, whatever ms carried
	}
	rows, err := s.db.R.QueryContext(ctx, `SELECT n, emoji, user_id FROM chat_reactions
		WHERE channel = ? AND n IN (SELECT value FROM json_each(?)) ORDER BY n, emoji, seq`, string(ch), jsonText(ns))
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var n uint32
		var emoji, user string
		if err := rows.Scan(&n, &emoji, &user); err != nil {
			return err
		}
		ms[idx[n]].Reactions = addReaction(ms[idx[n]].Reactions, emoji, core.UserID(user), chat.MaxReactionUsers)
	}
	return rows.Err()
}

func addReaction(rs []chat.ReactionCount, emoji string, user core.UserID, maxUsers int) []chat.ReactionCount {
	if len(rs) == 0 || rs[len(rs)-1].Emoji != emoji {
		rs = append(rs, chat.ReactionCount{Emoji: emoji})
	}
	r := &rs[len(rs)-1]
	r.Count++
	if len(r.Users) < maxUsers {
		r.Users = append(r.Users, user)
	}
	return rs
}

// Message implements chat.HistoryStore.
func (s *ChatStore) Message(ctx context.Context, ch chat.ChannelID, id chat.MessageID) (chat.Message, error) {
	n := id.Number()
	if n == 0 {
		return chat.Message{}, errs.E(errs.NotFound, "no such message")
	}
	m, err := scanMessage(s.db.R.QueryRowContext(ctx, `SELECT `+msgCols+` FROM chat_messages WHERE channel = ? AND n = ?`, string(ch), n))
	if err != nil {
		return m, notFound(err, "no such message")
	}
	ms := []chat.Message{m}
	err = s.addReactions(ctx, ch, ms)
	return ms[0], err
}

// Edits implements chat.HistoryStore.
func (s *ChatStore) Edits(ctx context.Context, ch chat.ChannelID, id chat.MessageID) ([]chat.Edit, error) {
	rows, err := s.db.R.QueryContext(ctx, `SELECT seq, text, until FROM chat_edits WHERE channel = ? AND n = ? ORDER BY seq`, string(ch), id.Number())
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []chat.Edit{}
	for rows.Next() {
		var e chat.Edit
		var seq, until int64
		if err := rows.Scan(&seq, &e.Text, &until); err != nil {
			return nil, err
		}
		e.Replaced, e.Until = uint64(seq), fromUS(until)
		out = append(out, e)
	}
	for i := range out {
		if i > 0 {
			out[i].Seq = out[i-1].Replaced
		}
	}
	if len(out) > 0 {
		m, err := s.Message(ctx, ch, id)
		if err != nil {
			return nil, err
		}
		out[0].Seq = m.Seq
	}
	return out, rows.Err()
}

// Reactions implements chat.HistoryStore.
func (s *ChatStore) Reactions(ctx context.Context, ch chat.ChannelID, id chat.MessageID) ([]chat.ReactionCount, error) {
	rows, err := s.db.R.QueryContext(ctx, `SELECT emoji, user_id FROM chat_reactions WHERE channel = ? AND n = ? ORDER BY emoji, seq`, string(ch), id.Number())
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []chat.ReactionCount{}
	for rows.Next() {
		var emoji, user string
		if err := rows.Scan(&emoji, &user); err != nil {
			return nil, err
		}
		out = addReaction(out, emoji, core.UserID(user), 1<<30)
	}
	return out, rows.Err()
}

// Pins implements chat.HistoryStore.
func (s *ChatStore) Pins(ctx context.Context, ch chat.ChannelID) ([]chat.Message, error) {
	ms, err := s.messages(ctx, `SELECT `+msgCols+` FROM chat_messages WHERE channel = ? AND pinned_seq > 0 ORDER BY pinned_seq DESC`, string(ch))
	if err != nil {
		return nil, err
	}
	return ms, s.addReactions(ctx, ch, ms)
}

func scanMembers(rows *sql.Rows) ([]chat.MemberRow, error) {
	defer rows.Close()
	out := []chat.MemberRow{}
	for rows.Next() {
		var m chat.MemberRow
		var joined int64
		if err := rows.Scan(&m.User, &m.Role, &m.Profile.Handle, &m.Profile.DisplayName, &m.Profile.AvatarURL, &m.Bot, &m.Guest, &joined); err != nil {
			return nil, err
		}
		m.JoinedAt = fromUS(joined)
		out = append(out, m)
	}
	return out, rows.Err()
}

// Members implements chat.DirectoryStore.
func (s *ChatStore) Members(ctx context.Context, ws chat.WorkspaceID, after string, limit int) ([]chat.MemberRow, error) {
	rows, err := s.db.R.QueryContext(ctx, `SELECT user_id, role, handle, display_name, avatar_url, bot, role = 'guest', joined_at
		FROM chat_members WHERE workspace = ? AND handle > ? ORDER BY handle, user_id LIMIT ?`, string(ws), after, limit)
	if err != nil {
		return nil, err
	}
	return scanMembers(rows)
}

// ChannelMembers implements chat.DirectoryStore.
func (s *ChatStore) ChannelMembers(ctx context.Context, ch chat.ChannelID, after string, limit int) ([]chat.MemberRow, error) {
	rows, err := s.db.R.QueryContext(ctx, `SELECT cm.user_id, m.role, m.handle, m.display_name, m.avatar_url, m.bot, cm.guest, cm.joined_at
		FROM chat_channel_members AS cm
		JOIN chat_channels AS c ON c.id = cm.channel
		JOIN chat_members AS m ON m.workspace = c.workspace AND m.user_id = cm.user_id
		WHERE cm.channel = ? AND m.handle > ? ORDER BY m.handle, m.user_id LIMIT ?`, string(ch), after, limit)
	if err != nil {
		return nil, err
	}
	return scanMembers(rows)
}

// Mentions implements chat.DirectoryStore.
func (s *ChatStore) Mentions(ctx context.Context, user core.UserID, p chat.MentionPage) ([]chat.MentionRow, error) {
	before := p.BeforeAt
	if before.IsZero() {
		before = time.Unix(1<<40, 0)
	}
	q := `SELECT mn.workspace, mn.channel, mn.n, mn.seq, mn.thread, mn.author, mn.kind, mn.at, m.text, m.deleted
		FROM chat_mentions AS mn JOIN chat_messages AS m ON m.channel = mn.channel AND m.n = mn.n
		WHERE mn.user_id = ? AND (mn.at, mn.channel, mn.seq) < (?, ?, ?)`
	args := []any{string(user), us(before), string(p.BeforeCh), int64(p.BeforeSeq)}
	if p.BeforeAt.IsZero() {
		args[2], args[3] = "\U0010FFFF", int64(1<<62)
	}
	if p.Workspace != "" {
		q += ` AND mn.workspace = ?`
		args = append(args, string(p.Workspace))
	}
	q += ` ORDER BY mn.at DESC, mn.channel DESC, mn.seq DESC LIMIT ?`
	args = append(args, p.Limit)
	rows, err := s.db.R.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []chat.MentionRow{}
	for rows.Next() {
		var r chat.MentionRow
		var n, thread uint32
		var seq, at int64
		if err := rows.Scan(&r.Workspace, &r.Channel, &n, &seq, &thread, &r.By, &r.Kind, &at, &r.Text, &r.Deleted); err != nil {
			return nil, err
		}
		r.ID, r.Seq, r.At = chat.MessageIDOf(n), uint64(seq), fromUS(at)
		if thread != 0 {
			r.Thread = chat.MessageIDOf(thread)
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

// MarkerAt implements chat.DirectoryStore.
func (s *ChatStore) MarkerAt(ctx context.Context, ch chat.ChannelID, seq uint64) (chat.Marker, error) {
	var top int64
	err := s.db.R.QueryRowContext(ctx, `SELECT top FROM chat_messages WHERE channel = ? AND thread = 0 AND seq <= ? ORDER BY seq DESC LIMIT 1`,
		string(ch), int64(seq)).Scan(&top)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return chat.Marker{}, err
	}
	return chat.Marker{Seq: seq, Top: uint32(top)}, nil
}

// ftsQuery builds an FTS5 query on the text column: every term and phrase
// quoted (they are letters and digits only), all required, and the
// author's id on the author column when given.
func ftsQuery(terms []string, phrases [][]string, author core.UserID) string {
	var parts []string
	quote := func(s string) string { return `"` + strings.ReplaceAll(s, `"`, ``) + `"` }
	for _, t := range terms {
		parts = append(parts, "text : "+quote(t))
	}
	for _, p := range phrases {
		parts = append(parts, "text : "+quote(strings.Join(p, " ")))
	}
	if author != "" {
		parts = append(parts, "author : "+quote(string(author)))
	}
	return strings.Join(parts, " AND ")
}

// defaultRankWindow is how many of a query's most recent matches are
// ranked first; see Search.
const defaultRankWindow = 5000

// SetRankWindow sets how many recent matches a search ranks first (see
// Search); 0 restores the default. It is for tuning and tests.
func (s *ChatStore) SetRankWindow(n int) { s.rankWindow = n }

// Search implements chat.Searcher with FTS5: bm25 rank, then newest first.
//
// Ranking every match of a very common word costs time in proportion to
// the matches (hundreds of thousands in a big workspace). So Search ranks
// the query's 5,000 most recent matches first (found cheaply by
// walking the index backwards), and widens the window eightfold while the
// page does not fill, up to every match: results are the best of the
// recent matches, which is what people searching chat mostly want, and a
// search's cost is bounded by the window instead of the corpus.
func (s *ChatStore) Search(ctx context.Context, r chat.SearchRequest) (chat.SearchResult, error) {
	res := chat.SearchResult{Hits: []chat.SearchHit{}}
	if len(r.Channels) == 0 {
		return res, nil
	}
	if len(r.Terms) == 0 && len(r.Phrases) == 0 {
		return s.search(ctx, r, "", 0)
	}
	match := ftsQuery(r.Terms, r.Phrases, r.Author)
	window := s.rankWindow
	if window <= 0 {
		window = defaultRankWindow
	}
	window = max(window, r.Offset+r.Limit+1)
	for ; ; window *= 8 {
		var bound int64
		err := s.db.R.QueryRowContext(ctx, `SELECT rowid FROM chat_fts WHERE chat_fts MATCH ? ORDER BY rowid DESC LIMIT 1 OFFSET ?`, match, window-1).Scan(&bound)
		if errors.Is(err, sql.ErrNoRows) {
			return s.search(ctx, r, match, 0) // fewer matches than the window: rank them all
		}
		if err != nil {
			return res, fmt.Errorf("sqlite: search: %w", err)
		}
		res, err := s.search(ctx, r, match, bound)
		if err != nil || res.HasMore || window > 1<<24 {
			return res, err
		}
	}
}

// search runs one ranked query; with bound, only over index rows from it
// on. The author, if any, is part of match.
func (s *ChatStore) search(ctx context.Context, r chat.SearchRequest, match string, bound int64) (chat.SearchResult, error) {
	res := chat.SearchResult{Hits: []chat.SearchHit{}}
	var q strings.Builder
	var args []any
	text := match != ""
	switch {
	case text:
		q.WriteString(`SELECT m.` + strings.ReplaceAll(msgCols, ", ", ", m.") + `, snippet(chat_fts, 0, char(2), char(3), '…', 24)
			FROM chat_fts CROSS JOIN chat_messages AS m ON m.rid = chat_fts.rowid
			WHERE chat_fts MATCH ? AND chat_fts.rowid >= ? AND m.channel IN (SELECT value FROM json_each(?)) AND m.deleted = 0`)
		args = append(args, match, bound, jsonText(r.Channels))
	default:
		q.WriteString(`SELECT ` + msgCols + `, substr(text, 1, 200) FROM chat_messages AS m
			WHERE m.channel IN (SELECT value FROM json_each(?)) AND m.deleted = 0`)
		args = append(args, jsonText(r.Channels))
	}
	if r.Author != "" && !text {
		q.WriteString(` AND m.author = ?`)
		args = append(args, string(r.Author))
	}
	if !r.Before.IsZero() {
		q.WriteString(` AND m.created_at < ?`)
		args = append(args, us(r.Before))
	}
	if !r.After.IsZero() {
		q.WriteString(` AND m.created_at >= ?`)
		args = append(args, us(r.After))
	}
	if text {
		q.WriteString(` ORDER BY bm25(chat_fts, 1.0, 0.0), m.created_at DESC, m.channel, m.n`)
	} else {
		q.WriteString(` ORDER BY m.created_at DESC, m.channel, m.n`)
	}
	q.WriteString(` LIMIT ? OFFSET ?`)
	args = append(args, r.Limit+1, r.Offset)
	rows, err := s.db.R.QueryContext(ctx, q.String(), args...)
	if err != nil {
		return res, fmt.Errorf("sqlite: search: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var h chat.SearchHit
		m, err := scanMessage(rows, &h.Snippet)
		if err != nil {
			return res, err
		}
		h.Message = m
		res.Hits = append(res.Hits, h)
	}
	if err := rows.Err(); err != nil {
		return res, err
	}
	if len(res.Hits) > r.Limit {
		res.Hits, res.HasMore = res.Hits[:r.Limit], true
	}
	return res, nil
}
