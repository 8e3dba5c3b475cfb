package chat

import (
	"sort"
	"time"

	"github.com/parleyhq/parley/internal/core"
	"github.com/parleyhq/parley/internal/errs"
)

// BootChannel is a channel or DM as the first screen shows it.
type BootChannel struct {
	ID       ChannelID     `json:"id"`
	Kind     ChannelKind   `json:"kind"`
	Name     string        `json:"name,omitempty"`
	Topic    string        `json:"topic,omitempty"`
	Archived bool          `json:"archived,omitempty"`
	Members  int           `json:"member_count"`
	People   []core.UserID `json:"people,omitempty"` // a DM's other participants
	Counts
	LastActivity time.Time `json:"last_activity"`
}

// BootWorkspace is one of the user's workspaces, with totals for a
// workspace switcher.
type BootWorkspace struct {
	ID       WorkspaceID `json:"id"`
	Name     string      `json:"name"`
	Role     Role        `json:"role"`
	Unread   int         `json:"unread_channels"`
	Mentions int         `json:"mentions"`
}

// Boot is the slim first-screen payload: the user's workspaces, the
// selected workspace's channels and most recent DMs with counts, the
// profiles of those DMs' people, and an offline-sync cursor. Its size
// depends on the user's own memberships, never on the size of a
// workspace: no member lists, no messages.
type Boot struct {
	User       core.UserID             `json:"user"`
	Profile    Profile                 `json:"profile"`
	Role       Role                    `json:"role"`
	Workspace  WorkspaceID             `json:"workspace"`
	Workspaces []BootWorkspace         `json:"workspaces"`
	Channels   []BootChannel           `json:"channels"`
	DMs        []BootChannel           `json:"dms"`
	Profiles   map[core.UserID]Profile `json:"profiles"`
	Cursor     string                  `json:"cursor"`
}

// BootCacheHits returns how many boots were served from the cache.
func (v *View) BootCacheHits() uint64 { return v.bootHits.Load() }

// bootEntry is a cached, encoded Boot with what it depends on.
type bootEntry struct {
	built    uint64
	ws       WorkspaceID
	maxDMs   int
	json     []byte
	partners []core.UserID
	deps     []ChannelID
	wss      []WorkspaceID
}

// BootJSON returns the encoded Boot of user in ws (their first workspace if
// empty) with at most maxDMs DMs, and the DM partners whose presence the
// first screen shows. The payload is cached per user and rebuilt from
// memory only when an event changed something it shows, so a reconnection
// storm costs map lookups, not queries. BootCacheHits counts the boots
// served from the cache.
func (v *View) BootJSON(user core.UserID, ws WorkspaceID, maxDMs int) ([]byte, []core.UserID, error) {
	v.mu.RLock()
	if e := v.boots[user]; e != nil && (ws == "" || ws == e.ws) && e.maxDMs == maxDMs && v.fresh(user, e) {
		v.mu.RUnlock()
		v.bootHits.Add(1)
		return e.json, e.partners, nil
	}
	v.mu.RUnlock()
	v.mu.Lock()
	defer v.mu.Unlock()
	b, deps, err := v.boot(user, ws, maxDMs)
	if err != nil {
		return nil, nil, err
	}
	var partners []core.UserID
	for _, d := range b.DMs {
		partners = append(partners, d.People...)
	}
	e := &bootEntry{built: v.tick, ws: b.Workspace, maxDMs: maxDMs, json: marshal(b), partners: partners, deps: deps, wss: v.userWorkspaces(user)}
	if len(v.boots) >= v.maxBoot {
		n := 0
		for u := range v.boots { // drop an arbitrary tenth
			delete(v.boots, u)
			if n++; n >= v.maxBoot/10+1 {
				break
			}
		}
	}
	v.boots[user] = e
	return e.json, partners, nil
}

func (v *View) userWorkspaces(user core.UserID) []WorkspaceID {
	var out []WorkspaceID
	if u := v.users[user]; u != nil {
		for w := range u.workspaces {
			out = append(out, w)
		}
	}
	return out
}

// fresh reports whether nothing e shows changed since it was built.
func (v *View) fresh(user core.UserID, e *bootEntry) bool {
	u := v.users[user]
	if u == nil || u.changed > e.built {
		return false
	}
	for _, w := range e.wss {
		if x := v.ws[w]; x == nil || x.changed > e.built {
			return false
		}
	}
	for _, id := range e.deps {
		if c := v.ch[id]; c == nil || c.changed > e.built {
			return false
		}
	}
	return true
}

