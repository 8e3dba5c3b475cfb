package app

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"strings"
	"time"

	"github.com/parleyhq/parley/internal/actor"
	"github.com/parleyhq/parley/internal/chat"
	"github.com/parleyhq/parley/internal/core"
	"github.com/parleyhq/parley/internal/errs"
	"github.com/parleyhq/parley/internal/gateway"
	"github.com/parleyhq/parley/internal/presence"
)

// chatMethod decodes its params into P and runs fn.
func chatMethod[P any](fn func(ctx context.Context, c gateway.Caller, p *P) (any, error)) gateway.Handler {
	return func(ctx context.Context, c gateway.Caller, params json.RawMessage) (any, error) {
		var p P
		if len(params) == 0 {
			params = []byte("{}")
		}
		if err := gateway.DecodeParams(params, &p); err != nil {
			return nil, err
		}
		return fn(ctx, c, &p)
	}
}

// Params of the chat protocol methods (see docs/protocol.md).
type (
	wsParams struct {
		Workspace chat.WorkspaceID `json:"workspace"`
		Name      string           `json:"name"`
		Code      string           `json:"code"`
		User      core.UserID      `json:"user"`
		Role      chat.Role        `json:"role"`
		Key       string           `json:"key"`
	}
	inviteParams struct {
		Workspace  chat.WorkspaceID `json:"workspace"`
		Invite     string           `json:"invite"`
		Role       chat.Role        `json:"role"`
		Email      string           `json:"email"`
		MaxUses    int              `json:"max_uses"`
		TTLSeconds int64            `json:"ttl_seconds"`
		Channels   []chat.ChannelID `json:"channels"`
	}
	channelParams struct {
		Workspace chat.WorkspaceID `json:"workspace"`
		Channel   chat.ChannelID   `json:"channel"`
		Name      string           `json:"name"`
		Private   bool             `json:"private"`
		Topic     *string          `json:"topic"`
		Purpose   *string          `json:"purpose"`
		Users     []core.UserID    `json:"users"`
		User      core.UserID      `json:"user"`
	}
	messageParams struct {
		Channel     chat.ChannelID `json:"channel"`
		ID          chat.MessageID `json:"id"`
		Thread      chat.MessageID `json:"thread"`
		Text        string         `json:"text"`
		Emoji       string         `json:"emoji"`
		Attachments []string       `json:"attachments"`
		Key         string         `json:"key"`
	}
	queryParams struct {
		Workspace chat.WorkspaceID `json:"workspace"`
		Channel   chat.ChannelID   `json:"channel"`
		Cursor    string           `json:"cursor"`
		Prefix    string           `json:"prefix"`
		Query     string           `json:"query"`
		Users     []core.UserID    `json:"users"`
		After     string           `json:"after"`
		Before    string           `json:"before"`
		Limit     int              `json:"limit"`
		Offset    int              `json:"offset"`
	}
	historyParams struct {
		Channel chat.ChannelID `json:"channel"`
		Before  uint64         `json:"before"`
		After   uint64         `json:"after"`
		Around  chat.MessageID `json:"around"`
		Thread  chat.MessageID `json:"thread"`
		Limit   int            `json:"limit"`
		MinSeq  uint64         `json:"min_seq"`
	}
)

