package app

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/parleyhq/parley/internal/chat"
	"github.com/parleyhq/parley/internal/core"
	"github.com/parleyhq/parley/internal/errs"
	"github.com/parleyhq/parley/internal/httpapi"
	"github.com/parleyhq/parley/internal/presence"
)

// The queries of the chat domain, shared by the protocol methods and the
// HTTP API. Every one checks access in the View first.

var (
	_ httpapi.ChatSession   = (*chatNode)(nil)
	_ httpapi.ChatTimeline  = (*chatNode)(nil)
	_ httpapi.ChatDirectory = (*chatNode)(nil)
	_ httpapi.ChatFiles     = (*chatNode)(nil)
)

// limit clamps a page size to [1, chat.history_max], 50 by default.
func (n *chatNode) limit(l int) int {
	switch {
	case l <= 0:
		return 50
	case l > n.cfg.HistoryMax:
		return n.cfg.HistoryMax
	}
	return l
}

// presenceOf returns user's presence from memory: offline users get no
// last-seen time here (presence.get has it), so that boot never waits on
// storage.
func (n *chatNode) presenceOf(ctx context.Context, user core.UserID) presence.Presence {
	if len(n.m.dir.Nodes(user)) == 0 {
		return presence.Presence{User: user, Status: presence.Offline}
	}
	return n.m.dir.Get(ctx, user)
}

// Boot implements the HTTP chat queries: the cached slim payload plus the
// presence of the DM partners it lists.
func (n *chatNode) Boot(ctx context.Context, user core.UserID, ws chat.WorkspaceID) (json.RawMessage, error) {
	raw, partners, err := n.view.BootJSON(user, ws, n.cfg.BootDMs)
	if err != nil {
		return nil, err
	}
	n.metrics.boots.Inc()
	pres := make([]presence.Presence, 0, len(partners))
	for _, p := range partners {
		pres = append(pres, n.presenceOf(ctx, p))
	}
	pj, _ := json.Marshal(pres)
	out := make([]byte, 0, len(raw)+len(pj)+16)
	out = append(out, raw[:len(raw)-1]...)
	out = append(out, `,"presence":`...)
	out = append(out, pj...)
	return append(out, '}'), nil
}

// Sync implements the HTTP chat queries.
func (n *chatNode) Sync(_ context.Context, user core.UserID, cursor string) (chat.Sync, error) {
	cur, err := chat.ParseCursor(cursor)
	if err != nil {
		return chat.Sync{}, err
	}
	return n.view.Sync(user, cur, 100), nil
}

// ChannelView is a channel as its reader sees it.
type ChannelView struct {
	chat.ChannelInfo
	Member bool         `json:"member"`
	Counts *chat.Counts `json:"counts,omitempty"`
}

// Channel implements the HTTP chat queries.
func (n *chatNode) Channel(_ context.Context, user core.UserID, ch chat.ChannelID) (any, error) {
	a, err := n.view.Access(user, ch)
	if err != nil {
		return nil, err
	}
	out := ChannelView{ChannelInfo: a.Channel, Member: a.Member}
	if c, ok := n.view.Counts(user, ch); ok {
		out.Counts = &c
	}
	return out, nil
}

// History implements the HTTP chat queries. With minSeq it first waits for
// the read models to hold the channel up to that sequence.
func (n *chatNode) History(ctx context.Context, user core.UserID, ch chat.ChannelID, q chat.HistoryQuery, minSeq uint64) (chat.History, error) {
	if _, err := n.view.Access(user, ch); err != nil {
		return chat.History{}, err
	}
	if n := btoi(q.Before > 0) + btoi(q.After > 0) + btoi(q.Around != ""); n > 1 {
		return chat.History{}, errs.E(errs.InvalidArgument, "give at most one of before, after and around")
	}
	if err := n.feed.projected(ctx, ch.Stream(), minSeq); err != nil {
		return chat.History{}, err
	}
	q.Limit = n.limit(q.Limit)
	return n.store.History(ctx, ch, q)
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}

// Message implements the HTTP chat queries: one message, its edits or its
// reactions (what is "message", "edits" or "reactions").
func (n *chatNode) Message(ctx context.Context, user core.UserID, ch chat.ChannelID, id chat.MessageID, what string) (any, error) {
	if _, err := n.view.Access(user, ch); err != nil {
		return nil, err
	}
	switch what {
	case "edits":
		edits, err := n.store.Edits(ctx, ch, id)
		return map[string]any{"edits": edits}, err
	case "reactions":
		rs, err := n.store.Reactions(ctx, ch, id)
		return map[string]any{"reactions": rs}, err
	}
	return n.store.Message(ctx, ch, id)
}