// Boot builds the boot payload of user (without caching it).
func (v *View) Boot(user core.UserID, ws WorkspaceID, maxDMs int) (Boot, error) {
	v.mu.RLock()
	defer v.mu.RUnlock()
	b, _, err := v.boot(user, ws, maxDMs)
	return b, err
}

func (v *View) boot(user core.UserID, ws WorkspaceID, maxDMs int) (Boot, []ChannelID, error) {
	u := v.users[user]
	if u == nil || len(u.workspaces) == 0 {
		if ws != "" {
			return Boot{}, nil, errs.E(errs.NotFound, "no such workspace")
		}
		return Boot{User: user, Workspaces: []BootWorkspace{}, Channels: []BootChannel{}, DMs: []BootChannel{}, Profiles: map[core.UserID]Profile{}, Cursor: v.cursor(u).Encode()}, nil, nil
	}
	if ws == "" {
		for w := range u.workspaces {
			if ws == "" || w < ws {
				ws = w
			}
		}
	}
	if !u.workspaces[ws] {
		return Boot{}, nil, errs.E(errs.NotFound, "no such workspace")
	}
	w := v.ws[ws]
	me := w.members[user]
	b := Boot{User: user, Profile: me.profile, Role: me.role, Workspace: ws, Channels: []BootChannel{}, DMs: []BootChannel{}, Profiles: map[core.UserID]Profile{}}
	totals := map[WorkspaceID]*BootWorkspace{}
	for id := range u.workspaces {
		x := v.ws[id]
		bw := &BootWorkspace{ID: id, Name: x.name}
		if m := x.members[user]; m != nil {
			bw.Role = m.role
		}
		totals[id] = bw
	}
	var deps []ChannelID
	for id := range u.channels {
		c := v.ch[id]
		if c == nil || c.members[user] == nil {
			continue
		}
		deps = append(deps, id)
		cnt := v.counts(u, c, c.members[user])
		if t := totals[c.ws]; t != nil && !c.archived {
			if cnt.Unread > 0 {
				t.Unread++
			}
			t.Mentions += cnt.Mentions
		}
		if c.ws != ws {
			continue
		}
		bc := BootChannel{ID: id, Kind: c.kind, Name: c.name, Topic: c.topic, Archived: c.archived, Members: len(c.members), Counts: cnt, LastActivity: c.lastAt}
		if c.kind.Direct() {
			for p := range c.members {
				if p != user {
					bc.People = append(bc.People, p)
				}
			}
			sort.Slice(bc.People, func(i, j int) bool { return bc.People[i] < bc.People[j] })
			b.DMs = append(b.DMs, bc)
		} else {
			b.Channels = append(b.Channels, bc)
		}
	}
	sort.Slice(b.Channels, func(i, j int) bool { return b.Channels[i].Name < b.Channels[j].Name })
	sort.Slice(b.DMs, func(i, j int) bool {
		if !b.DMs[i].LastActivity.Equal(b.DMs[j].LastActivity) {
			return b.DMs[i].LastActivity.After(b.DMs[j].LastActivity)
		}
		return b.DMs[i].ID < b.DMs[j].ID
	})
	if len(b.DMs) > maxDMs {
		b.DMs = b.DMs[:maxDMs]
	}
	for _, d := range b.DMs {
		for _, p := range d.People {
			if m := w.members[p]; m != nil {
				b.Profiles[p] = m.profile
			}
		}
	}
	for _, t := range totals {
		b.Workspaces = append(b.Workspaces, *t)
	}
	sort.Slice(b.Workspaces, func(i, j int) bool { return b.Workspaces[i].ID < b.Workspaces[j].ID })
	b.Cursor = v.cursor(u).Encode()
	return b, deps, nil
}

// cursor returns the offline-sync position of everything u belongs to.
func (v *View) cursor(u *vUser) Cursor {
	c := Cursor{Channels: map[ChannelID]Marker{}, Workspaces: map[WorkspaceID]uint64{}}
	if u == nil {
		return c
	}
	for w := range u.workspaces {
		c.Workspaces[w] = v.seqs[w.Stream()]
	}
	for id := range u.channels {
		if ch := v.ch[id]; ch != nil {
			c.Channels[id] = Marker{Seq: ch.lastSeq, Top: ch.tops}
		}
	}
	return c
}

