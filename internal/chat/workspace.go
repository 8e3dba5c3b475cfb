package chat

import (
	"encoding/json"
	"sort"
	"strings"
	"time"

	"github.com/parleyhq/parley/internal/actor"
	"github.com/parleyhq/parley/internal/core"
	"github.com/parleyhq/parley/internal/errs"
	"github.com/parleyhq/parley/internal/eventlog"
)

// Workspace commands (actor.Command.Name) and their data.
const (
	CmdWorkspaceCreate  = "create"
	CmdWorkspaceRename  = "rename"
	CmdInviteCreate     = "invite.create"
	CmdInviteRevoke     = "invite.revoke"
	CmdWorkspaceJoin    = "join"
	CmdMemberAdd        = "member.add"
	CmdWorkspaceLeave   = "leave"
	CmdMemberRemove     = "member.remove"
	CmdMemberRole       = "member.role"
	CmdMemberProfile    = "member.profile"
	CmdChannelReserve   = "channel.create"
	CmdChannelRenameReg = "channel.rename"
	CmdBotCreate        = "bot.create"
)

// CreateWorkspace is the data of CmdWorkspaceCreate; the actor becomes the
// owner.
type CreateWorkspace struct {
	Name    string  `json:"name"`
	Profile Profile `json:"profile"`
}

// CreateInvite is the data of CmdInviteCreate. The caller makes the secret
// code and passes only its hash.
type CreateInvite struct {
	Invite    string      `json:"invite"`
	Hash      string      `json:"hash"`
	Role      Role        `json:"role"`
	Email     string      `json:"email,omitempty"`
	ExpiresAt time.Time   `json:"expires_at"`
	MaxUses   int         `json:"max_uses"`
	Channels  []ChannelID `json:"channels,omitempty"`
}

// JoinWorkspace is the data of CmdWorkspaceJoin: the hash of the invite
// code, and the joining account's e-mail address and profile.
type JoinWorkspace struct {
	Hash    string  `json:"hash"`
	Email   string  `json:"email"`
	Profile Profile `json:"profile"`
}

// AddMember is the data of CmdMemberAdd (an admin adds an existing account)
// and CmdBotCreate (an admin adds a bot user).
type AddMember struct {
	User    core.UserID `json:"user"`
	Role    Role        `json:"role"`
	Profile Profile     `json:"profile"`
}

// UserRef names a user (CmdMemberRemove, CmdInviteRevoke's invite in User is
// not used).
type UserRef struct {
	User core.UserID `json:"user"`
}

// SetRole is the data of CmdMemberRole.
type SetRole struct {
	User core.UserID `json:"user"`
	Role Role        `json:"role"`
}

// InviteRef names an invite.
type InviteRef struct {
	Invite string `json:"invite"`
}

// ReserveChannel is the data of CmdChannelReserve and CmdChannelRenameReg.
type ReserveChannel struct {
	Channel ChannelID `json:"channel"`
	Name    string    `json:"name"`
	Private bool      `json:"private,omitempty"`
}

// WMember is a workspace member as the workspace writer knows it.
type WMember struct {
	Role    Role        `json:"role"`
	Profile Profile     `json:"profile"`
	Bot     bool        `json:"bot,omitempty"`
	Joined  time.Time   `json:"joined"`
	Guest   []ChannelID `json:"guest_channels,omitempty"`
}

// Invite is an invite as the workspace writer knows it.
type Invite struct {
	InviteCreated
	By      core.UserID `json:"by"`
	Uses    int         `json:"uses"`
	Revoked bool        `json:"revoked,omitempty"`
}

// Workspace is the behaviour of a workspace:<id> stream: its state and
// rules. It is used by one actor goroutine at a time.
type Workspace struct {
	lim       Limits
	id        WorkspaceID
	Created   bool                         `json:"created"`
	Name      string                       `json:"name"`
	CreatedBy core.UserID                  `json:"created_by"`
	CreatedAt time.Time                    `json:"created_at"`
	Members   map[core.UserID]*WMember     `json:"members"`
	Invites   map[string]*Invite           `json:"invites"`
	Channels  map[ChannelID]ChannelCreated `json:"channels"`
	names     map[string]ChannelID
	byHash    map[string]string
}