func (n *chatNode) registerMethods() {
	gw := n.m.gw
	gw.Handle("chat.workspace.create", chatMethod(n.workspaceCreate))
	gw.Handle("chat.workspace.rename", chatMethod(n.workspaceRename))
	gw.Handle("chat.workspace.join", chatMethod(n.workspaceJoin))
	gw.Handle("chat.workspace.leave", chatMethod(n.workspaceLeave))
	gw.Handle("chat.invite.create", chatMethod(n.inviteCreate))
	gw.Handle("chat.invite.revoke", chatMethod(n.inviteRevoke))
	gw.Handle("chat.member.add", chatMethod(n.memberAdd))
	gw.Handle("chat.member.remove", chatMethod(n.memberRemove))
	gw.Handle("chat.member.role", chatMethod(n.memberRole))
	gw.Handle("chat.channel.create", chatMethod(n.channelCreate))
	gw.Handle("chat.channel.rename", chatMethod(n.channelRename))
	gw.Handle("chat.channel.update", chatMethod(n.channelUpdate))
	for _, name := range []string{chat.CmdChannelArchive, chat.CmdChannelUnarchive, chat.CmdChannelJoin, chat.CmdChannelLeave} {
		gw.Handle("chat.channel."+name, chatMethod(n.channelSimple(name)))
	}
	gw.Handle("chat.channel.invite", chatMethod(n.channelInvite))
	gw.Handle("chat.channel.remove", chatMethod(n.channelRemove))
	gw.Handle("chat.dm.open", chatMethod(n.dmOpen))
	gw.Handle("chat.post", chatMethod(n.post))
	gw.Handle("chat.edit", chatMethod(n.edit))
	for method, cmd := range map[string]string{
		"chat.delete": chat.CmdDelete, "chat.react": chat.CmdReact, "chat.unreact": chat.CmdUnreact,
		"chat.pin": chat.CmdPin, "chat.unpin": chat.CmdUnpin,
		"chat.thread.follow": chat.CmdFollow, "chat.thread.unfollow": chat.CmdUnfollow,
	} {
		gw.Handle(method, chatMethod(n.onMessage(cmd)))
	}
	gw.Handle("chat.typing", chatMethod(n.typingMethod))
	gw.Handle("chat.mark_read", chatMethod(n.markRead(false)))
	gw.Handle("chat.mark_unread", chatMethod(n.markRead(true)))
	gw.Handle("chat.boot", chatMethod(func(ctx context.Context, c gateway.Caller, p *queryParams) (any, error) {
		return n.Boot(ctx, c.User, p.Workspace)
	}))
	gw.Handle("chat.sync", chatMethod(func(ctx context.Context, c gateway.Caller, p *queryParams) (any, error) {
		return n.Sync(ctx, c.User, p.Cursor)
	}))
	gw.Handle("chat.autocomplete", chatMethod(func(ctx context.Context, c gateway.Caller, p *queryParams) (any, error) {
		s, err := n.Autocomplete(ctx, c.User, p.Workspace, p.Channel, p.Prefix, p.Limit)
		return map[string]any{"users": s}, err
	}))
	gw.Handle("chat.profiles", chatMethod(func(ctx context.Context, c gateway.Caller, p *queryParams) (any, error) {
		s, err := n.Profiles(ctx, c.User, p.Workspace, p.Users)
		return map[string]any{"users": s}, err
	}))
	gw.Handle("chat.members", chatMethod(func(ctx context.Context, c gateway.Caller, p *queryParams) (any, error) {
		ms, err := n.Members(ctx, c.User, p.Workspace, p.Channel, p.After, p.Limit)
		return map[string]any{"members": ms}, err
	}))
	gw.Handle("chat.channels", chatMethod(func(ctx context.Context, c gateway.Caller, p *queryParams) (any, error) {
		cs, err := n.Channels(ctx, c.User, p.Workspace, p.After, p.Limit)
		return map[string]any{"channels": cs}, err
	}))
	gw.Handle("chat.search", chatMethod(func(ctx context.Context, c gateway.Caller, p *queryParams) (any, error) {
		return n.Search(ctx, c.User, p.Workspace, p.Query, p.Limit, p.Offset)
	}))
	gw.Handle("chat.mentions", chatMethod(func(ctx context.Context, c gateway.Caller, p *queryParams) (any, error) {
		return n.Mentions(ctx, c.User, p.Workspace, p.Before, p.Limit)
	}))
	gw.Handle("chat.history", chatMethod(func(ctx context.Context, c gateway.Caller, p *historyParams) (any, error) {
		return n.History(ctx, c.User, p.Channel, chat.HistoryQuery{Before: p.Before, After: p.After, Around: p.Around, Thread: p.Thread, Limit: p.Limit}, p.MinSeq)
	}))
}

// GeneralChannel is the id of a workspace's #general channel, which every
// member (not guests) joins.
func GeneralChannel(ws chat.WorkspaceID) chat.ChannelID {
	return chat.ChannelID("c_" + strings.TrimPrefix(string(ws), "w_") + "-general")
}

