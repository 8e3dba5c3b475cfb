package chat

import (
	"slices"
	"sort"

	"github.com/parleyhq/parley/internal/actor"
	"github.com/parleyhq/parley/internal/core"
	"github.com/parleyhq/parley/internal/errs"
	"github.com/parleyhq/parley/internal/eventlog"
)

// Channel commands (actor.Command.Name).
const (
	CmdChannelOpen      = "open"
	CmdChannelRename    = "rename"
	CmdChannelUpdate    = "update"
	CmdChannelArchive   = "archive"
	CmdChannelUnarchive = "unarchive"
	CmdChannelJoin      = "join"
	CmdChannelLeave     = "leave"
	CmdChannelInvite    = "invite"
	CmdChannelRemove    = "remove"
	CmdPost             = "post"
	CmdEdit             = "edit"
	CmdDelete           = "delete"
	CmdReact            = "react"
	CmdUnreact          = "unreact"
	CmdPin              = "pin"
	CmdUnpin            = "unpin"
	CmdFollow           = "follow"
	CmdUnfollow         = "unfollow"
)

// As carries what the caller's workspace role allows; the app fills it from
// the workspace state it holds. Every channel command's data embeds it.
type As struct {
	Role Role `json:"role,omitempty"`
	// System marks a command the server issues on its own (removing a
	// member who left the workspace).
	System bool `json:"system,omitempty"`
}

// ChannelMember names a user added to a channel.
type ChannelMember struct {
	User  core.UserID `json:"user"`
	Guest bool        `json:"guest,omitempty"`
}

// OpenChannel is the data of CmdChannelOpen.
type OpenChannel struct {
	As
	ChannelOpened
	Members []ChannelMember `json:"members"`
}

// UpdateChannel is the data of CmdChannelRename and CmdChannelUpdate.
type UpdateChannel struct {
	As
	Name    string  `json:"name,omitempty"`
	Topic   *string `json:"topic,omitempty"`
	Purpose *string `json:"purpose,omitempty"`
}

// ChannelUsers is the data of CmdChannelJoin (the actor), CmdChannelInvite
// and CmdChannelRemove.
type ChannelUsers struct {
	As
	Guest bool            `json:"guest,omitempty"`
	Users []ChannelMember `json:"users,omitempty"`
	User  core.UserID     `json:"user,omitempty"`
}

// PostMessage is the data of CmdPost.
type PostMessage struct {
	As
	MessagePosted
}

// EditMessage is the data of CmdEdit.
type EditMessage struct {
	As
	MessageEdited
}

// MessageRef is the data of CmdDelete, CmdPin, CmdUnpin, CmdReact,
// CmdUnreact, CmdFollow and CmdUnfollow.
type MessageRef struct {
	As
	ID    MessageID `json:"id"`
	Emoji string    `json:"emoji,omitempty"`
}

// CMember is a channel member as the channel writer knows it.
type CMember struct {
	Guest bool   `json:"guest,omitempty"`
	Since uint64 `json:"since"` // the sequence of the member.joined event
}

// cmsg is what the writer keeps of each message: enough to check edits,
// deletions, replies, reactions and pins, in about 40 bytes.
type cmsg struct {
	seq     uint64
	author  uint32 // index in Channel.users
	thread  uint32 // number of the root, 0 for top-level messages
	top     uint32 // number among top-level messages, 0 for replies
	replies uint32
	deleted bool
	pinned  bool
	reacts  map[string][]uint32 // emoji -> user indexes, nil until reacted
}

// Channel is the behaviour of a channel:<id> stream. It is used by one
// actor goroutine at a time.
type Channel struct {
	lim       Limits
	id        ChannelID
	Opened    bool                     `json:"opened"`
	Workspace WorkspaceID              `json:"workspace"`
	Kind      ChannelKind              `json:"kind"`
	Name      string                   `json:"name,omitempty"`
	Topic     string                   `json:"topic,omitempty"`
	Purpose   string                   `json:"purpose,omitempty"`
	CreatedBy core.UserID              `json:"created_by"`
	Archived  bool                     `json:"archived,omitempty"`
	Members   map[core.UserID]*CMember `json:"members"`
	Tops      uint32                   `json:"top_level_messages"`
	Last      uint64                   `json:"last_seq"`

	msgs   []cmsg
	pins   int
	follow map[uint32]map[core.UserID]bool
	users  []core.UserID
	uidx   map[core.UserID]uint32
}