var _ actor.Behavior = (*Workspace)(nil)

// NewWorkspace returns the actor factory of workspace streams.
func NewWorkspace(lim Limits) actor.Factory {
	return func(s core.StreamID) actor.Behavior {
		return &Workspace{
			lim:      lim,
			id:       WorkspaceID(s.ID()),
			Members:  map[core.UserID]*WMember{},
			Invites:  map[string]*Invite{},
			Channels: map[ChannelID]ChannelCreated{},
			names:    map[string]ChannelID{},
			byHash:   map[string]string{},
		}
	}
}

// State implements actor.Behavior.
func (w *Workspace) State() any { return w }

// Apply implements actor.Behavior.
func (w *Workspace) Apply(ev *eventlog.Event) {
	v, err := Decode(ev)
	if err != nil {
		return // an event this version cannot read changes nothing
	}
	switch e := v.(type) {
	case *WorkspaceCreated:
		w.Created, w.Name, w.CreatedBy, w.CreatedAt = true, e.Name, ev.Actor, ev.Time
	case *WorkspaceRenamed:
		w.Name = e.Name
	case *MemberJoined:
		m := &WMember{Role: e.Role, Bot: e.Bot, Joined: ev.Time, Guest: e.Channels}
		if e.Profile != nil {
			m.Profile = *e.Profile
		}
		w.Members[e.User] = m
		if inv := w.Invites[e.Invite]; inv != nil {
			inv.Uses++
		}
	case *MemberLeft:
		delete(w.Members, e.User)
	case *MemberRemoved:
		delete(w.Members, e.User)
	case *MemberRoleChanged:
		if m := w.Members[e.User]; m != nil {
			m.Role = e.Role
		}
	case *MemberUpdated:
		if m := w.Members[e.User]; m != nil {
			m.Profile = e.Profile
		}
	case *InviteCreated:
		w.Invites[e.Invite] = &Invite{InviteCreated: *e, By: ev.Actor}
		w.byHash[e.Hash] = e.Invite
	case *InviteRevoked:
		if inv := w.Invites[e.Invite]; inv != nil {
			inv.Revoked = true
		}
	case *ChannelCreated:
		w.Channels[e.Channel] = *e
		w.names[e.NameKey] = e.Channel
	case *ChannelNameReserved:
		if old, ok := w.Channels[e.Channel]; ok {
			delete(w.names, old.NameKey)
			old.NameKey, old.Name = e.NameKey, e.Name
			w.Channels[e.Channel] = old
			w.names[e.NameKey] = e.Channel
		}
	}
}