// profile returns user's chat profile from their account.
func (n *chatNode) profile(ctx context.Context, user core.UserID) (chat.Profile, string, error) {
	u, err := n.m.auth.User(ctx, user)
	if err != nil {
		return chat.Profile{}, "", err
	}
	return chat.Profile{Handle: u.Handle, DisplayName: u.DisplayName, AvatarURL: u.AvatarURL}, u.Email, nil
}

// member checks that user is a member of ws and returns their role.
func (n *chatNode) member(ws chat.WorkspaceID, user core.UserID) (chat.Role, error) {
	if !ws.Valid() {
		return "", errs.E(errs.InvalidArgument, "bad workspace id")
	}
	role, ok := n.view.Role(ws, user)
	if !ok {
		return "", errs.E(errs.NotFound, "no such workspace")
	}
	return role, nil
}

func (n *chatNode) workspaceCreate(ctx context.Context, c gateway.Caller, p *wsParams) (any, error) {
	prof, _, err := n.profile(ctx, c.User)
	if err != nil {
		return nil, err
	}
	ws := chat.NewWorkspaceID()
	if _, err := n.do(ctx, ws.Stream(), chat.CmdWorkspaceCreate, c.User, chat.CreateWorkspace{Name: p.Name, Profile: prof}, ""); err != nil {
		return nil, err
	}
	gen := GeneralChannel(ws)
	if err := n.createChannel(ctx, c.User, ws, gen, "general", false, nil, nil, nil); err != nil {
		return nil, err
	}
	name, _ := n.view.WorkspaceName(ws)
	return map[string]any{"workspace": map[string]any{"id": ws, "name": name}, "general": gen}, nil
}

func (n *chatNode) workspaceRename(ctx context.Context, c gateway.Caller, p *wsParams) (any, error) {
	if _, err := n.member(p.Workspace, c.User); err != nil {
		return nil, err
	}
	_, err := n.do(ctx, p.Workspace.Stream(), chat.CmdWorkspaceRename, c.User, chat.CreateWorkspace{Name: p.Name}, "")
	return struct{}{}, err
}

// inviteCode makes an invite's secret code ("<workspace>.<secret>") and
// the hash the workspace keeps.
func inviteCode(ws chat.WorkspaceID) (code, hash string) {
	b := make([]byte, 18)
	_, _ = rand.Read(b)
	secret := base64.RawURLEncoding.EncodeToString(b)
	return string(ws) + "." + secret, hashSecret(secret)
}

func hashSecret(secret string) string {
	h := sha256.Sum256([]byte(secret))
	return hex.EncodeToString(h[:])
}

func (n *chatNode) inviteCreate(ctx context.Context, c gateway.Caller, p *inviteParams) (any, error) {
	if _, err := n.member(p.Workspace, c.User); err != nil {
		return nil, err
	}
	if p.Role == "" {
		p.Role = chat.RoleMember
	}
	if p.MaxUses == 0 {
		p.MaxUses = 1
		if p.Email == "" {
			p.MaxUses = 100
		}
	}
	ttl := n.cfg.InviteTTL
	if p.TTLSeconds > 0 {
		ttl = time.Duration(p.TTLSeconds) * time.Second
	}
	if p.Email != "" && (!strings.Contains(p.Email, "@") || len(p.Email) > 254) {
		return nil, errs.E(errs.InvalidArgument, "bad e-mail address")
	}
	code, hash := inviteCode(p.Workspace)
	inv := core.NewID("i")
	expires := n.m.Clock.Now().UTC().Add(ttl).Truncate(time.Second)
	_, err := n.do(ctx, p.Workspace.Stream(), chat.CmdInviteCreate, c.User, chat.CreateInvite{
		Invite: inv, Hash: hash, Role: p.Role, Email: p.Email, ExpiresAt: expires, MaxUses: p.MaxUses, Channels: p.Channels}, "")
	if err != nil {
		return nil, err
	}
	link := strings.TrimRight(n.m.URL(), "/") + "/join/" + code
	if p.Email != "" {
		name, _ := n.view.WorkspaceName(p.Workspace)
		msg := invitationMessage(p.Email, name, code, link)
		if err := n.sender.Send(ctx, msg); err != nil {
			n.log.Warn("invite e-mail not sent", "invite", inv, "err", err)
		}
	}
	return map[string]any{"invite": inv, "code": code, "link": link, "expires_at": expires}, nil
}