var _ actor.Behavior = (*Channel)(nil)

// NewChannel returns the actor factory of channel streams.
func NewChannel(lim Limits) actor.Factory {
	return func(s core.StreamID) actor.Behavior {
		return &Channel{
			lim:     lim,
			id:      ChannelID(s.ID()),
			Members: map[core.UserID]*CMember{},
			follow:  map[uint32]map[core.UserID]bool{},
			uidx:    map[core.UserID]uint32{},
		}
	}
}

// channelState is the JSON view of a channel for replay and inspection.
type channelState struct {
	*Channel
	Messages int         `json:"messages"`
	Pinned   []MessageID `json:"pinned"`
}

// State implements actor.Behavior.
func (c *Channel) State() any {
	st := channelState{Channel: c, Messages: len(c.msgs), Pinned: []MessageID{}}
	for i := range c.msgs {
		if c.msgs[i].pinned {
			st.Pinned = append(st.Pinned, MessageIDOf(uint32(i+1)))
		}
	}
	return st
}

func (c *Channel) user(u core.UserID) uint32 {
	if i, ok := c.uidx[u]; ok {
		return i
	}
	i := uint32(len(c.users))
	c.users = append(c.users, u)
	c.uidx[u] = i
	return i
}

func (c *Channel) msg(id MessageID) *cmsg {
	n := id.Number()
	if n == 0 || int(n) > len(c.msgs) {
		return nil
	}
	return &c.msgs[n-1]
}

// FollowOnReply updates a thread's follow states (true: following, false:
// stopped following explicitly) for a reply: its author follows, and the
// root's author and the people it mentions follow unless they stopped
// explicitly. The writer and every projection apply this same rule.
func FollowOnReply(f map[core.UserID]bool, rootAuthor, replyAuthor core.UserID, mentions []core.UserID) {
	for _, u := range append([]core.UserID{rootAuthor}, mentions...) {
		if _, ok := f[u]; !ok && u != "" {
			f[u] = true
		}
	}
	f[replyAuthor] = true
}

// Apply implements actor.Behavior.
func (c *Channel) Apply(ev *eventlog.Event) {
	c.Last = ev.Seq
	v, err := Decode(ev)
	if err != nil {
		return
	}
	switch ev.Type {
	case EvChannelArchived:
		c.Archived = true
		return
	case EvChannelUnarchived:
		c.Archived = false
		return
	}
	switch e := v.(type) {
	case *ChannelOpened:
		c.Opened, c.Workspace, c.Kind, c.Name, c.Topic, c.Purpose, c.CreatedBy = true, e.Workspace, e.Kind, e.Name, e.Topic, e.Purpose, ev.Actor
	case *ChannelRenamed:
		c.Name = e.Name
	case *ChannelUpdated:
		if e.Topic != nil {
			c.Topic = *e.Topic
		}
		if e.Purpose != nil {
			c.Purpose = *e.Purpose
		}
	case *MemberJoined:
		c.Members[e.User] = &CMember{Guest: e.Guest, Since: ev.Seq}
	case *MemberLeft:
		delete(c.Members, e.User)
	case *MemberRemoved:
		delete(c.Members, e.User)
	case *MessagePosted:
		m := cmsg{seq: ev.Seq, author: c.user(ev.Actor), thread: e.Thread.Number(), top: e.Top}
		c.msgs = append(c.msgs, m)
		if e.Top > 0 {
			c.Tops = e.Top
		}
		if root := c.msg(e.Thread); root != nil {
			root.replies++
			f := c.follow[m.thread]
			if f == nil {
				f = map[core.UserID]bool{}
				c.follow[m.thread] = f
			}
			FollowOnReply(f, c.users[root.author], ev.Actor, e.Mentions)
		}
	case *MessageDeleted:
		if m := c.msg(e.ID); m != nil {
			m.deleted = true
			if m.pinned {
				m.pinned = false
				c.pins--
			}
		}
	case *Reaction:
		m := c.msg(e.ID)
		if m == nil {
			return
		}
		u := c.user(ev.Actor)
		if ev.Type == EvReactionAdded {
			if m.reacts == nil {
				m.reacts = map[string][]uint32{}
			}
			if !slices.Contains(m.reacts[e.Emoji], u) {
				m.reacts[e.Emoji] = append(m.reacts[e.Emoji], u)
			}
		} else if list := m.reacts[e.Emoji]; list != nil {
			if i := slices.Index(list, u); i >= 0 {
				list = slices.Delete(list, i, i+1)
			}
			if len(list) == 0 {
				delete(m.reacts, e.Emoji)
			} else {
				m.reacts[e.Emoji] = list
			}
		}
	case *Pin:
		if m := c.msg(e.ID); m != nil {
			pinned := ev.Type == EvMessagePinned
			if m.pinned != pinned {
				m.pinned = pinned
				if pinned {
					c.pins++
				} else {
					c.pins--
				}
			}
		}
	case *ThreadFollow:
		n := e.Thread.Number()
		f := c.follow[n]
		if f == nil {
			f = map[core.UserID]bool{}
			c.follow[n] = f
		}
		f[e.User] = ev.Type == EvThreadFollowed
	}
}