// SyncChannel says what changed in one channel since a cursor.
type SyncChannel struct {
	ID          ChannelID   `json:"id"`
	Workspace   WorkspaceID `json:"workspace"`
	NewMessages int         `json:"new_messages"`
	NewMentions int         `json:"new_mentions"`
	Counts
	LastActivity time.Time `json:"last_activity"`
}

// SyncMention points at a message that mentioned the user since the
// cursor; clients fetch the message itself lazily.
type SyncMention struct {
	Channel ChannelID `json:"channel"`
	ID      MessageID `json:"id"`
	Seq     uint64    `json:"seq"`
}

// Sync is the answer to an offline sync: what changed since a cursor, as
// counts and references, never as history.
type Sync struct {
	Cursor            string        `json:"cursor"`
	Channels          []SyncChannel `json:"channels"`
	Joined            []BootChannel `json:"joined"`
	Left              []ChannelID   `json:"left"`
	WorkspacesJoined  []WorkspaceID `json:"workspaces_joined"`
	WorkspacesLeft    []WorkspaceID `json:"workspaces_left"`
	WorkspacesChanged []WorkspaceID `json:"workspaces_changed"`
	Mentions          []SyncMention `json:"mentions"`
	// MoreMentions is set when more mentions happened than listed.
	MoreMentions bool `json:"more_mentions,omitempty"`
}

// Sync compares user's channels and workspaces with cursor and returns
// what changed, listing at most maxMentions mention references (by
// channel, newest first).
func (v *View) Sync(user core.UserID, cur Cursor, maxMentions int) Sync {
	v.mu.RLock()
	defer v.mu.RUnlock()
	u := v.users[user]
	s := Sync{Channels: []SyncChannel{}, Joined: []BootChannel{}, Left: []ChannelID{}, WorkspacesJoined: []WorkspaceID{},
		WorkspacesLeft: []WorkspaceID{}, WorkspacesChanged: []WorkspaceID{}, Mentions: []SyncMention{}}
	now := v.cursor(u)
	s.Cursor = now.Encode()
	for w, seq := range now.Workspaces {
		old, ok := cur.Workspaces[w]
		switch {
		case !ok:
			s.WorkspacesJoined = append(s.WorkspacesJoined, w)
		case seq > old:
			s.WorkspacesChanged = append(s.WorkspacesChanged, w)
		}
	}
	for w := range cur.Workspaces {
		if _, ok := now.Workspaces[w]; !ok {
			s.WorkspacesLeft = append(s.WorkspacesLeft, w)
		}
	}
	var mentions []SyncMention
	for id := range now.Channels {
		c := v.ch[id]
		m := c.members[user]
		if m == nil {
			continue
		}
		old, ok := cur.Channels[id]
		cnt := v.counts(u, c, m)
		if !ok {
			bc := BootChannel{ID: id, Kind: c.kind, Name: c.name, Topic: c.topic, Archived: c.archived, Members: len(c.members), Counts: cnt, LastActivity: c.lastAt}
			s.Joined = append(s.Joined, bc)
			continue
		}
		if c.lastSeq <= old.Seq {
			continue
		}
		sc := SyncChannel{ID: id, Workspace: c.ws, Counts: cnt, LastActivity: c.lastAt}
		if c.tops > old.Top {
			sc.NewMessages = int(c.tops - old.Top)
		}
		for i := len(m.mentions) - 1; i >= 0 && m.mentions[i].seq > old.Seq; i-- {
			sc.NewMentions++
			mentions = append(mentions, SyncMention{Channel: id, ID: MessageIDOf(m.mentions[i].n), Seq: m.mentions[i].seq})
		}
		s.Channels = append(s.Channels, sc)
	}
	for id := range cur.Channels {
		if _, ok := now.Channels[id]; !ok {
			s.Left = append(s.Left, id)
		}
	}
	sort.Slice(s.Channels, func(i, j int) bool { return s.Channels[i].ID < s.Channels[j].ID })
	sort.Slice(s.Joined, func(i, j int) bool { return s.Joined[i].ID < s.Joined[j].ID })
	sort.Slice(s.Left, func(i, j int) bool { return s.Left[i] < s.Left[j] })
	sort.Slice(mentions, func(i, j int) bool {
		if mentions[i].Channel != mentions[j].Channel {
			return mentions[i].Channel < mentions[j].Channel
		}
		return mentions[i].Seq > mentions[j].Seq
	})
	if len(mentions) > maxMentions {
		mentions, s.MoreMentions = mentions[:maxMentions], true
	}
	s.Mentions = append(s.Mentions, mentions...)
	return s
}