func (n *chatNode) inviteRevoke(ctx context.Context, c gateway.Caller, p *inviteParams) (any, error) {
	if _, err := n.member(p.Workspace, c.User); err != nil {
		return nil, err
	}
	_, err := n.do(ctx, p.Workspace.Stream(), chat.CmdInviteRevoke, c.User, chat.InviteRef{Invite: p.Invite}, "")
	return struct{}{}, err
}

func (n *chatNode) workspaceJoin(ctx context.Context, c gateway.Caller, p *wsParams) (any, error) {
	wsID, secret, ok := strings.Cut(strings.TrimSpace(p.Code), ".")
	ws := chat.WorkspaceID(wsID)
	if !ok || !ws.Valid() || secret == "" {
		return nil, errs.E(errs.NotFound, "the invite is unknown, used up, revoked or expired")
	}
	prof, email, err := n.profile(ctx, c.User)
	if err != nil {
		return nil, err
	}
	res, err := n.do(ctx, ws.Stream(), chat.CmdWorkspaceJoin, c.User, chat.JoinWorkspace{Hash: hashSecret(secret), Email: email, Profile: prof}, "")
	if err != nil {
		return nil, err
	}
	if len(res.Events) > 0 {
		var joined chat.MemberJoined
		_ = json.Unmarshal(res.Events[0].Data, &joined)
		if err := n.joinDefaults(ctx, ws, c.User, joined.Role, joined.Channels); err != nil {
			return nil, err
		}
	}
	name, _ := n.view.WorkspaceName(ws)
	role, _ := n.view.Role(ws, c.User)
	return map[string]any{"workspace": map[string]any{"id": ws, "name": name}, "role": role}, nil
}

// joinDefaults adds a new member to #general, or a guest to the channels
// of their invite.
func (n *chatNode) joinDefaults(ctx context.Context, ws chat.WorkspaceID, user core.UserID, role chat.Role, channels []chat.ChannelID) error {
	if role != chat.RoleGuest {
		_, err := n.do(ctx, GeneralChannel(ws).Stream(), chat.CmdChannelJoin, user, chat.ChannelUsers{As: chat.As{Role: role}}, "")
		return err
	}
	for _, ch := range channels {
		data := chat.ChannelUsers{As: chat.As{System: true}, Users: []chat.ChannelMember{{User: user, Guest: true}}}
		if _, err := n.do(ctx, ch.Stream(), chat.CmdChannelInvite, user, data, ""); err != nil {
			return err
		}
	}
	return nil
}

func (n *chatNode) workspaceLeave(ctx context.Context, c gateway.Caller, p *wsParams) (any, error) {
	if _, err := n.member(p.Workspace, c.User); err != nil {
		return nil, err
	}
	channels := n.view.UserChannels(c.User, p.Workspace)
	if _, err := n.do(ctx, p.Workspace.Stream(), chat.CmdWorkspaceLeave, c.User, struct{}{}, ""); err != nil {
		return nil, err
	}
	n.leaveChannels(ctx, c.User, c.User, channels)
	return struct{}{}, nil
}

// leaveChannels removes user from channels after they left or were
// removed from their workspace.
func (n *chatNode) leaveChannels(ctx context.Context, by, user core.UserID, channels []chat.ChannelID) {
	for _, ch := range channels {
		data := chat.ChannelUsers{As: chat.As{System: true}, User: user}
		if _, err := n.do(ctx, ch.Stream(), chat.CmdChannelRemove, by, data, ""); err != nil {
			n.log.Warn("remove a departed member from a channel", "channel", string(ch), "user", string(user), "err", err)
		}
	}
}

func (n *chatNode) memberAdd(ctx context.Context, c gateway.Caller, p *wsParams) (any, error) {
	if _, err := n.member(p.Workspace, c.User); err != nil {
		return nil, err
	}
	prof, _, err := n.profile(ctx, p.User)
	if err != nil {
		return nil, err
	}
	if p.Role == "" {
		p.Role = chat.RoleMember
	}
	res, err := n.do(ctx, p.Workspace.Stream(), chat.CmdMemberAdd, c.User, chat.AddMember{User: p.User, Role: p.Role, Profile: prof}, "")
	if err != nil {
		return nil, err
	}
	if len(res.Events) > 0 && p.Role != chat.RoleGuest {
		if err := n.joinDefaults(ctx, p.Workspace, p.User, p.Role, nil); err != nil {
			return nil, err
		}
	}
	return struct{}{}, nil
}

