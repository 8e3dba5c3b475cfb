package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/parleyhq/parley/internal/chat"
	"github.com/parleyhq/parley/internal/core"
	"github.com/parleyhq/parley/internal/errs"
)

const msgCols = `m.channel, m.n, m.seq, m.top, m.thread, m.author, m.text, m.mentions::text, m.attachments::text, m.created_at, m.edited_at,
	m.deleted, m.pinned_seq, m.replies, m.last_reply_at`

func scanMessage(r pgx.Row, extra ...any) (chat.Message, error) {
	var m chat.Message
	var n, top, thread, seq, pinned, replies int64
	var edited, lastReply *time.Time
	var mentions, atts string
	dest := append([]any{&m.Channel, &n, &seq, &top, &thread, &m.Author, &m.Text, &mentions, &atts, &m.CreatedAt, &edited, &m.Deleted, &pinned, &replies, &lastReply}, extra...)
	if err := r.Scan(dest...); err != nil {
		return m, err
	}
	m.ID, m.Seq, m.Top, m.Pinned, m.Replies = chat.MessageIDOf(uint32(n)), uint64(seq), uint32(top), pinned > 0, int(replies)
	m.CreatedAt = m.CreatedAt.UTC()
	if thread != 0 {
		m.Thread = chat.MessageIDOf(uint32(thread))
	}
	if edited != nil {
		t := edited.UTC()
		m.EditedAt = &t
	}
	if lastReply != nil && m.Replies > 0 {
		t := lastReply.UTC()
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
	rows, err := s.db.Pool.Query(ctx, q, args...)
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
	var thread int64
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
		thread, root = int64(q.Thread.Number()), &r
	}
	base := `SELECT ` + msgCols + ` FROM chat_messages AS m WHERE m.channel = $1 AND m.thread = $2 `
	older := func(before uint64, n int) ([]chat.Message, bool, error) {
		ms, err := s.messages(ctx, base+`AND m.seq < $3 ORDER BY m.seq DESC LIMIT $4`, string(ch), thread, int64(before), n+1)
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
		ms, err := s.messages(ctx, base+`AND m.seq > $3 ORDER BY m.seq LIMIT $4`, string(ch), thread, int64(after), n+1)
		if err != nil {
			return nil, false, err
		}
		more := len(ms) > n
		if more {
			ms = ms[:n]
		}
		return ms, more, nil
	}
	exists := func(cond string, seq uint64) (bool, error) {
		var ok bool
		err := s.db.Pool.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM chat_messages AS m WHERE m.channel = $1 AND m.thread = $2 AND `+cond+`)`,
			string(ch), thread, int64(seq)).Scan(&ok)
		return ok, err
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
		h.MoreBefore, err = exists(`m.seq <= $3`, q.After)
	case q.Before > 0:
		if h.Messages, h.MoreBefore, err = older(q.Before, limit); err != nil {
			return h, err
		}
		h.MoreAfter, err = exists(`m.seq >= $3`, q.Before)
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

// addReactions sets the reaction summaries of ms (all of one channel),
// replacing any they carried.
func (s *ChatStore) addReactions(ctx context.Context, ch chat.ChannelID, ms []chat.Message) error {
	if len(ms) == 0 {
		return nil
	}
	ns := make([]int64, len(ms))
	idx := map[int64]int{}
	for i := range ms {
		ns[i] = int64(ms[i].ID.Number())
		idx[ns[i]] = i
		ms[i].Reactions = nil // set here, from the table, whatever ms carried
	}
	rows, err := s.db.Pool.Query(ctx, `SELECT n, emoji, user_id FROM chat_reactions WHERE channel = $1 AND n = ANY($2)
		ORDER BY n, emoji COLLATE "C", seq`, string(ch), ns)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var n int64
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
	m, err := scanMessage(s.db.Pool.QueryRow(ctx, `SELECT `+msgCols+` FROM chat_messages AS m WHERE m.channel = $1 AND m.n = $2`, string(ch), int64(n)))
	if err != nil {
		return m, notFound(err, "no such message")
	}
	ms := []chat.Message{m}
	err = s.addReactions(ctx, ch, ms)
	return ms[0], err
}

// Edits implements chat.HistoryStore.
func (s *ChatStore) Edits(ctx context.Context, ch chat.ChannelID, id chat.MessageID) ([]chat.Edit, error) {
	rows, err := s.db.Pool.Query(ctx, `SELECT seq, text, until FROM chat_edits WHERE channel = $1 AND n = $2 ORDER BY seq`, string(ch), int64(id.Number()))
	if err != nil {
		return nil, err
	}
	out := []chat.Edit{}
	for rows.Next() {
		var e chat.Edit
		var seq int64
		if err := rows.Scan(&seq, &e.Text, &e.Until); err != nil {
			rows.Close()
			return nil, err
		}
		e.Replaced, e.Until = uint64(seq), e.Until.UTC()
		out = append(out, e)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
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
	return out, nil
}

// Reactions implements chat.HistoryStore.
func (s *ChatStore) Reactions(ctx context.Context, ch chat.ChannelID, id chat.MessageID) ([]chat.ReactionCount, error) {
	rows, err := s.db.Pool.Query(ctx, `SELECT emoji, user_id FROM chat_reactions WHERE channel = $1 AND n = $2 ORDER BY emoji COLLATE "C", seq`,
		string(ch), int64(id.Number()))
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
	ms, err := s.messages(ctx, `SELECT `+msgCols+` FROM chat_messages AS m WHERE m.channel = $1 AND m.pinned_seq > 0 ORDER BY m.pinned_seq DESC`, string(ch))
	if err != nil {
		return nil, err
	}
	return ms, s.addReactions(ctx, ch, ms)
}

func scanMembers(rows pgx.Rows) ([]chat.MemberRow, error) {
	defer rows.Close()
	out := []chat.MemberRow{}
	for rows.Next() {
		var m chat.MemberRow
		if err := rows.Scan(&m.User, &m.Role, &m.Profile.Handle, &m.Profile.DisplayName, &m.Profile.AvatarURL, &m.Bot, &m.Guest, &m.JoinedAt); err != nil {
			return nil, err
		}
		m.JoinedAt = m.JoinedAt.UTC()
		out = append(out, m)
	}
	return out, rows.Err()
}

// Members implements chat.DirectoryStore.
func (s *ChatStore) Members(ctx context.Context, ws chat.WorkspaceID, after string, limit int) ([]chat.MemberRow, error) {
	rows, err := s.db.Pool.Query(ctx, `SELECT user_id, role, handle, display_name, avatar_url, bot, role = 'guest', joined_at
		FROM chat_members WHERE workspace = $1 AND handle COLLATE "C" > $2 ORDER BY handle COLLATE "C", user_id LIMIT $3`, string(ws), after, limit)
	if err != nil {
		return nil, err
	}
	return scanMembers(rows)
}

// ChannelMembers implements chat.DirectoryStore.
func (s *ChatStore) ChannelMembers(ctx context.Context, ch chat.ChannelID, after string, limit int) ([]chat.MemberRow, error) {
	rows, err := s.db.Pool.Query(ctx, `SELECT cm.user_id, m.role, m.handle, m.display_name, m.avatar_url, m.bot, cm.guest, cm.joined_at
		FROM chat_channel_members AS cm
		JOIN chat_channels AS c ON c.id = cm.channel
		JOIN chat_members AS m ON m.workspace = c.workspace AND m.user_id = cm.user_id
		WHERE cm.channel = $1 AND m.handle COLLATE "C" > $2 ORDER BY m.handle COLLATE "C", m.user_id LIMIT $3`, string(ch), after, limit)
	if err != nil {
		return nil, err
	}
	return scanMembers(rows)
}

// Mentions implements chat.DirectoryStore.
func (s *ChatStore) Mentions(ctx context.Context, user core.UserID, p chat.MentionPage) ([]chat.MentionRow, error) {
	at, ch, seq := p.BeforeAt, string(p.BeforeCh), int64(p.BeforeSeq)
	if at.IsZero() {
		at, ch, seq = time.Unix(1<<36, 0), "\U0010FFFF", 1<<62
	}
	rows, err := s.db.Pool.Query(ctx, `SELECT mn.workspace, mn.channel, mn.n, mn.seq, mn.thread, mn.author, mn.kind, mn.at, m.text, m.deleted
		FROM chat_mentions AS mn JOIN chat_messages AS m ON m.channel = mn.channel AND m.n = mn.n
		WHERE mn.user_id = $1 AND ($5 = '' OR mn.workspace = $5)
		  AND (mn.at < $2 OR (mn.at = $2 AND (mn.channel COLLATE "C" < $3 OR (mn.channel = $3 AND mn.seq < $4))))
		ORDER BY mn.at DESC, mn.channel COLLATE "C" DESC, mn.seq DESC LIMIT $6`, string(user), at, ch, seq, string(p.Workspace), p.Limit)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []chat.MentionRow{}
	for rows.Next() {
		var r chat.MentionRow
		var n, thread, seq int64
		if err := rows.Scan(&r.Workspace, &r.Channel, &n, &seq, &thread, &r.By, &r.Kind, &r.At, &r.Text, &r.Deleted); err != nil {
			return nil, err
		}
		r.ID, r.Seq, r.At = chat.MessageIDOf(uint32(n)), uint64(seq), r.At.UTC()
		if thread != 0 {
			r.Thread = chat.MessageIDOf(uint32(thread))
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

// MarkerAt implements chat.DirectoryStore.
func (s *ChatStore) MarkerAt(ctx context.Context, ch chat.ChannelID, seq uint64) (chat.Marker, error) {
	var top int64
	err := s.db.Pool.QueryRow(ctx, `SELECT top FROM chat_messages WHERE channel = $1 AND thread = 0 AND seq <= $2 ORDER BY seq DESC LIMIT 1`,
		string(ch), int64(seq)).Scan(&top)
	if err != nil && !errors.Is(err, pgx.ErrNoRows) {
		return chat.Marker{}, err
	}
	return chat.Marker{Seq: seq, Top: uint32(top)}, nil
}

// tsQuery builds a to_tsquery expression: every term and phrase required;
// terms are letters and digits only, so they need no quoting.
func tsQuery(terms []string, phrases [][]string) string {
	var parts []string
	parts = append(parts, terms...)
	for _, p := range phrases {
		parts = append(parts, "("+strings.Join(p, " <-> ")+")")
	}
	return strings.Join(parts, " & ")
}

// headlineOptions mark matches with chat.HighlightStart and
// chat.HighlightEnd.
var headlineOptions = fmt.Sprintf("StartSel=%s, StopSel=%s, MaxWords=30, MinWords=12, ShortWord=2, MaxFragments=2, FragmentDelimiter=\" … \"",
	chat.HighlightStart, chat.HighlightEnd)

// defaultRankWindow is how many of a query's most recent matches are
// ranked first; see Search.
const defaultRankWindow = 5000

// SetRankWindow sets how many recent matches a search ranks first (see
// Search); 0 restores the default. It is for tuning and tests.
func (s *ChatStore) SetRankWindow(n int) { s.rankWindow = n }

// Search implements chat.Searcher with the tsvector column and its GIN
// index: ts_rank_cd, then newest first. Headlines are made for the page's
// rows only.
//
// Ranking every match of a very common word costs time in proportion to
// the matches, so Search ranks the query's 5,000 most recent matches in
// scope (PostgreSQL walks the created_at index for common words and the GIN
// index for rare ones), and widens the window eightfold while the page
// does not fill: results are the best of the recent matches, and a
// search's cost is bounded by the window instead of the corpus.
func (s *ChatStore) Search(ctx context.Context, r chat.SearchRequest) (chat.SearchResult, error) {
	res := chat.SearchResult{Hits: []chat.SearchHit{}}
	if len(r.Channels) == 0 {
		return res, nil
	}
	window := s.rankWindow
	if window <= 0 {
		window = defaultRankWindow
	}
	window = max(window, r.Offset+r.Limit+1)
	for ; ; window *= 8 {
		res, full, err := s.search(ctx, r, window)
		if err != nil || res.HasMore || !full || window > 1<<24 {
			return res, err
		}
	}
}

// search runs one ranked query over at most window recent matches and
// reports whether the window was full (more matches may exist).
func (s *ChatStore) search(ctx context.Context, r chat.SearchRequest, window int) (chat.SearchResult, bool, error) {
	res := chat.SearchResult{Hits: []chat.SearchHit{}}
	chs := make([]string, len(r.Channels))
	for i, c := range r.Channels {
		chs[i] = string(c)
	}
	text := len(r.Terms) > 0 || len(r.Phrases) > 0
	args := []any{chs, string(r.Author), nullTime(r.Before), nullTime(r.After), r.Limit + 1, r.Offset}
	filters := `m.channel = ANY($1) AND NOT m.deleted AND ($2 = '' OR m.author = $2)
		AND ($3::timestamptz IS NULL OR m.created_at < $3) AND ($4::timestamptz IS NULL OR m.created_at >= $4)`
	var q string
	if text {
		// The query is a literal of each statement (no CTE), and the
		// statement is planned with its parameters' values (exec mode, no
		// cached generic plan), so the planner sees how common the words
		// are and walks the created_at index for common ones, the GIN
		// index for rare ones.
		args = append(args, tsQuery(r.Terms, r.Phrases), headlineOptions, window)
		q = `WITH cand AS (SELECT m.channel, m.n, m.tsv, m.created_at FROM chat_messages AS m
				WHERE m.tsv @@ to_tsquery('english', $7) AND ` + filters + ` ORDER BY m.created_at DESC LIMIT $9),
			hits AS (SELECT channel, n, created_at, ts_rank_cd(tsv, to_tsquery('english', $7)) AS rank, count(*) OVER () AS total FROM cand
				ORDER BY rank DESC, created_at DESC, channel COLLATE "C", n LIMIT $5 OFFSET $6)
			SELECT ` + msgCols + `, ts_headline('english', m.text, to_tsquery('english', $7), $8), hits.total
			FROM hits JOIN chat_messages AS m USING (channel, n)
			ORDER BY hits.rank DESC, m.created_at DESC, m.channel COLLATE "C", m.n`
	} else {
		q = `SELECT ` + msgCols + `, left(m.text, 200), 0::bigint FROM chat_messages AS m WHERE ` + filters + `
			ORDER BY m.created_at DESC, m.channel COLLATE "C", m.n LIMIT $5 OFFSET $6`
	}
	args = append([]any{pgx.QueryExecModeExec}, args...)
	rows, err := s.db.Pool.Query(ctx, q, args...)
	if err != nil {
		return res, false, fmt.Errorf("postgres: search: %w", err)
	}
	defer rows.Close()
	var total int64
	for rows.Next() {
		var h chat.SearchHit
		m, err := scanMessage(rows, &h.Snippet, &total)
		if err != nil {
			return res, false, err
		}
		h.Message = m
		res.Hits = append(res.Hits, h)
	}
	if err := rows.Err(); err != nil {
		return res, false, err
	}
	if len(res.Hits) > r.Limit {
		res.Hits, res.HasMore = res.Hits[:r.Limit], true
	}
	return res, text && total >= int64(window), nil
}

func nullTime(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}
