package chat

import (
	"slices"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/parleyhq/parley/internal/core"
	"github.com/parleyhq/parley/internal/eventlog"
)

// View is the in-memory model of every workspace, channel and inbox that a
// node keeps (the seed's "Flannel" edge cache). It folds the events of all
// chat streams, without message bodies, and answers what must not touch
// the database: authorization of every command, subscription and read, the
// slim boot payload, unread and mention counts, offline sync, profile stubs
// and @mention autocomplete.
//
// Events of one stream must be applied in sequence order; Apply drops an
// event it already has and reports a gap (an event after a missing one)
// without applying it, so the caller can read the missing ones from the log
// first. Streams are independent: the view never relies on the order of
// events across streams. View is safe for concurrent use: Apply takes a
// write lock, queries a read lock.
type View struct {
	mu    sync.RWMutex
	tick  uint64 // counts applied events; versions below are ticks
	seqs  map[core.StreamID]uint64
	ws    map[WorkspaceID]*vWorkspace
	ch    map[ChannelID]*vChannel
	users map[core.UserID]*vUser

	dirtyCh  map[ChannelID]bool
	dirtyUC  map[userChannel]bool
	boots    map[core.UserID]*bootEntry
	maxBoot  int
	bootHits atomic.Uint64
}

type userChannel struct {
	user core.UserID
	ch   ChannelID
}

type vWorkspace struct {
	id        WorkspaceID
	name      string
	createdAt time.Time
	members   map[core.UserID]*vMember
	channels  map[ChannelID]bool
	index     *prefixIndex
	changed   uint64
}

type vMember struct {
	role    Role
	profile Profile
	bot     bool
	joined  time.Time
}

type vChannel struct {
	id        ChannelID
	ws        WorkspaceID
	kind      ChannelKind
	name      string
	topic     string
	purpose   string
	createdBy core.UserID
	createdAt time.Time
	archived  bool
	members   map[core.UserID]*vCMember
	tops      uint32    // top-level messages posted
	lastSeq   uint64    // the stream's last sequence
	lastAt    time.Time // time of the last message
	deleted   []uint32  // sorted Top numbers of deleted top-level messages
	follow    map[uint32]map[core.UserID]bool
	changed   uint64
}

type vCMember struct {
	guest    bool
	since    Marker // where the member joined
	mentions []mentionRef
}

// mentionRef is a message that mentions a member, kept while it may count.
type mentionRef struct {
	seq uint64
	n   uint32 // message number
}

// maxMentionRefs bounds the mentions kept per member and channel; counts
// above it show as that number.
const maxMentionRefs = 100

type vUser struct {
	id         core.UserID
	workspaces map[WorkspaceID]bool
	channels   map[ChannelID]bool
	markers    map[ChannelID]Marker
	changed    uint64
}

// NewView returns an empty View. maxBoot bounds the cached boot payloads
// (0: 100,000).
func NewView(maxBoot int) *View {
	if maxBoot <= 0 {
		maxBoot = 100_000
	}
	return &View{
		seqs:    map[core.StreamID]uint64{},
		ws:      map[WorkspaceID]*vWorkspace{},
		ch:      map[ChannelID]*vChannel{},
		users:   map[core.UserID]*vUser{},
		dirtyCh: map[ChannelID]bool{},
		dirtyUC: map[userChannel]bool{},
		boots:   map[core.UserID]*bootEntry{},
		maxBoot: maxBoot,
	}
}

// Note is something a user's connected devices are told about right away,
// derived from an applied event (a mention, a reply in a followed thread, a
// membership change). Data is JSON-encodable.
type Note struct {
	User  core.UserID
	Event string
	Data  any
}

// Push event names of Notes and counts (see docs/protocol.md).
const (
	PushMention        = "chat.mention"
	PushThreadReply    = "chat.thread_reply"
	PushChannelAdded   = "chat.channel_added"
	PushChannelRemoved = "chat.channel_removed"
	PushWorkspaceAdded = "chat.workspace_added"
	PushWorkspaceGone  = "chat.workspace_removed"
	PushCounts         = "chat.counts"
)

// MentionNote is the data of a chat.mention push.
type MentionNote struct {
	Workspace WorkspaceID `json:"workspace"`
	Channel   ChannelID   `json:"channel"`
	ID        MessageID   `json:"id"`
	Seq       uint64      `json:"seq"`
	Thread    MessageID   `json:"thread,omitempty"`
	By        core.UserID `json:"by"`
	Kind      string      `json:"kind"` // "user", "channel" or "here"
}