// Followers returns the followers of the thread rooted at root, sorted.
func (c *Channel) Followers(root MessageID) []core.UserID {
	var out []core.UserID
	for u, on := range c.follow[root.Number()] {
		if on {
			out = append(out, u)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	return out
}

// Decide implements actor.Behavior.
func (c *Channel) Decide(cmd *actor.Command) (actor.Decision, error) {
	if cmd.Name == CmdChannelOpen {
		return c.open(cmd)
	}
	if !c.Opened {
		return actor.Decision{}, errs.E(errs.NotFound, "no such channel")
	}
	var as As
	if err := decodeCmd(cmd, &as); err != nil {
		return actor.Decision{}, err
	}
	me := c.Members[cmd.Actor]
	switch cmd.Name {
	case CmdChannelJoin:
		return c.join(cmd, me)
	case CmdChannelRemove:
		return c.remove(cmd, as)
	case CmdChannelInvite:
		if as.System {
			return c.invite(cmd, me)
		}
	}
	if me == nil {
		return actor.Decision{}, errs.E(errs.Forbidden, "not a member of this channel")
	}
	if c.Archived && cmd.Name != CmdChannelUnarchive && cmd.Name != CmdChannelLeave {
		return actor.Decision{}, errs.E(errs.Closed, "the channel is archived")
	}
	switch cmd.Name {
	case CmdChannelRename, CmdChannelUpdate:
		return c.update(cmd, me)
	case CmdChannelArchive, CmdChannelUnarchive:
		if c.Kind.Direct() {
			return actor.Decision{}, errs.E(errs.InvalidArgument, "direct messages cannot be archived")
		}
		if !as.Role.Admin() && cmd.Actor != c.CreatedBy {
			return actor.Decision{}, errs.E(errs.Forbidden, "only admins and the channel's creator archive it")
		}
		if c.Archived == (cmd.Name == CmdChannelArchive) {
			return actor.Decision{}, nil
		}
		typ := EvChannelArchived
		if cmd.Name == CmdChannelUnarchive {
			typ = EvChannelUnarchived
		}
		return one(eventlog.Draft{Type: typ, Data: []byte("{}")}), nil
	case CmdChannelLeave:
		if c.Kind.Direct() {
			return actor.Decision{}, errs.E(errs.InvalidArgument, "direct messages cannot be left")
		}
		return one(draft(EvMemberLeft, "", MemberLeft{User: cmd.Actor})), nil
	case CmdChannelInvite:
		return c.invite(cmd, me)
	case CmdPost:
		return c.post(cmd)
	case CmdEdit:
		return c.edit(cmd)
	case CmdDelete, CmdReact, CmdUnreact, CmdPin, CmdUnpin, CmdFollow, CmdUnfollow:
		return c.onMessage(cmd, as)
	}
	return actor.Decision{}, errs.E(errs.InvalidArgument, "unknown channel command %q", cmd.Name)
}

func (c *Channel) open(cmd *actor.Command) (actor.Decision, error) {
	var p OpenChannel
	if err := decodeCmd(cmd, &p); err != nil {
		return actor.Decision{}, err
	}
	people := map[core.UserID]bool{}
	for _, m := range p.Members {
		if !core.ValidToken(string(m.User)) {
			return actor.Decision{}, errs.E(errs.InvalidArgument, "bad user id")
		}
		people[m.User] = true
	}
	switch p.Kind {
	case Public, Private:
		if !people[cmd.Actor] {
			return actor.Decision{}, errs.E(errs.InvalidArgument, "the creator must be a member")
		}
	case DM:
		if len(people) < 1 || len(people) > 2 {
			return actor.Decision{}, errs.E(errs.InvalidArgument, "a DM has one or two people")
		}
	case Group:
		if len(people) < 3 || len(people) > c.lim.MaxGroupDM {
			return actor.Decision{}, errs.E(errs.InvalidArgument, "a group DM has 3-%d people", c.lim.MaxGroupDM)
		}
	default:
		return actor.Decision{}, errs.E(errs.InvalidArgument, "bad channel kind %q", p.Kind)
	}
	if c.Opened {
		if c.Kind.Direct() && p.Kind == c.Kind {
			return actor.Decision{Reply: "exists"}, nil // opening a DM again finds the same one
		}
		return actor.Decision{}, errs.E(errs.AlreadyExists, "channel exists")
	}
	evs := []eventlog.Draft{draft(EvChannelOpened, "", p.ChannelOpened)}
	ms := append([]ChannelMember(nil), p.Members...)
	sort.Slice(ms, func(i, j int) bool { return ms[i].User < ms[j].User })
	for i, m := range ms {
		if i > 0 && ms[i-1].User == m.User {
			continue
		}
		by := cmd.Actor
		if m.User == cmd.Actor {
			by = ""
		}
		evs = append(evs, draft(EvMemberJoined, "", MemberJoined{User: m.User, Guest: m.Guest, By: by}))
	}
	return actor.Decision{Events: evs}, nil
}

func (c *Channel) join(cmd *actor.Command, me *CMember) (actor.Decision, error) {
	var p ChannelUsers
	if err := decodeCmd(cmd, &p); err != nil {
		return actor.Decision{}, err
	}
	switch {
	case me != nil:
		return actor.Decision{}, nil
	case c.Kind != Public || p.Guest || p.Role == RoleGuest:
		return actor.Decision{}, errs.E(errs.Forbidden, "only public channels can be joined without an invite, and not by guests")
	case c.Archived:
		return actor.Decision{}, errs.E(errs.Closed, "the channel is archived")
	}
	return one(draft(EvMemberJoined, "", MemberJoined{User: cmd.Actor})), nil
}

func (c *Channel) invite(cmd *actor.Command, me *CMember) (actor.Decision, error) {
	var p ChannelUsers
	if err := decodeCmd(cmd, &p); err != nil {
		return actor.Decision{}, err
	}
	switch {
	case c.Kind.Direct():
		return actor.Decision{}, errs.E(errs.InvalidArgument, "people cannot be added to a DM; open a new one")
	case !p.System && (me == nil || me.Guest || p.Role == RoleGuest):
		return actor.Decision{}, errs.E(errs.Forbidden, "guests and non-members cannot add people")
	case len(p.Users) == 0 || len(p.Users) > 1000:
		return actor.Decision{}, errs.E(errs.InvalidArgument, "add 1-1000 people at a time")
	}
	var evs []eventlog.Draft
	seen := map[core.UserID]bool{}
	for _, m := range p.Users {
		if c.Members[m.User] != nil || seen[m.User] {
			continue
		}
		if !core.ValidToken(string(m.User)) {
			return actor.Decision{}, errs.E(errs.InvalidArgument, "bad user id")
		}
		seen[m.User] = true
		evs = append(evs, draft(EvMemberJoined, "", MemberJoined{User: m.User, Guest: m.Guest, By: cmd.Actor}))
	}
	return actor.Decision{Events: evs}, nil
}

func (c *Channel) remove(cmd *actor.Command, as As) (actor.Decision, error) {
	var p ChannelUsers
	if err := decodeCmd(cmd, &p); err != nil {
		return actor.Decision{}, err
	}
	if c.Members[p.User] == nil {
		return actor.Decision{}, nil
	}
	if !as.System {
		switch {
		case c.Kind.Direct():
			return actor.Decision{}, errs.E(errs.InvalidArgument, "people cannot be removed from a DM")
		case c.Members[cmd.Actor] == nil && !as.Role.Admin():
			return actor.Decision{}, errs.E(errs.Forbidden, "not a member of this channel")
		case p.User == cmd.Actor:
			return actor.Decision{}, errs.E(errs.InvalidArgument, "use leave to leave a channel")
		case !as.Role.Admin() && cmd.Actor != c.CreatedBy:
			return actor.Decision{}, errs.E(errs.Forbidden, "only admins and the channel's creator remove people")
		}
	}
	by := cmd.Actor
	if as.System {
		by = ""
	}
	return one(draft(EvMemberRemoved, "", MemberRemoved{User: p.User, By: by})), nil
}

func (c *Channel) update(cmd *actor.Command, me *CMember) (actor.Decision, error) {
	var p UpdateChannel
	if err := decodeCmd(cmd, &p); err != nil {
		return actor.Decision{}, err
	}
	if c.Kind.Direct() && cmd.Name == CmdChannelRename {
		return actor.Decision{}, errs.E(errs.InvalidArgument, "direct messages have no name")
	}
	if me.Guest {
		return actor.Decision{}, errs.E(errs.Forbidden, "guests cannot change channels")
	}
	if cmd.Name == CmdChannelRename {
		name, err := NormalizeChannelName(p.Name)
		if err != nil || name == c.Name {
			return actor.Decision{}, err
		}
		return one(draft(EvChannelRenamed, "", ChannelRenamed{Name: name})), nil
	}
	var e ChannelUpdated
	if p.Topic != nil {
		t, err := CheckTopic("topic", *p.Topic)
		if err != nil {
			return actor.Decision{}, err
		}
		if t != c.Topic {
			e.Topic = &t
		}
	}
	if p.Purpose != nil {
		t, err := CheckTopic("purpose", *p.Purpose)
		if err != nil {
			return actor.Decision{}, err
		}
		if t != c.Purpose {
			e.Purpose = &t
		}
	}
	if e.Topic == nil && e.Purpose == nil {
		return actor.Decision{}, nil
	}
	return one(draft(EvChannelUpdated, "", e)), nil
}

func (c *Channel) post(cmd *actor.Command) (actor.Decision, error) {
	var p PostMessage
	if err := decodeCmd(cmd, &p); err != nil {
		return actor.Decision{}, err
	}
	if len(p.Attachments) > c.lim.MaxAttachments {
		return actor.Decision{}, errs.E(errs.LimitExceeded, "at most %d attachments per message", c.lim.MaxAttachments)
	}
	if err := CheckText(p.Text, c.lim.MaxMessageChars, len(p.Attachments) > 0); err != nil {
		return actor.Decision{}, err
	}
	e := p.MessagePosted
	e.ID = MessageIDOf(uint32(len(c.msgs) + 1))
	e.Top, e.ThreadAuthor = 0, ""
	if e.Thread != "" {
		root := c.msg(e.Thread)
		switch {
		case root == nil:
			return actor.Decision{}, errs.E(errs.NotFound, "no message %s in this channel", e.Thread)
		case root.thread != 0:
			return actor.Decision{}, errs.E(errs.InvalidArgument, "replies go to the thread's root message")
		case root.deleted:
			return actor.Decision{}, errs.E(errs.NotFound, "the thread's root message was deleted")
		}
		e.ThreadAuthor = c.users[root.author]
	} else {
		e.Top = c.Tops + 1
	}
	// Only members are notified; the text still shows the others.
	e.Here = c.onlyMembers(e.Here)
	return actor.Decision{Events: []eventlog.Draft{draft(EvMessagePosted, "", e)}, Reply: e.ID}, nil
}

func (c *Channel) onlyMembers(users []core.UserID) []core.UserID {
	var out []core.UserID
	for _, u := range users {
		if c.Members[u] != nil {
			out = append(out, u)
		}
	}
	return out
}

func (c *Channel) edit(cmd *actor.Command) (actor.Decision, error) {
	var p EditMessage
	if err := decodeCmd(cmd, &p); err != nil {
		return actor.Decision{}, err
	}
	m := c.msg(p.ID)
	switch {
	case m == nil || m.deleted:
		return actor.Decision{}, errs.E(errs.NotFound, "no message %s in this channel", p.ID)
	case c.users[m.author] != cmd.Actor:
		return actor.Decision{}, errs.E(errs.Forbidden, "only the author edits a message")
	}
	if err := CheckText(p.Text, c.lim.MaxMessageChars, false); err != nil {
		return actor.Decision{}, err
	}
	return one(draft(EvMessageEdited, "", p.MessageEdited)), nil
}

func (c *Channel) onMessage(cmd *actor.Command, as As) (actor.Decision, error) {
	var p MessageRef
	if err := decodeCmd(cmd, &p); err != nil {
		return actor.Decision{}, err
	}
	m := c.msg(p.ID)
	if m == nil || (m.deleted && cmd.Name != CmdUnfollow) {
		return actor.Decision{}, errs.E(errs.NotFound, "no message %s in this channel", p.ID)
	}
	switch cmd.Name {
	case CmdDelete:
		if c.users[m.author] != cmd.Actor && !(as.Role.Admin() && !c.Kind.Direct()) {
			return actor.Decision{}, errs.E(errs.Forbidden, "only the author or an admin deletes a message")
		}
		d := MessageDeleted{ID: p.ID, Seq: m.seq, Top: m.top}
		if m.thread != 0 {
			d.Thread = MessageIDOf(m.thread)
		}
		return one(draft(EvMessageDeleted, "", d)), nil
	case CmdReact, CmdUnreact:
		emoji, err := CheckEmoji(p.Emoji)
		if err != nil {
			return actor.Decision{}, err
		}
		u, known := c.uidx[cmd.Actor]
		has := known && slices.Contains(m.reacts[emoji], u)
		if cmd.Name == CmdReact {
			if has {
				return actor.Decision{}, nil // reacting twice changes nothing
			}
			if _, ok := m.reacts[emoji]; !ok && len(m.reacts) >= c.lim.MaxReactions {
				return actor.Decision{}, errs.E(errs.LimitExceeded, "at most %d different reactions per message", c.lim.MaxReactions)
			}
			return one(draft(EvReactionAdded, "", Reaction{ID: p.ID, Emoji: emoji})), nil
		}
		if !has {
			return actor.Decision{}, nil
		}
		return one(draft(EvReactionRemoved, "", Reaction{ID: p.ID, Emoji: emoji})), nil
	case CmdPin:
		if m.pinned {
			return actor.Decision{}, nil
		}
		if c.pins >= c.lim.MaxPins {
			return actor.Decision{}, errs.E(errs.LimitExceeded, "at most %d pinned messages per channel", c.lim.MaxPins)
		}
		return one(draft(EvMessagePinned, "", Pin{ID: p.ID})), nil
	case CmdUnpin:
		if !m.pinned {
			return actor.Decision{}, nil
		}
		return one(draft(EvMessageUnpinned, "", Pin{ID: p.ID})), nil
	case CmdFollow, CmdUnfollow:
		if m.thread != 0 {
			return actor.Decision{}, errs.E(errs.InvalidArgument, "follow a thread by its root message")
		}
		following := c.follow[p.ID.Number()][cmd.Actor] // absent: not following
		if following == (cmd.Name == CmdFollow) {
			return actor.Decision{}, nil
		}
		typ := EvThreadFollowed
		if cmd.Name == CmdUnfollow {
			typ = EvThreadUnfollowed
		}
		return one(draft(typ, "", ThreadFollow{Thread: p.ID, User: cmd.Actor})), nil
	}
	return actor.Decision{}, errs.E(errs.InvalidArgument, "unknown channel command %q", cmd.Name)
}