func (n *chatNode) memberRemove(ctx context.Context, c gateway.Caller, p *wsParams) (any, error) {
	if _, err := n.member(p.Workspace, c.User); err != nil {
		return nil, err
	}
	channels := n.view.UserChannels(p.User, p.Workspace)
	if _, err := n.do(ctx, p.Workspace.Stream(), chat.CmdMemberRemove, c.User, chat.UserRef{User: p.User}, ""); err != nil {
		return nil, err
	}
	n.leaveChannels(ctx, c.User, p.User, channels)
	return struct{}{}, nil
}

func (n *chatNode) memberRole(ctx context.Context, c gateway.Caller, p *wsParams) (any, error) {
	if _, err := n.member(p.Workspace, c.User); err != nil {
		return nil, err
	}
	_, err := n.do(ctx, p.Workspace.Stream(), chat.CmdMemberRole, c.User, chat.SetRole{User: p.User, Role: p.Role}, "")
	return struct{}{}, err
}

// createChannel reserves a name in the workspace, then opens the channel
// with its creator and the members given (workspace members only).
func (n *chatNode) createChannel(ctx context.Context, by core.UserID, ws chat.WorkspaceID, id chat.ChannelID, name string, private bool, topic, purpose *string, users []core.UserID) error {
	if len(users) > 1000 {
		return errs.E(errs.InvalidArgument, "add at most 1000 people at creation")
	}
	members := []chat.ChannelMember{{User: by}}
	for _, u := range users {
		role, ok := n.view.Role(ws, u)
		if !ok {
			return errs.E(errs.NotFound, "%s is not a member of this workspace", u)
		}
		members = append(members, chat.ChannelMember{User: u, Guest: role == chat.RoleGuest})
	}
	name, err := chat.NormalizeChannelName(name)
	if err != nil {
		return err
	}
	open := chat.OpenChannel{ChannelOpened: chat.ChannelOpened{Workspace: ws, Kind: chat.Public, Name: name}, Members: members}
	if private {
		open.Kind = chat.Private
	}
	for _, t := range []struct {
		p   *string
		dst *string
		w   string
	}{{topic, &open.Topic, "topic"}, {purpose, &open.Purpose, "purpose"}} {
		if t.p != nil {
			v, err := chat.CheckTopic(t.w, *t.p)
			if err != nil {
				return err
			}
			*t.dst = v
		}
	}
	if _, err := n.do(ctx, ws.Stream(), chat.CmdChannelReserve, by, chat.ReserveChannel{Channel: id, Name: name, Private: private}, ""); err != nil {
		return err
	}
	var err2 error
	for attempt := 0; attempt < 3; attempt++ {
		if _, err2 = n.do(ctx, id.Stream(), chat.CmdChannelOpen, by, open, "open"); err2 == nil || !errs.Is(err2, errs.Unavailable) {
			break
		}
	}
	return err2
}

func (n *chatNode) channelCreate(ctx context.Context, c gateway.Caller, p *channelParams) (any, error) {
	role, err := n.member(p.Workspace, c.User)
	if err != nil {
		return nil, err
	}
	if role == chat.RoleGuest {
		return nil, errs.E(errs.Forbidden, "guests cannot create channels")
	}
	id := chat.NewChannelID()
	if err := n.createChannel(ctx, c.User, p.Workspace, id, p.Name, p.Private, p.Topic, p.Purpose, p.Users); err != nil {
		return nil, err
	}
	return n.Channel(ctx, c.User, id)
}

// access checks that the caller may read ch and returns what they may do.
func (n *chatNode) access(c gateway.Caller, ch chat.ChannelID) (chat.Access, error) {
	if !ch.Valid() {
		return chat.Access{}, errs.E(errs.InvalidArgument, "bad channel id")
	}
	return n.view.Access(c.User, ch)
}