// ThreadNote is the data of a chat.thread_reply push.
type ThreadNote struct {
	Channel ChannelID   `json:"channel"`
	Thread  MessageID   `json:"thread"`
	ID      MessageID   `json:"id"`
	Seq     uint64      `json:"seq"`
	By      core.UserID `json:"by"`
}

// MembershipNote is the data of the channel and workspace membership pushes.
type MembershipNote struct {
	Workspace WorkspaceID `json:"workspace"`
	Channel   ChannelID   `json:"channel,omitempty"`
	By        core.UserID `json:"by,omitempty"`
}

// Apply folds ev into the view and returns what to tell users about it.
// It returns gap=true, and applies nothing, if ev is not the next event of
// its stream.
func (v *View) Apply(ev *eventlog.Event) (notes []Note, gap bool) {
	v.mu.Lock()
	defer v.mu.Unlock()
	last := v.seqs[ev.Stream]
	if ev.Seq <= last {
		return nil, false
	}
	if ev.Seq != last+1 {
		return nil, true
	}
	v.seqs[ev.Stream] = ev.Seq
	v.tick++
	data, err := Decode(ev)
	if err != nil {
		return nil, false
	}
	switch ev.Stream.Kind() {
	case KindWorkspace:
		return v.applyWorkspace(WorkspaceID(ev.Stream.ID()), ev, data), false
	case KindChannel:
		return v.applyChannel(ChannelID(ev.Stream.ID()), ev, data), false
	case KindInbox:
		if e, ok := data.(*ReadMarked); ok {
			u := v.user(core.UserID(ev.Stream.ID()))
			u.markers[e.Channel] = Marker{Seq: e.Seq, Top: e.Top}
			u.changed = v.tick
			v.dirtyUC[userChannel{u.id, e.Channel}] = true
		}
	}
	return nil, false
}

// Seq returns the last applied sequence of stream.
func (v *View) Seq(stream core.StreamID) uint64 {
	v.mu.RLock()
	defer v.mu.RUnlock()
	return v.seqs[stream]
}

func (v *View) user(id core.UserID) *vUser {
	u := v.users[id]
	if u == nil {
		u = &vUser{id: id, workspaces: map[WorkspaceID]bool{}, channels: map[ChannelID]bool{}, markers: map[ChannelID]Marker{}}
		v.users[id] = u
	}
	return u
}

func (v *View) workspace(id WorkspaceID) *vWorkspace {
	w := v.ws[id]
	if w == nil {
		w = &vWorkspace{id: id, members: map[core.UserID]*vMember{}, channels: map[ChannelID]bool{}, index: newPrefixIndex()}
		v.ws[id] = w
	}
	return w
}

func (v *View) channel(id ChannelID) *vChannel {
	c := v.ch[id]
	if c == nil {
		c = &vChannel{id: id, members: map[core.UserID]*vCMember{}, follow: map[uint32]map[core.UserID]bool{}}
		v.ch[id] = c
	}
	return c
}

func (v *View) applyWorkspace(id WorkspaceID, ev *eventlog.Event, data any) []Note {
	w := v.workspace(id)
	switch e := data.(type) {
	case *WorkspaceCreated:
		w.name, w.createdAt, w.changed = e.Name, ev.Time, v.tick
	case *WorkspaceRenamed:
		w.name, w.changed = e.Name, v.tick
	case *MemberJoined:
		m := &vMember{role: e.Role, bot: e.Bot, joined: ev.Time}
		if e.Profile != nil {
			m.profile = *e.Profile
		}
		w.members[e.User] = m
		w.index.set(e.User, profileKeys(m.profile))
		u := v.user(e.User)
		u.workspaces[id] = true
		u.changed = v.tick
		return []Note{{User: e.User, Event: PushWorkspaceAdded, Data: MembershipNote{Workspace: id, By: e.By}}}
	case *MemberLeft:
		return v.leaveWorkspace(w, e.User, "")
	case *MemberRemoved:
		return v.leaveWorkspace(w, e.User, e.By)
	case *MemberRoleChanged:
		if m := w.members[e.User]; m != nil {
			m.role = e.Role
			v.user(e.User).changed = v.tick
		}
	case *MemberUpdated:
		if m := w.members[e.User]; m != nil {
			m.profile = e.Profile
			w.index.set(e.User, profileKeys(m.profile))
			w.changed = v.tick
		}
	}
	return nil
}

