package chat

import (
	"encoding/json"
	"sort"
	"strings"
	"time"

	"github.com/parleyhq/parley/internal/core"
	"github.com/parleyhq/parley/internal/errs"
)

// ChannelInfo describes a channel as the view knows it.
type ChannelInfo struct {
	ID        ChannelID   `json:"id"`
	Workspace WorkspaceID `json:"workspace"`
	Kind      ChannelKind `json:"kind"`
	Name      string      `json:"name,omitempty"`
	Topic     string      `json:"topic,omitempty"`
	Purpose   string      `json:"purpose,omitempty"`
	Archived  bool        `json:"archived,omitempty"`
	Members   int         `json:"member_count"`
	CreatedBy core.UserID `json:"created_by,omitempty"`
	CreatedAt time.Time   `json:"created_at"`
	LastSeq   uint64      `json:"last_seq"`
	Tops      uint32      `json:"top_level_messages"`
}

func (c *vChannel) info() ChannelInfo {
	return ChannelInfo{ID: c.id, Workspace: c.ws, Kind: c.kind, Name: c.name, Topic: c.topic, Purpose: c.purpose,
		Archived: c.archived, Members: len(c.members), CreatedBy: c.createdBy, CreatedAt: c.createdAt, LastSeq: c.lastSeq, Tops: c.tops}
}

// Access is what a user may do in a channel.
type Access struct {
	Channel ChannelInfo
	Role    Role // the user's role in the channel's workspace
	Member  bool // the user is a member of the channel
}

var errNoChannel = errs.E(errs.NotFound, "no such channel")

// Access checks that user may read channel: an active member of its
// workspace who is a member of the channel, or, for a public channel, any
// member who is not a guest. Private channels and DMs of others answer
// not_found, so that their existence is not confirmed.
func (v *View) Access(user core.UserID, ch ChannelID) (Access, error) {
	v.mu.RLock()
	defer v.mu.RUnlock()
	c := v.ch[ch]
	if c == nil || c.ws == "" {
		return Access{}, errNoChannel
	}
	w := v.ws[c.ws]
	var wm *vMember
	if w != nil {
		wm = w.members[user]
	}
	if wm == nil {
		if c.kind == Public {
			return Access{}, errs.E(errs.Forbidden, "not a member of this workspace")
		}
		return Access{}, errNoChannel
	}
	a := Access{Channel: c.info(), Role: wm.role, Member: c.members[user] != nil}
	if a.Member {
		return a, nil
	}
	if c.kind == Public {
		if wm.role == RoleGuest {
			return Access{}, errs.E(errs.Forbidden, "guests see only the channels they are added to")
		}
		return a, nil
	}
	return Access{}, errNoChannel
}

// Channel returns what the view knows of ch, without any access check.
func (v *View) Channel(ch ChannelID) (ChannelInfo, bool) {
	v.mu.RLock()
	defer v.mu.RUnlock()
	c := v.ch[ch]
	if c == nil || c.ws == "" {
		return ChannelInfo{}, false
	}
	return c.info(), true
}

// Role returns user's role in ws, and false if they are not a member.
func (v *View) Role(ws WorkspaceID, user core.UserID) (Role, bool) {
	v.mu.RLock()
	defer v.mu.RUnlock()
	if w := v.ws[ws]; w != nil {
		if m := w.members[user]; m != nil {
			return m.role, true
		}
	}
	return "", false
}

// WorkspaceName returns the name of ws, and false if the view does not
// know it.
func (v *View) WorkspaceName(ws WorkspaceID) (string, bool) {
	v.mu.RLock()
	defer v.mu.RUnlock()
	w := v.ws[ws]
	if w == nil || w.createdAt.IsZero() {
		return "", false
	}
	return w.name, true
}

// Member returns a workspace member's profile and whether they are a bot.
func (v *View) Member(ws WorkspaceID, user core.UserID) (Profile, Role, bool, bool) {
	v.mu.RLock()
	defer v.mu.RUnlock()
	if w := v.ws[ws]; w != nil {
		if m := w.members[user]; m != nil {
			return m.profile, m.role, m.bot, true
		}
	}
	return Profile{}, "", false, false
}