func (n *chatNode) channelRename(ctx context.Context, c gateway.Caller, p *channelParams) (any, error) {
	a, err := n.access(c, p.Channel)
	if err != nil {
		return nil, err
	}
	if !a.Member && !a.Role.Admin() {
		return nil, errs.E(errs.Forbidden, "not a member of this channel")
	}
	if a.Channel.Kind.Direct() {
		return nil, errs.E(errs.InvalidArgument, "direct messages have no name")
	}
	reserve := chat.ReserveChannel{Channel: p.Channel, Name: p.Name}
	if _, err := n.do(ctx, a.Channel.Workspace.Stream(), chat.CmdChannelRenameReg, c.User, reserve, ""); err != nil {
		return nil, err
	}
	_, err = n.do(ctx, p.Channel.Stream(), chat.CmdChannelRename, c.User, chat.UpdateChannel{As: chat.As{Role: a.Role}, Name: p.Name}, "")
	return struct{}{}, err
}

func (n *chatNode) channelUpdate(ctx context.Context, c gateway.Caller, p *channelParams) (any, error) {
	a, err := n.access(c, p.Channel)
	if err != nil {
		return nil, err
	}
	_, err = n.do(ctx, p.Channel.Stream(), chat.CmdChannelUpdate, c.User, chat.UpdateChannel{As: chat.As{Role: a.Role}, Topic: p.Topic, Purpose: p.Purpose}, "")
	return struct{}{}, err
}

func (n *chatNode) channelSimple(cmd string) func(context.Context, gateway.Caller, *channelParams) (any, error) {
	return func(ctx context.Context, c gateway.Caller, p *channelParams) (any, error) {
		a, err := n.access(c, p.Channel)
		if err != nil {
			return nil, err
		}
		_, err = n.do(ctx, p.Channel.Stream(), cmd, c.User, chat.ChannelUsers{As: chat.As{Role: a.Role}, Guest: a.Role == chat.RoleGuest}, "")
		return struct{}{}, err
	}
}

func (n *chatNode) channelInvite(ctx context.Context, c gateway.Caller, p *channelParams) (any, error) {
	a, err := n.access(c, p.Channel)
	if err != nil {
		return nil, err
	}
	data := chat.ChannelUsers{As: chat.As{Role: a.Role}}
	for _, u := range p.Users {
		role, ok := n.view.Role(a.Channel.Workspace, u)
		if !ok {
			return nil, errs.E(errs.NotFound, "%s is not a member of this workspace", u)
		}
		data.Users = append(data.Users, chat.ChannelMember{User: u, Guest: role == chat.RoleGuest})
	}
	_, err = n.do(ctx, p.Channel.Stream(), chat.CmdChannelInvite, c.User, data, "")
	return struct{}{}, err
}

func (n *chatNode) channelRemove(ctx context.Context, c gateway.Caller, p *channelParams) (any, error) {
	a, err := n.access(c, p.Channel)
	if err != nil {
		return nil, err
	}
	_, err = n.do(ctx, p.Channel.Stream(), chat.CmdChannelRemove, c.User, chat.ChannelUsers{As: chat.As{Role: a.Role}, User: p.User}, "")
	return struct{}{}, err
}

func (n *chatNode) dmOpen(ctx context.Context, c gateway.Caller, p *channelParams) (any, error) {
	role, err := n.member(p.Workspace, c.User)
	if err != nil {
		return nil, err
	}
	if role == chat.RoleGuest {
		return nil, errs.E(errs.Forbidden, "guests cannot open direct messages")
	}
	users := chat.SortedUsers(append([]core.UserID{c.User}, p.Users...))
	if len(users) > n.cfg.MaxGroupDM {
		return nil, errs.E(errs.LimitExceeded, "a group DM has at most %d people", n.cfg.MaxGroupDM)
	}
	open := chat.OpenChannel{ChannelOpened: chat.ChannelOpened{Workspace: p.Workspace, Kind: chat.DM}}
	if len(users) > 2 {
		open.Kind = chat.Group
	}
	for _, u := range users {
		r, ok := n.view.Role(p.Workspace, u)
		if !ok {
			return nil, errs.E(errs.NotFound, "%s is not a member of this workspace", u)
		}
		open.Members = append(open.Members, chat.ChannelMember{User: u, Guest: r == chat.RoleGuest})
	}
	id := chat.DMChannelID(p.Workspace, users)
	if _, err := n.do(ctx, id.Stream(), chat.CmdChannelOpen, c.User, open, ""); err != nil {
		return nil, err
	}
	return n.Channel(ctx, c.User, id)
}