func (v *View) leaveWorkspace(w *vWorkspace, user core.UserID, by core.UserID) []Note {
	if w.members[user] == nil {
		return nil
	}
	delete(w.members, user)
	w.index.remove(user)
	u := v.user(user)
	delete(u.workspaces, w.id)
	u.changed = v.tick
	return []Note{{User: user, Event: PushWorkspaceGone, Data: MembershipNote{Workspace: w.id, By: by}}}
}

func (v *View) applyChannel(id ChannelID, ev *eventlog.Event, data any) []Note {
	c := v.channel(id)
	c.lastSeq = ev.Seq
	c.changed = v.tick // boots show last_seq, so every event refreshes them
	switch ev.Type {
	case EvChannelArchived, EvChannelUnarchived:
		c.archived = ev.Type == EvChannelArchived
		c.changed = v.tick
		return nil
	}
	switch e := data.(type) {
	case *ChannelOpened:
		c.ws, c.kind, c.name, c.topic, c.purpose, c.createdBy, c.createdAt = e.Workspace, e.Kind, e.Name, e.Topic, e.Purpose, ev.Actor, ev.Time
		c.lastAt = ev.Time
		v.workspace(e.Workspace).channels[id] = true
		c.changed = v.tick
	case *ChannelRenamed:
		c.name, c.changed = e.Name, v.tick
	case *ChannelUpdated:
		if e.Topic != nil {
			c.topic = *e.Topic
		}
		if e.Purpose != nil {
			c.purpose = *e.Purpose
		}
		c.changed = v.tick
	case *MemberJoined:
		c.members[e.User] = &vCMember{guest: e.Guest, since: Marker{Seq: ev.Seq, Top: c.tops}}
		u := v.user(e.User)
		u.channels[id] = true
		u.changed = v.tick
		c.changed = v.tick
		v.dirtyUC[userChannel{e.User, id}] = true
		return []Note{{User: e.User, Event: PushChannelAdded, Data: MembershipNote{Workspace: c.ws, Channel: id, By: e.By}}}
	case *MemberLeft:
		return v.leaveChannel(c, e.User, "")
	case *MemberRemoved:
		return v.leaveChannel(c, e.User, e.By)
	case *MessagePosted:
		return v.posted(c, ev, e)
	case *MessageDeleted:
		if e.Top > 0 {
			i, found := slices.BinarySearch(c.deleted, e.Top)
			if !found {
				c.deleted = slices.Insert(c.deleted, i, e.Top)
			}
			c.changed = v.tick
			v.dirtyCh[id] = true
		}
		for u, m := range c.members {
			if i := slices.IndexFunc(m.mentions, func(r mentionRef) bool { return r.seq == e.Seq }); i >= 0 {
				m.mentions = slices.Delete(m.mentions, i, i+1)
				v.dirtyUC[userChannel{u, id}] = true
			}
		}
	case *ThreadFollow:
		n := e.Thread.Number()
		if c.follow[n] == nil {
			c.follow[n] = map[core.UserID]bool{}
		}
		c.follow[n][e.User] = ev.Type == EvThreadFollowed
	}
	return nil
}

func (v *View) leaveChannel(c *vChannel, user, by core.UserID) []Note {
	if c.members[user] == nil {
		return nil
	}
	delete(c.members, user)
	u := v.user(user)
	delete(u.channels, c.id)
	u.changed = v.tick
	c.changed = v.tick
	return []Note{{User: user, Event: PushChannelRemoved, Data: MembershipNote{Workspace: c.ws, Channel: c.id, By: by}}}
}