// Pins implements the HTTP chat queries.
func (n *chatNode) Pins(ctx context.Context, user core.UserID, ch chat.ChannelID) ([]chat.Message, error) {
	if _, err := n.view.Access(user, ch); err != nil {
		return nil, err
	}
	return n.store.Pins(ctx, ch)
}

// Members implements the HTTP chat queries: a page of a workspace's members
// (ch empty) or a channel's, by handle.
func (n *chatNode) Members(ctx context.Context, user core.UserID, ws chat.WorkspaceID, ch chat.ChannelID, after string, limit int) ([]chat.MemberRow, error) {
	limit = n.limit(limit)
	if ch != "" {
		if _, err := n.view.Access(user, ch); err != nil {
			return nil, err
		}
		return n.store.ChannelMembers(ctx, ch, after, limit)
	}
	role, ok := n.view.Role(ws, user)
	if !ok {
		return nil, errs.E(errs.NotFound, "no such workspace")
	}
	if role == chat.RoleGuest {
		return nil, errs.E(errs.Forbidden, "guests see the members of their channels only")
	}
	return n.store.Members(ctx, ws, after, limit)
}

// Channels implements the HTTP chat queries: the public channels of a
// workspace (the directory), by name.
func (n *chatNode) Channels(_ context.Context, user core.UserID, ws chat.WorkspaceID, after string, limit int) ([]chat.ChannelInfo, error) {
	role, ok := n.view.Role(ws, user)
	if !ok {
		return nil, errs.E(errs.NotFound, "no such workspace")
	}
	if role == chat.RoleGuest {
		return nil, errs.E(errs.Forbidden, "guests see only their channels")
	}
	out := n.view.PublicChannels(ws, after, n.limit(limit))
	if out == nil {
		out = []chat.ChannelInfo{}
	}
	return out, nil
}

// Profiles implements the HTTP chat queries: the profiles of users in a
// workspace the caller belongs to (guests: of people in their channels).
func (n *chatNode) Profiles(_ context.Context, user core.UserID, ws chat.WorkspaceID, users []core.UserID) (map[core.UserID]chat.Suggestion, error) {
	role, ok := n.view.Role(ws, user)
	if !ok {
		return nil, errs.E(errs.NotFound, "no such workspace")
	}
	if len(users) == 0 || len(users) > 500 {
		return nil, errs.E(errs.InvalidArgument, "ask for 1-500 users")
	}
	out := n.view.Profiles(ws, users)
	if role == chat.RoleGuest {
		seen := map[core.UserID]bool{user: true}
		for _, ch := range n.view.UserChannels(user, ws) {
			for _, u := range n.view.ChannelMembers(ch) {
				seen[u] = true
			}
		}
		for u := range out {
			if !seen[u] {
				delete(out, u)
			}
		}
	}
	return out, nil
}

// Autocomplete implements the HTTP chat queries.
func (n *chatNode) Autocomplete(_ context.Context, user core.UserID, ws chat.WorkspaceID, ch chat.ChannelID, prefix string, limit int) ([]chat.Suggestion, error) {
	if limit <= 0 || limit > 50 {
		limit = 10
	}
	if len(prefix) > 64 {
		return nil, errs.E(errs.InvalidArgument, "a prefix has at most 64 bytes")
	}
	out, err := n.view.Autocomplete(user, ws, ch, prefix, limit)
	if out == nil && err == nil {
		out = []chat.Suggestion{}
	}
	return out, err
}

// MentionsPage is a page of the mentions inbox and the cursor of the next.
type MentionsPage struct {
	Mentions []chat.MentionRow `json:"mentions"`
	Next     string            `json:"next,omitempty"`
}

// Mentions implements the HTTP chat queries: the caller's mentions inbox,
// newest first, only in channels they may still read.
func (n *chatNode) Mentions(ctx context.Context, user core.UserID, ws chat.WorkspaceID, before string, limit int) (any, error) {
	p := chat.MentionPage{Workspace: ws, Limit: n.limit(limit)}
	if before != "" {
		at, rest, ok1 := strings.Cut(before, ".")
		ch, seq, ok2 := strings.Cut(rest, ".")
		us, err1 := strconv.ParseInt(at, 10, 64)
		sq, err2 := strconv.ParseUint(seq, 10, 64)
		if !ok1 || !ok2 || err1 != nil || err2 != nil {
			return nil, errs.E(errs.InvalidArgument, "malformed before cursor")
		}
		p.BeforeAt, p.BeforeCh, p.BeforeSeq = time.UnixMicro(us).UTC(), chat.ChannelID(ch), sq
	}
	rows, err := n.store.Mentions(ctx, user, p)
	if err != nil {
		return nil, err
	}
	out := MentionsPage{Mentions: []chat.MentionRow{}}
	for _, r := range rows {
		if _, err := n.view.Access(user, r.Channel); err == nil {
			out.Mentions = append(out.Mentions, r)
		}
	}
	if len(rows) == p.Limit {
		last := rows[len(rows)-1]
		out.Next = fmt.Sprintf("%d.%s.%d", last.At.UnixMicro(), last.Channel, last.Seq)
	}
	return out, nil
}