// PostResult answers chat.post.
type PostResult struct {
	Channel   chat.ChannelID `json:"channel"`
	ID        chat.MessageID `json:"id"`
	Seq       uint64         `json:"seq"`
	Duplicate bool           `json:"duplicate"`
}

// mentionsOf resolves the mentions of text in ch: handles of workspace
// members, @channel, and @here as the channel's members online now.
func (n *chatNode) mentionsOf(ctx context.Context, ws chat.WorkspaceID, ch chat.ChannelID, text string) ([]core.UserID, map[core.UserID]chat.Profile, bool, bool, []core.UserID) {
	m := chat.ParseMentions(text)
	users := n.view.ByHandle(ws, m.Handles)
	ids := make([]core.UserID, 0, len(users))
	for u := range users {
		ids = append(ids, u)
	}
	var here []core.UserID
	if m.Here {
		for _, u := range n.view.ChannelMembers(ch) {
			if n.presenceOf(ctx, u).Status == presence.Online {
				here = append(here, u)
			}
		}
	}
	if len(users) == 0 {
		users = nil
	}
	return chat.SortedUsers(ids), users, m.Channel, m.Here, here
}

func (n *chatNode) post(ctx context.Context, c gateway.Caller, p *messageParams) (any, error) {
	return n.postAs(ctx, c.User, p)
}

// postAs posts a message as user (a person, a bot or an incoming webhook).
func (n *chatNode) postAs(ctx context.Context, user core.UserID, p *messageParams) (PostResult, error) {
	a, err := n.view.Access(user, p.Channel)
	if err != nil {
		return PostResult{}, err
	}
	atts, err := n.attachments(ctx, user, p.Channel, p.Attachments)
	if err != nil {
		return PostResult{}, err
	}
	mentions, users, all, hereAll, here := n.mentionsOf(ctx, a.Channel.Workspace, p.Channel, p.Text)
	data := chat.PostMessage{As: chat.As{Role: a.Role}, MessagePosted: chat.MessagePosted{
		Text: p.Text, Thread: p.Thread, Mentions: mentions, Users: users, Channel: all, HereAll: hereAll, Here: here, Attachments: atts}}
	res, err := n.do(ctx, p.Channel.Stream(), chat.CmdPost, user, data, p.Key)
	if err != nil {
		return PostResult{}, err
	}
	if len(res.Events) == 0 {
		return PostResult{}, errs.E(errs.Internal, "post wrote no event")
	}
	var posted chat.MessagePosted
	_ = json.Unmarshal(res.Events[0].Data, &posted)
	out := PostResult{Channel: p.Channel, ID: posted.ID, Seq: res.Events[0].Seq, Duplicate: res.Duplicate}
	if posted.Top > 0 && !res.Duplicate {
		if _, _, bot, _ := n.view.Member(a.Channel.Workspace, user); !bot {
			// Posting reads the channel up to one's own message, on every device.
			mk := chat.MarkRead{Channel: p.Channel, Marker: chat.Marker{Seq: out.Seq, Top: posted.Top}}
			go n.markQuietly(user, mk)
		}
	}
	return out, nil
}

func (n *chatNode) markQuietly(user core.UserID, mk chat.MarkRead) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := n.do(ctx, chat.InboxStream(user), chat.CmdMarkRead, user, mk, ""); err != nil && !errs.Is(err, errs.Unavailable) {
		n.log.Warn("mark read after posting", "user", string(user), "err", err)
	}
}

func (n *chatNode) edit(ctx context.Context, c gateway.Caller, p *messageParams) (any, error) {
	a, err := n.access(c, p.Channel)
	if err != nil {
		return nil, err
	}
	mentions, users, _, _, _ := n.mentionsOf(ctx, a.Channel.Workspace, p.Channel, p.Text)
	data := chat.EditMessage{As: chat.As{Role: a.Role}, MessageEdited: chat.MessageEdited{ID: p.ID, Text: p.Text, Mentions: mentions, Users: users}}
	res, err := n.do(ctx, p.Channel.Stream(), chat.CmdEdit, c.User, data, p.Key)
	return seqResult(res), err
}