// ByHandle resolves handles (lower-cased) to the workspace's members and
// returns the found ones with their profiles.
func (v *View) ByHandle(ws WorkspaceID, handles []string) map[core.UserID]Profile {
	if len(handles) == 0 {
		return nil
	}
	v.mu.RLock()
	defer v.mu.RUnlock()
	w := v.ws[ws]
	if w == nil {
		return nil
	}
	out := map[core.UserID]Profile{}
	for _, h := range handles {
		for _, u := range w.index.search(h, 8, nil) {
			if m := w.members[u]; m != nil && strings.EqualFold(m.profile.Handle, h) {
				out[u] = m.profile
			}
		}
	}
	return out
}

// ShareWorkspace reports whether a and b are members of a common
// workspace (the presence rule of chat deployments).
func (v *View) ShareWorkspace(a, b core.UserID) bool {
	v.mu.RLock()
	defer v.mu.RUnlock()
	ua := v.users[a]
	if ua == nil {
		return false
	}
	for ws := range ua.workspaces {
		if w := v.ws[ws]; w != nil && w.members[b] != nil {
			return true
		}
	}
	return false
}

// ChannelMembers returns the members of ch in id order.
func (v *View) ChannelMembers(ch ChannelID) []core.UserID {
	v.mu.RLock()
	defer v.mu.RUnlock()
	c := v.ch[ch]
	if c == nil {
		return nil
	}
	out := make([]core.UserID, 0, len(c.members))
	for u := range c.members {
		out = append(out, u)
	}
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	return out
}