// Decide implements actor.Behavior.
func (w *Workspace) Decide(cmd *actor.Command) (actor.Decision, error) {
	if cmd.Name == CmdWorkspaceCreate {
		return w.create(cmd)
	}
	if !w.Created {
		return actor.Decision{}, errs.E(errs.NotFound, "no such workspace")
	}
	if cmd.Name == CmdWorkspaceJoin {
		return w.join(cmd)
	}
	if cmd.Name == CmdMemberProfile {
		var p MemberUpdated
		if err := decodeCmd(cmd, &p); err != nil {
			return actor.Decision{}, err
		}
		m := w.Members[p.User]
		if m == nil || m.Profile == p.Profile {
			return actor.Decision{}, nil
		}
		return one(draft(EvMemberUpdated, p.User, p)), nil
	}
	me := w.Members[cmd.Actor]
	if me == nil {
		return actor.Decision{}, errs.E(errs.Forbidden, "not a member of this workspace")
	}
	switch cmd.Name {
	case CmdWorkspaceRename:
		var p CreateWorkspace
		if err := decodeCmd(cmd, &p); err != nil {
			return actor.Decision{}, err
		}
		if !me.Role.Admin() {
			return actor.Decision{}, errs.E(errs.Forbidden, "only admins rename the workspace")
		}
		name, err := CheckWorkspaceName(p.Name)
		if err != nil || name == w.Name {
			return actor.Decision{}, err
		}
		return one(draft(EvWorkspaceRenamed, "", WorkspaceRenamed{Name: name})), nil
	case CmdInviteCreate:
		return w.invite(cmd, me)
	case CmdInviteRevoke:
		var p InviteRef
		if err := decodeCmd(cmd, &p); err != nil {
			return actor.Decision{}, err
		}
		inv := w.Invites[p.Invite]
		if inv == nil {
			return actor.Decision{}, errs.E(errs.NotFound, "no such invite")
		}
		if inv.By != cmd.Actor && !me.Role.Admin() {
			return actor.Decision{}, errs.E(errs.Forbidden, "only admins revoke others' invites")
		}
		if inv.Revoked {
			return actor.Decision{}, nil
		}
		return one(draft(EvInviteRevoked, "", InviteRevoked{Invite: p.Invite})), nil
	case CmdMemberAdd, CmdBotCreate:
		var p AddMember
		if err := decodeCmd(cmd, &p); err != nil {
			return actor.Decision{}, err
		}
		if !me.Role.Admin() {
			return actor.Decision{}, errs.E(errs.Forbidden, "only admins add members directly")
		}
		if !core.ValidToken(string(p.User)) {
			return actor.Decision{}, errs.E(errs.InvalidArgument, "bad user id")
		}
		if w.Members[p.User] != nil {
			if cmd.Name == CmdMemberAdd {
				return actor.Decision{}, nil
			}
			return actor.Decision{}, errs.E(errs.AlreadyExists, "user is already a member")
		}
		if p.Role == "" {
			p.Role = RoleMember
		}
		if p.Role == RoleOwner || !p.Role.Valid() || (cmd.Name == CmdBotCreate && p.Role != RoleMember) {
			return actor.Decision{}, errs.E(errs.InvalidArgument, "bad role %q", p.Role)
		}
		if cmd.Name == CmdBotCreate && w.handleTaken(p.Profile.Handle) {
			return actor.Decision{}, errs.E(errs.AlreadyExists, "handle is already taken in this workspace")
		}
		prof := p.Profile
		return one(draft(EvMemberJoined, "", MemberJoined{User: p.User, Role: p.Role, Profile: &prof, Bot: cmd.Name == CmdBotCreate, By: cmd.Actor})), nil
	case CmdWorkspaceLeave:
		if me.Role == RoleOwner && w.owners() == 1 && len(w.Members) > 1 {
			return actor.Decision{}, errs.E(errs.Conflict, "the last owner cannot leave; make someone else owner first")
		}
		return one(draft(EvMemberLeft, "", MemberLeft{User: cmd.Actor})), nil
	case CmdMemberRemove:
		var p UserRef
		if err := decodeCmd(cmd, &p); err != nil {
			return actor.Decision{}, err
		}
		target := w.Members[p.User]
		if target == nil {
			return actor.Decision{}, errs.E(errs.NotFound, "not a member")
		}
		if !me.Role.Admin() || (target.Role == RoleOwner && me.Role != RoleOwner) {
			return actor.Decision{}, errs.E(errs.Forbidden, "not allowed to remove this member")
		}
		if target.Role == RoleOwner && w.owners() == 1 {
			return actor.Decision{}, errs.E(errs.Conflict, "the last owner cannot be removed")
		}
		return one(draft(EvMemberRemoved, "", MemberRemoved{User: p.User, By: cmd.Actor})), nil
	case CmdMemberRole:
		return w.setRole(cmd, me)
	case CmdChannelReserve, CmdChannelRenameReg:
		return w.reserve(cmd, me)
	}
	return actor.Decision{}, errs.E(errs.InvalidArgument, "unknown workspace command %q", cmd.Name)
}

func (w *Workspace) create(cmd *actor.Command) (actor.Decision, error) {
	if w.Created {
		return actor.Decision{}, errs.E(errs.AlreadyExists, "workspace exists")
	}
	var p CreateWorkspace
	if err := decodeCmd(cmd, &p); err != nil {
		return actor.Decision{}, err
	}
	name, err := CheckWorkspaceName(p.Name)
	if err != nil {
		return actor.Decision{}, err
	}
	prof := p.Profile
	return actor.Decision{Events: []eventlog.Draft{
		draft(EvWorkspaceCreated, "", WorkspaceCreated{Workspace: w.id, Name: name}),
		draft(EvMemberJoined, "", MemberJoined{User: cmd.Actor, Role: RoleOwner, Profile: &prof}),
	}}, nil
}