func (v *View) posted(c *vChannel, ev *eventlog.Event, e *MessagePosted) []Note {
	var notes []Note
	n := e.ID.Number()
	if e.Top > 0 {
		c.tops = e.Top
		c.lastAt = ev.Time
		c.changed = v.tick
		v.dirtyCh[c.id] = true
	}
	mentioned := map[core.UserID]string{}
	if e.Channel {
		for u := range c.members {
			mentioned[u] = "channel"
		}
	}
	for _, u := range e.Here {
		mentioned[u] = "here"
	}
	for _, u := range e.Mentions {
		mentioned[u] = "user"
	}
	delete(mentioned, ev.Actor)
	users := make([]core.UserID, 0, len(mentioned))
	for u := range mentioned {
		users = append(users, u)
	}
	sort.Slice(users, func(i, j int) bool { return users[i] < users[j] })
	for _, u := range users {
		m := c.members[u]
		if m == nil {
			continue
		}
		m.mentions = append(m.mentions, mentionRef{seq: ev.Seq, n: n})
		if len(m.mentions) > maxMentionRefs {
			m.mentions = m.mentions[len(m.mentions)-maxMentionRefs:]
		}
		v.dirtyUC[userChannel{u, c.id}] = true
		notes = append(notes, Note{User: u, Event: PushMention, Data: MentionNote{
			Workspace: c.ws, Channel: c.id, ID: e.ID, Seq: ev.Seq, Thread: e.Thread, By: ev.Actor, Kind: mentioned[u]}})
	}
	if e.Thread != "" {
		root := e.Thread.Number()
		f := c.follow[root]
		if f == nil {
			f = map[core.UserID]bool{}
			c.follow[root] = f
		}
		FollowOnReply(f, e.ThreadAuthor, ev.Actor, e.Mentions)
		followers := make([]core.UserID, 0, len(f))
		for u, on := range f {
			if _, told := mentioned[u]; on && !told && u != ev.Actor && c.members[u] != nil {
				followers = append(followers, u)
			}
		}
		sort.Slice(followers, func(i, j int) bool { return followers[i] < followers[j] })
		for _, u := range followers {
			notes = append(notes, Note{User: u, Event: PushThreadReply, Data: ThreadNote{Channel: c.id, Thread: e.Thread, ID: e.ID, Seq: ev.Seq, By: ev.Actor}})
		}
	}
	return notes
}

// effective returns the member's read marker: their inbox marker if set
// since they joined, else where they joined.
func (v *View) effective(u *vUser, c *vChannel, m *vCMember) Marker {
	if u != nil {
		if mk, ok := u.markers[c.id]; ok && mk.Seq >= m.since.Seq {
			return mk
		}
	}
	return m.since
}

// Counts are a member's unread top-level messages and unread mentions in a
// channel.
type Counts struct {
	Unread   int    `json:"unread"`
	Mentions int    `json:"mentions"`
	ReadSeq  uint64 `json:"read_seq"`
	LastSeq  uint64 `json:"last_seq"`
}

func (v *View) counts(u *vUser, c *vChannel, m *vCMember) Counts {
	mk := v.effective(u, c, m)
	unread := 0
	if c.tops > mk.Top {
		i, found := slices.BinarySearch(c.deleted, mk.Top)
		if found {
			i++
		}
		unread = int(c.tops-mk.Top) - (len(c.deleted) - i)
	}
	mentions := 0
	for i := len(m.mentions) - 1; i >= 0 && m.mentions[i].seq > mk.Seq; i-- {
		mentions++
	}
	return Counts{Unread: unread, Mentions: mentions, ReadSeq: mk.Seq, LastSeq: c.lastSeq}
}

// Counts returns user's counts in channel, and false if they are not a
// member.
func (v *View) Counts(user core.UserID, ch ChannelID) (Counts, bool) {
	v.mu.RLock()
	defer v.mu.RUnlock()
	c := v.ch[ch]
	if c == nil || c.members[user] == nil {
		return Counts{}, false
	}
	return v.counts(v.users[user], c, c.members[user]), true
}

// CountsChange is one member's new counts in one channel.
type CountsChange struct {
	User      core.UserID `json:"-"`
	Workspace WorkspaceID `json:"workspace"`
	Channel   ChannelID   `json:"channel"`
	Counts
}

// TakeCounts returns the counts that changed since the last call, for the
// users keep accepts (this node's connected users), and forgets the
// others. Changes of one user and channel are merged, so calling it every
// interval bounds the count pushes per user.
func (v *View) TakeCounts(keep func(core.UserID) bool) []CountsChange {
	v.mu.Lock()
	defer v.mu.Unlock()
	var out []CountsChange
	seen := map[userChannel]bool{}
	add := func(u core.UserID, c *vChannel) {
		k := userChannel{u, c.id}
		if seen[k] {
			return
		}
		seen[k] = true
		m := c.members[u]
		if m == nil || !keep(u) {
			return
		}
		out = append(out, CountsChange{User: u, Workspace: c.ws, Channel: c.id, Counts: v.counts(v.users[u], c, m)})
	}
	for id := range v.dirtyCh {
		if c := v.ch[id]; c != nil {
			for u := range c.members {
				add(u, c)
			}
		}
	}
	for k := range v.dirtyUC {
		if c := v.ch[k.ch]; c != nil {
			add(k.user, c)
		}
	}
	clear(v.dirtyCh)
	clear(v.dirtyUC)
	return out
}