func seqResult(res actor.Result) map[string]any {
	out := map[string]any{"changed": len(res.Events) > 0}
	if len(res.Events) > 0 {
		out["seq"] = res.Events[len(res.Events)-1].Seq
	}
	return out
}

func (n *chatNode) onMessage(cmd string) func(context.Context, gateway.Caller, *messageParams) (any, error) {
	return func(ctx context.Context, c gateway.Caller, p *messageParams) (any, error) {
		a, err := n.access(c, p.Channel)
		if err != nil {
			return nil, err
		}
		id := p.ID
		if id == "" {
			id = p.Thread
		}
		res, err := n.do(ctx, p.Channel.Stream(), cmd, c.User, chat.MessageRef{As: chat.As{Role: a.Role}, ID: id, Emoji: p.Emoji}, p.Key)
		return seqResult(res), err
	}
}

// typingMethod publishes an ephemeral typing event on the channel, at
// most once per chat.typing_interval per user and channel.
func (n *chatNode) typingMethod(_ context.Context, c gateway.Caller, p *messageParams) (any, error) {
	a, err := n.access(c, p.Channel)
	if err != nil {
		return nil, err
	}
	if !a.Member {
		return nil, errs.E(errs.Forbidden, "not a member of this channel")
	}
	now := n.m.Clock.Now()
	k := typingKey{c.User, p.Channel}
	n.typingMu.Lock()
	last, sent := n.typing[k]
	if sent && now.Sub(last) < n.cfg.TypingInterval {
		n.typingMu.Unlock()
		return map[string]bool{"sent": false}, nil
	}
	n.typing[k] = now
	if len(n.typing) > 100_000 {
		for key, t := range n.typing {
			if now.Sub(t) > n.cfg.TypingTTL {
				delete(n.typing, key)
			}
		}
	}
	n.typingMu.Unlock()
	data, _ := json.Marshal(chat.Typing{User: c.User, Thread: p.Thread, ExpiresMS: n.cfg.TypingTTL.Milliseconds()})
	n.publishEphemeral(p.Channel.Stream(), now, c.User, chat.EvTyping, data)
	return map[string]bool{"sent": true}, nil
}

func (n *chatNode) publishEphemeral(stream core.StreamID, at time.Time, who core.UserID, typ string, data json.RawMessage) {
	n.m.pub.PublishEphemeral(stream, at, who, actor.Ephemeral{Type: typ, Data: data})
}

// markRead moves the caller's read marker in a channel: to a message (or
// the latest one), or, for mark_unread, to just before a message.
func (n *chatNode) markRead(unread bool) func(context.Context, gateway.Caller, *messageParams) (any, error) {
	return func(ctx context.Context, c gateway.Caller, p *messageParams) (any, error) {
		a, err := n.access(c, p.Channel)
		if err != nil {
			return nil, err
		}
		if !a.Member {
			return nil, errs.E(errs.Forbidden, "not a member of this channel")
		}
		var mk chat.Marker
		switch {
		case p.ID == "" && unread:
			return nil, errs.E(errs.InvalidArgument, "mark_unread needs the first unread message's id")
		case p.ID == "":
			mk = chat.Marker{Seq: a.Channel.LastSeq, Top: a.Channel.Tops}
		default:
			msg, err := n.store.Message(ctx, p.Channel, p.ID)
			if err != nil {
				return nil, err
			}
			seq := msg.Seq
			if unread {
				seq--
			}
			if mk, err = n.store.MarkerAt(ctx, p.Channel, seq); err != nil {
				return nil, err
			}
		}
		cmd := chat.CmdMarkRead
		if unread {
			cmd = chat.CmdMarkUnread
		}
		if _, err := n.do(ctx, chat.InboxStream(c.User), cmd, c.User, chat.MarkRead{Channel: p.Channel, Marker: mk}, ""); err != nil {
			return nil, err
		}
		cnt, _ := n.view.Counts(c.User, p.Channel)
		return cnt, nil
	}
}