// Search implements the HTTP chat queries: full text over the messages of
// the workspace the caller may read (their channels, and public channels
// unless a guest), with in:, from:, before: and after: filters.
func (n *chatNode) Search(ctx context.Context, user core.UserID, ws chat.WorkspaceID, query string, limit, offset int) (chat.SearchResult, error) {
	q, err := chat.ParseSearch(query)
	if err != nil {
		return chat.SearchResult{}, err
	}
	if offset < 0 || offset > 10*n.cfg.HistoryMax {
		return chat.SearchResult{}, errs.E(errs.InvalidArgument, "offset must be 0-%d", 10*n.cfg.HistoryMax)
	}
	scope, err := n.view.SearchScope(user, ws)
	if err != nil {
		return chat.SearchResult{}, err
	}
	req := chat.SearchRequest{Channels: scope, Terms: q.Terms, Phrases: q.Phrases, Before: q.Before, After: q.After, Limit: n.limit(limit), Offset: offset}
	if q.In != "" {
		ch, ok := n.view.ChannelByName(user, ws, q.In)
		if !ok {
			return chat.SearchResult{Hits: []chat.SearchHit{}}, nil
		}
		req.Channels = []chat.ChannelID{ch}
	}
	if q.From != "" {
		found := n.view.ByHandle(ws, []string{q.From})
		if len(found) == 0 {
			return chat.SearchResult{Hits: []chat.SearchHit{}}, nil
		}
		for u := range found {
			req.Author = u
		}
	}
	return n.store.Search(ctx, req)
}

// Upload implements httpapi.ChatFiles: it stores a file for a channel the
// caller is a member of, sniffing its content type from its bytes (the
// client's claim is ignored).
func (n *chatNode) Upload(ctx context.Context, user core.UserID, ch chat.ChannelID, name string, body io.Reader) (chat.Upload, error) {
	a, err := n.view.Access(user, ch)
	if err != nil {
		return chat.Upload{}, err
	}
	if !a.Member {
		return chat.Upload{}, errs.E(errs.Forbidden, "join the channel to share files in it")
	}
	name = strings.TrimSpace(name)
	if name == "" || len(name) > 255 || !utf8.ValidString(name) || strings.ContainsAny(name, "/\\\x00\r\n\"") {
		return chat.Upload{}, errs.E(errs.InvalidArgument, "a file name has 1-255 bytes without / \\ \" or control characters")
	}
	id := core.NewID("f")
	info, err := n.blobs.Put(ctx, id, body, n.cfg.MaxUploadBytes)
	if err != nil {
		return chat.Upload{}, err
	}
	up := chat.Upload{ID: id, Workspace: a.Channel.Workspace, Channel: ch, User: user, Name: name, Size: info.Size,
		ContentType: http.DetectContentType(info.Head), SHA256: info.SHA256, CreatedAt: chat.TimeOf(n.m.Clock.Now())}
	if err := n.store.CreateUpload(ctx, up); err != nil {
		_ = n.blobs.Delete(ctx, id)
		return chat.Upload{}, err
	}
	return up, nil
}

// Download implements httpapi.ChatFiles: the file and its metadata, to
// members (and, for public channels, readers) of its channel only.
func (n *chatNode) Download(ctx context.Context, user core.UserID, id string) (chat.Upload, *os.File, error) {
	up, err := n.store.Upload(ctx, id)
	if err != nil {
		return up, nil, err
	}
	if _, err := n.view.Access(user, up.Channel); err != nil {
		return chat.Upload{}, nil, errs.E(errs.NotFound, "no such upload")
	}
	f, err := n.blobs.Open(ctx, id)
	return up, f, err
}

// attachments resolves upload ids for a post: each must be an upload of
// the caller to this channel.
func (n *chatNode) attachments(ctx context.Context, user core.UserID, ch chat.ChannelID, ids []string) ([]chat.Attachment, error) {
	if len(ids) > n.cfg.MaxAttachments {
		return nil, errs.E(errs.LimitExceeded, "at most %d attachments per message", n.cfg.MaxAttachments)
	}
	var out []chat.Attachment
	for _, id := range ids {
		up, err := n.store.Upload(ctx, id)
		if err != nil || up.Channel != ch || up.User != user {
			return nil, errs.E(errs.NotFound, "no upload %q of yours in this channel", id)
		}
		out = append(out, chat.Attachment{ID: up.ID, Name: up.Name, Size: up.Size, ContentType: up.ContentType})
	}
	return out, nil
}