func (w *Workspace) invite(cmd *actor.Command, me *WMember) (actor.Decision, error) {
	var p CreateInvite
	if err := decodeCmd(cmd, &p); err != nil {
		return actor.Decision{}, err
	}
	switch {
	case me.Role == RoleGuest:
		return actor.Decision{}, errs.E(errs.Forbidden, "guests cannot invite")
	case !p.Role.Valid() || p.Role == RoleOwner:
		return actor.Decision{}, errs.E(errs.InvalidArgument, "an invite's role is admin, member or guest")
	case p.Role != RoleMember && !me.Role.Admin():
		return actor.Decision{}, errs.E(errs.Forbidden, "only admins invite admins and guests")
	case p.Role == RoleAdmin && p.Email == "":
		return actor.Decision{}, errs.E(errs.InvalidArgument, "an admin invite must name the invitee's e-mail")
	case p.Invite == "" || p.Hash == "" || w.Invites[p.Invite] != nil:
		return actor.Decision{}, errs.E(errs.InvalidArgument, "bad invite id")
	case !p.ExpiresAt.After(cmd.Time):
		return actor.Decision{}, errs.E(errs.InvalidArgument, "an invite must expire in the future")
	case p.MaxUses < 1 || p.MaxUses > w.lim.MaxInviteUses:
		return actor.Decision{}, errs.E(errs.InvalidArgument, "max_uses must be 1-%d", w.lim.MaxInviteUses)
	case p.Role == RoleGuest && (len(p.Channels) == 0 || len(p.Channels) > w.lim.MaxInviteChannel):
		return actor.Decision{}, errs.E(errs.InvalidArgument, "a guest invite names 1-%d channels", w.lim.MaxInviteChannel)
	case p.Role != RoleGuest && len(p.Channels) > 0:
		return actor.Decision{}, errs.E(errs.InvalidArgument, "only guest invites name channels")
	}
	for _, c := range p.Channels {
		if _, ok := w.Channels[c]; !ok {
			return actor.Decision{}, errs.E(errs.NotFound, "no channel %s in this workspace", c)
		}
	}
	p.Email = strings.ToLower(strings.TrimSpace(p.Email))
	ev := InviteCreated{Invite: p.Invite, Hash: p.Hash, Role: p.Role, Email: p.Email, ExpiresAt: p.ExpiresAt.UTC(), MaxUses: p.MaxUses, Channels: p.Channels}
	return one(draft(EvInviteCreated, "", ev)), nil
}

func (w *Workspace) join(cmd *actor.Command) (actor.Decision, error) {
	var p JoinWorkspace
	if err := decodeCmd(cmd, &p); err != nil {
		return actor.Decision{}, err
	}
	inv := w.Invites[w.byHash[p.Hash]]
	switch {
	case inv == nil || inv.Revoked || !cmd.Time.Before(inv.ExpiresAt) || inv.Uses >= inv.MaxUses:
		return actor.Decision{}, errs.E(errs.NotFound, "the invite is unknown, used up, revoked or expired")
	case inv.Email != "" && !strings.EqualFold(inv.Email, strings.TrimSpace(p.Email)):
		return actor.Decision{}, errs.E(errs.Forbidden, "this invite is for another e-mail address")
	}
	if w.Members[cmd.Actor] != nil {
		return actor.Decision{Reply: map[string]bool{"already_member": true}}, nil
	}
	prof := p.Profile
	return one(draft(EvMemberJoined, "", MemberJoined{User: cmd.Actor, Role: inv.Role, Profile: &prof, Invite: inv.Invite, Channels: inv.Channels})), nil
}