// UserChannels returns the channels of ws (all workspaces if ws is empty)
// that user is a member of.
func (v *View) UserChannels(user core.UserID, ws WorkspaceID) []ChannelID {
	v.mu.RLock()
	defer v.mu.RUnlock()
	u := v.users[user]
	if u == nil {
		return nil
	}
	var out []ChannelID
	for id := range u.channels {
		if c := v.ch[id]; c != nil && (ws == "" || c.ws == ws) {
			out = append(out, id)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	return out
}

// SearchScope returns the channels of ws whose messages user may search:
// the channels they are a member of, and the public ones unless they are a
// guest.
func (v *View) SearchScope(user core.UserID, ws WorkspaceID) ([]ChannelID, error) {
	v.mu.RLock()
	defer v.mu.RUnlock()
	w := v.ws[ws]
	if w == nil || w.members[user] == nil {
		return nil, errs.E(errs.NotFound, "no such workspace")
	}
	guest := w.members[user].role == RoleGuest
	var out []ChannelID
	for id := range w.channels {
		c := v.ch[id]
		if c == nil {
			continue
		}
		if c.members[user] != nil || (!guest && c.kind == Public) {
			out = append(out, id)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	return out, nil
}

// ChannelByName finds a channel of ws by name among those user may read.
func (v *View) ChannelByName(user core.UserID, ws WorkspaceID, name string) (ChannelID, bool) {
	scope, err := v.SearchScope(user, ws)
	if err != nil {
		return "", false
	}
	name = strings.ToLower(strings.TrimPrefix(name, "#"))
	v.mu.RLock()
	defer v.mu.RUnlock()
	for _, id := range scope {
		if c := v.ch[id]; c != nil && c.name == name && !c.kind.Direct() {
			return id, true
		}
	}
	return "", false
}

// PublicChannels returns up to limit public channels of ws in name order,
// after the name after.
func (v *View) PublicChannels(ws WorkspaceID, after string, limit int) []ChannelInfo {
	v.mu.RLock()
	defer v.mu.RUnlock()
	w := v.ws[ws]
	if w == nil {
		return nil
	}
	var all []ChannelInfo
	for id := range w.channels {
		if c := v.ch[id]; c != nil && c.kind == Public && c.name > after {
			all = append(all, c.info())
		}
	}
	sort.Slice(all, func(i, j int) bool { return all[i].Name < all[j].Name })
	if len(all) > limit {
		all = all[:limit]
	}
	return all
}

// Suggestion is one @mention autocomplete answer.
type Suggestion struct {
	User      core.UserID `json:"user"`
	Profile   Profile     `json:"profile"`
	Bot       bool        `json:"bot,omitempty"`
	InChannel bool        `json:"in_channel,omitempty"`
}

// Autocomplete returns up to limit members of ws whose handle, display name
// or a word of it starts with prefix: an exact handle first, then members
// of ch (if set), then by handle. Guests only find members of ch.
func (v *View) Autocomplete(asker core.UserID, ws WorkspaceID, ch ChannelID, prefix string, limit int) ([]Suggestion, error) {
	v.mu.RLock()
	defer v.mu.RUnlock()
	w := v.ws[ws]
	if w == nil || w.members[asker] == nil {
		return nil, errs.E(errs.NotFound, "no such workspace")
	}
	var c *vChannel
	if ch != "" {
		c = v.ch[ch]
		if c == nil || c.ws != ws || (c.members[asker] == nil && (c.kind != Public || w.members[asker].role == RoleGuest)) {
			return nil, errNoChannel
		}
	}
	guest := w.members[asker].role == RoleGuest
	if guest && c == nil {
		return nil, errs.E(errs.Forbidden, "guests complete names within a channel")
	}
	var skip func(core.UserID) bool
	if guest {
		skip = func(u core.UserID) bool { return c.members[u] == nil }
	}
	prefix = strings.ToLower(strings.TrimPrefix(strings.TrimSpace(prefix), "@"))
	cands := w.index.search(prefix, max(limit*4, 64), skip)
	type ranked struct {
		Suggestion
		rank int
	}
	rs := make([]ranked, 0, len(cands))
	for _, u := range cands {
		m := w.members[u]
		if m == nil {
			continue
		}
		r := ranked{Suggestion: Suggestion{User: u, Profile: m.profile, Bot: m.bot}}
		if c != nil {
			r.InChannel = c.members[u] != nil
		}
		h := strings.ToLower(m.profile.Handle)
		switch {
		case h == prefix:
			r.rank = 0
		case r.InChannel && strings.HasPrefix(h, prefix):
			r.rank = 1
		case r.InChannel:
			r.rank = 2
		case strings.HasPrefix(h, prefix):
			r.rank = 3
		default:
			r.rank = 4
		}
		rs = append(rs, r)
	}
	sort.SliceStable(rs, func(i, j int) bool {
		if rs[i].rank != rs[j].rank {
			return rs[i].rank < rs[j].rank
		}
		return rs[i].Profile.Handle < rs[j].Profile.Handle
	})
	out := make([]Suggestion, 0, min(limit, len(rs)))
	for i := 0; i < len(rs) && i < limit; i++ {
		out = append(out, rs[i].Suggestion)
	}
	return out, nil
}

// Profiles returns the profiles of those of users who are (or were seen
// as) members of ws.
func (v *View) Profiles(ws WorkspaceID, users []core.UserID) map[core.UserID]Suggestion {
	v.mu.RLock()
	defer v.mu.RUnlock()
	out := map[core.UserID]Suggestion{}
	w := v.ws[ws]
	if w == nil {
		return out
	}
	for _, u := range users {
		if m := w.members[u]; m != nil {
			out[u] = Suggestion{User: u, Profile: m.profile, Bot: m.bot}
		}
	}
	return out
}

// Workspaces returns the workspaces user is a member of, sorted by id.
func (v *View) Workspaces(user core.UserID) []WorkspaceID {
	v.mu.RLock()
	defer v.mu.RUnlock()
	u := v.users[user]
	if u == nil {
		return nil
	}
	out := make([]WorkspaceID, 0, len(u.workspaces))
	for w := range u.workspaces {
		out = append(out, w)
	}
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	return out
}

// Stats counts what the view holds.
type Stats struct {
	Workspaces, Channels, Users, Members, Streams int
}

// Stats returns the view's size.
func (v *View) Stats() Stats {
	v.mu.RLock()
	defer v.mu.RUnlock()
	s := Stats{Workspaces: len(v.ws), Channels: len(v.ch), Users: len(v.users), Streams: len(v.seqs)}
	for _, w := range v.ws {
		s.Members += len(w.members)
	}
	return s
}

// Streams returns the last applied sequence of every stream.
func (v *View) Streams() map[core.StreamID]uint64 {
	v.mu.RLock()
	defer v.mu.RUnlock()
	out := make(map[core.StreamID]uint64, len(v.seqs))
	for s, q := range v.seqs {
		out[s] = q
	}
	return out
}

// marshal encodes v, which cannot fail for the view's own types.
func marshal(x any) []byte {
	b, err := json.Marshal(x)
	if err != nil {
		panic("chat: marshal: " + err.Error())
	}
	return b
}