func (w *Workspace) setRole(cmd *actor.Command, me *WMember) (actor.Decision, error) {
	var p SetRole
	if err := decodeCmd(cmd, &p); err != nil {
		return actor.Decision{}, err
	}
	target := w.Members[p.User]
	switch {
	case target == nil:
		return actor.Decision{}, errs.E(errs.NotFound, "not a member")
	case !p.Role.Valid():
		return actor.Decision{}, errs.E(errs.InvalidArgument, "bad role %q", p.Role)
	case target.Bot:
		return actor.Decision{}, errs.E(errs.InvalidArgument, "a bot's role cannot change")
	case !me.Role.Admin():
		return actor.Decision{}, errs.E(errs.Forbidden, "only admins change roles")
	case me.Role != RoleOwner && (p.Role.Admin() || target.Role.Admin()):
		return actor.Decision{}, errs.E(errs.Forbidden, "only owners grant or withdraw admin and owner roles")
	case target.Role == p.Role:
		return actor.Decision{}, nil
	case target.Role == RoleOwner && w.owners() == 1:
		return actor.Decision{}, errs.E(errs.Conflict, "the workspace needs at least one owner")
	}
	return one(draft(EvMemberRole, "", MemberRoleChanged{User: p.User, Role: p.Role})), nil
}

func (w *Workspace) reserve(cmd *actor.Command, me *WMember) (actor.Decision, error) {
	var p ReserveChannel
	if err := decodeCmd(cmd, &p); err != nil {
		return actor.Decision{}, err
	}
	if me.Role == RoleGuest {
		return actor.Decision{}, errs.E(errs.Forbidden, "guests cannot create or rename channels")
	}
	name, err := NormalizeChannelName(p.Name)
	if err != nil {
		return actor.Decision{}, err
	}
	if !p.Channel.Valid() {
		return actor.Decision{}, errs.E(errs.InvalidArgument, "bad channel id")
	}
	existing, exists := w.Channels[p.Channel]
	if cmd.Name == CmdChannelRenameReg {
		if !exists {
			return actor.Decision{}, errs.E(errs.NotFound, "no such channel")
		}
		p.Private = existing.Private
	} else if exists {
		return actor.Decision{}, errs.E(errs.AlreadyExists, "channel exists")
	}
	key := NameKey(w.id, name, p.Private)
	if other, taken := w.names[key]; taken {
		if other == p.Channel {
			return actor.Decision{}, nil
		}
		return actor.Decision{}, errs.E(errs.AlreadyExists, "a channel named %q exists", name)
	}
	if !p.Private {
		// A public name must not match a private channel's either.
		if _, taken := w.names[NameKey(w.id, name, true)]; taken {
			return actor.Decision{}, errs.E(errs.AlreadyExists, "a channel named %q exists", name)
		}
	} else if _, taken := w.names[name]; taken {
		return actor.Decision{}, errs.E(errs.AlreadyExists, "a channel named %q exists", name)
	}
	shown := name
	if p.Private {
		shown = ""
	}
	if cmd.Name == CmdChannelRenameReg {
		return one(draft(EvChannelNamed, "", ChannelNameReserved{Channel: p.Channel, Name: shown, NameKey: key})), nil
	}
	return one(draft(EvChannelCreated, "", ChannelCreated{Channel: p.Channel, Private: p.Private, Name: shown, NameKey: key})), nil
}

func (w *Workspace) owners() int {
	n := 0
	for _, m := range w.Members {
		if m.Role == RoleOwner {
			n++
		}
	}
	return n
}

func (w *Workspace) handleTaken(h string) bool {
	for _, m := range w.Members {
		if strings.EqualFold(m.Profile.Handle, h) {
			return true
		}
	}
	return false
}

// MemberIDs returns the members' ids in order (for tests and replay).
func (w *Workspace) MemberIDs() []core.UserID {
	out := make([]core.UserID, 0, len(w.Members))
	for u := range w.Members {
		out = append(out, u)
	}
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	return out
}

func one(d eventlog.Draft) actor.Decision { return actor.Decision{Events: []eventlog.Draft{d}} }

func decodeCmd(cmd *actor.Command, v any) error {
	if len(cmd.Data) == 0 {
		return errs.E(errs.InvalidArgument, "command %s needs data", cmd.Name)
	}
	if err := json.Unmarshal(cmd.Data, v); err != nil {
		return errs.E(errs.InvalidArgument, "bad %s command: %v", cmd.Name, err)
	}
	return nil
}
