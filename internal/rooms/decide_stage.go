package rooms

import (
	"encoding/json"
	"sort"
	"strconv"
	"time"

	"github.com/parleyhq/parley/internal/actor"
	"github.com/parleyhq/parley/internal/core"
	"github.com/parleyhq/parley/internal/errs"
)

// target returns the user a moderation command names, who must not be the
// caller.
func (c *call) target() (core.UserID, error) {
	u := c.in.User
	if !core.ValidToken(string(u)) {
		return "", errs.E(errs.InvalidArgument, "user is required")
	}
	if u == c.user {
		return "", errs.E(errs.InvalidArgument, "not on yourself")
	}
	return u, nil
}

// outranks checks that the caller ranks above u.
func (c *call) outranks(u core.UserID) error {
	if c.b.authRole(u).rank() >= c.b.authRole(c.user).rank() {
		return errs.E(errs.Forbidden, "a %s may not act on a %s", c.b.authRole(c.user), c.b.authRole(u))
	}
	return nil
}

func (b *Behavior) stageFull(now time.Time) bool {
	return len(b.stageView(now, nil)) >= b.lim.MaxStage
}

// roleChange returns the event that moves u to role r.
func (c *call) roleChange(u core.UserID, r Role, reason string) decision {
	b := c.b
	prev := b.roleOf(u)
	m := *b.memberView(u, c.now)
	m.role = r
	switch {
	case r.OnStage() && !prev.OnStage():
		m.stageSince, m.muted, m.locked = c.now, true, false
	case !r.OnStage():
		m.muted, m.locked = false, false
	}
	typ := EvRoleChanged
	switch {
	case r.OnStage() && !prev.OnStage():
		typ = EvSpeakerAdded
	case !r.OnStage() && prev.OnStage():
		typ = EvSpeakerRemoved
	}
	stage := b.stageView(c.now, map[core.UserID]*member{u: &m})
	return events(c.event(typ, RoleData{User: u, Role: r, Previous: prev, Reason: reason, Stage: stage}))
}

func (c *call) invite() (decision, error) {
	b := c.b
	if err := c.allow(ActInvite); err != nil {
		return decision{}, err
	}
	if err := b.requireLive(); err != nil {
		return decision{}, err
	}
	u, err := c.target()
	if err != nil {
		return decision{}, err
	}
	if b.roleOf(u) != RoleListener {
		return decision{}, errs.E(errs.InvalidArgument, "only a listener in the room can be invited to speak")
	}
	if b.invites[u] {
		return reply(struct{}{}), nil
	}
	if b.stageFull(c.now) {
		return decision{}, errs.E(errs.LimitExceeded, "the stage is full (%d)", b.lim.MaxStage)
	}
	dec := events(c.event(EvInvited, Target{User: u}))
	note, _ := json.Marshal(map[string]any{"room": b.id, "by": c.user})
	dec.Notify = []actor.Notice{{User: u, Event: "room.invited_to_speak", Data: note}}
	return dec, nil
}

func (c *call) inviteCancel() (decision, error) {
	if err := c.allow(ActInvite); err != nil {
		return decision{}, err
	}
	u, err := c.target()
	if err != nil {
		return decision{}, err
	}
	if !c.b.invites[u] {
		return decision{}, errs.E(errs.NotFound, "no pending invitation for %s", u)
	}
	return events(c.event(EvInviteCancelled, Target{User: u})), nil
}

func (c *call) inviteAnswer() (decision, error) {
	b := c.b
	if err := c.allowPresent(ActAnswer); err != nil {
		return decision{}, err
	}
	if !b.invites[c.user] {
		return decision{}, errs.E(errs.Forbidden, "you have no invitation to speak")
	}
	if c.in.Accept == nil {
		return decision{}, errs.E(errs.InvalidArgument, "accept is required")
	}
	if !*c.in.Accept {
		return events(c.event(EvInviteDeclined, Target{User: c.user})), nil
	}
	if b.stageFull(c.now) {
		return decision{}, errs.E(errs.LimitExceeded, "the stage is full (%d)", b.lim.MaxStage)
	}
	return c.roleChange(c.user, RoleSpeaker, "invite"), nil
}

func (c *call) stageJoin() (decision, error) {
	b := c.b
	if err := c.allowPresent(ActStageJoin); err != nil {
		return decision{}, err
	}
	if !b.settings.OpenStage {
		return decision{}, errs.E(errs.Forbidden, "the stage is not open; raise your hand")
	}
	if b.stageFull(c.now) {
		return decision{}, errs.E(errs.LimitExceeded, "the stage is full (%d)", b.lim.MaxStage)
	}
	return c.roleChange(c.user, RoleSpeaker, "open_stage"), nil
}

func (c *call) stageLeave() (decision, error) {
	if err := c.allowPresent(ActStageLeave); err != nil {
		return decision{}, err
	}
	return c.roleChange(c.user, RoleListener, "left_stage"), nil
}

func (c *call) stageRemove() (decision, error) {
	if err := c.allow(ActStageRemove); err != nil {
		return decision{}, err
	}
	u, err := c.target()
	if err != nil {
		return decision{}, err
	}
	if c.b.roleOf(u) != RoleSpeaker {
		return decision{}, errs.E(errs.InvalidArgument, "%s is not a speaker", u)
	}
	return c.roleChange(u, RoleListener, "moved"), nil
}

func (c *call) setRole() (decision, error) {
	b := c.b
	if err := c.allow(ActSetRole); err != nil {
		return decision{}, err
	}
	u, err := c.target()
	if err != nil {
		return decision{}, err
	}
	r := Role(c.in.Role)
	switch r {
	case RoleModerator, RoleSpeaker, RoleListener:
	default:
		return decision{}, errs.E(errs.InvalidArgument, "role must be moderator, speaker or listener")
	}
	if !b.present(u) {
		return decision{}, errs.E(errs.InvalidArgument, "%s is not in the room", u)
	}
	prev := b.roleOf(u)
	if prev == r {
		return reply(struct{}{}), nil
	}
	if r.OnStage() && !prev.OnStage() && b.stageFull(c.now) {
		return decision{}, errs.E(errs.LimitExceeded, "the stage is full (%d)", b.lim.MaxStage)
	}
	return c.roleChange(u, r, "set_role"), nil
}

func (c *call) mute() (decision, error) {
	b, in := c.b, c.in
	u := in.User
	if u == "" {
		u = c.user
	}
	if u == c.user {
		if err := c.allowPresent(ActMuteSelf); err != nil {
			return decision{}, err
		}
		if in.Locked != nil {
			return decision{}, errs.E(errs.InvalidArgument, "you cannot lock your own microphone")
		}
		if in.Muted == nil {
			return decision{}, errs.E(errs.InvalidArgument, "muted is required")
		}
		m := b.memberView(u, c.now)
		if !*in.Muted && m.locked {
			return decision{}, errs.E(errs.Forbidden, "a moderator muted you and locked your microphone")
		}
		return c.muteEvent(u, m, *in.Muted, m.locked), nil
	}
	if err := c.allow(ActMuteOther); err != nil {
		return decision{}, err
	}
	if err := c.outranks(u); err != nil {
		return decision{}, err
	}
	m := b.memberView(u, c.now)
	if m == nil || !m.role.OnStage() {
		return decision{}, errs.E(errs.InvalidArgument, "%s is not on the stage", u)
	}
	muted, locked := m.muted, m.locked
	if in.Muted != nil {
		if !*in.Muted {
			return decision{}, errs.E(errs.Forbidden, "only a speaker can unmute themselves; unlock their microphone instead")
		}
		muted = true
	}
	if in.Locked != nil {
		locked = *in.Locked
	}
	if in.Muted == nil && in.Locked == nil {
		return decision{}, errs.E(errs.InvalidArgument, "muted or locked is required")
	}
	if locked {
		muted = true
	}
	return c.muteEvent(u, m, muted, locked), nil
}

func (c *call) muteEvent(u core.UserID, m *member, muted, locked bool) decision {
	if m.muted == muted && m.locked == locked {
		return reply(map[string]any{"muted": muted, "locked": locked})
	}
	n := *m
	n.muted, n.locked = muted, locked
	stage := c.b.stageView(c.now, map[core.UserID]*member{u: &n})
	d := events(c.event(EvMute, MuteData{User: u, Muted: muted, Locked: locked, Stage: stage}))
	d.Reply = map[string]any{"muted": muted, "locked": locked}
	return d
}

// remove kicks or blocks a user.
func (c *call) remove() (decision, error) {
	b := c.b
	action, typ := ActKick, EvKicked
	if c.cmd.Name == CmdBlock {
		action, typ = ActBlock, EvBlocked
	}
	if err := c.allow(action); err != nil {
		return decision{}, err
	}
	u, err := c.target()
	if err != nil {
		return decision{}, err
	}
	if err := c.outranks(u); err != nil {
		return decision{}, err
	}
	if (typ == EvKicked && b.kicked[u]) || (typ == EvBlocked && b.blocked[u]) {
		return reply(struct{}{}), nil
	}
	t := Target{User: u}
	if b.roleOf(u).OnStage() {
		t.Stage = b.stageView(c.now, map[core.UserID]*member{u: nil})
	}
	return events(c.event(typ, t)), nil
}

func (c *call) unblock() (decision, error) {
	if err := c.allow(ActBlock); err != nil {
		return decision{}, err
	}
	u, err := c.target()
	if err != nil {
		return decision{}, err
	}
	return events(c.event(EvUnblocked, Target{User: u})), nil
}

// ReportCheck answers a report command: the room accepted it, and the app
// writes it to the moderation inbox.
type ReportCheck struct {
	User    core.UserID `json:"user,omitempty"`
	Comment int64       `json:"comment,omitempty"`
	Author  core.UserID `json:"author,omitempty"`
	Text    string      `json:"text,omitempty"`
	Reason  string      `json:"reason"`
}

func (c *call) report() (decision, error) {
	b, in := c.b, c.in
	if err := c.allowPresent(ActReport); err != nil {
		return decision{}, err
	}
	reason, err := text("reason", in.Reason, 0, b.lim.MaxReason)
	if err != nil {
		return decision{}, err
	}
	r := ReportCheck{Reason: reason}
	switch {
	case in.Comment > 0:
		cm := b.comments[in.Comment]
		if cm == nil {
			return decision{}, errs.E(errs.NotFound, "no comment %d", in.Comment)
		}
		r.Comment, r.Author, r.Text, r.User = in.Comment, cm.author, cm.text, cm.author
	case in.User != "":
		u, err := c.target()
		if err != nil {
			return decision{}, err
		}
		r.User = u
	default:
		return decision{}, errs.E(errs.InvalidArgument, "report a comment or a user")
	}
	return reply(r), nil
}

// Page is an answer of room.hands and room.audience.
type Page struct {
	Users []core.UserID `json:"users"`
	Next  string        `json:"next,omitempty"`
	Total int           `json:"total"`
}

func (b *Behavior) limit(n int) int {
	if n <= 0 {
		return min(50, b.lim.PageLimit)
	}
	return min(n, b.lim.PageLimit)
}

func (c *call) handsPage() (decision, error) {
	b := c.b
	if err := c.allow(ActHands); err != nil {
		return decision{}, err
	}
	start := 0
	if c.in.After != "" {
		n, err := strconv.Atoi(c.in.After)
		if err != nil || n < 0 {
			return decision{}, errs.E(errs.InvalidArgument, "bad cursor")
		}
		start = n
	}
	start = min(start, len(b.hands))
	end := min(start+b.limit(c.in.Limit), len(b.hands))
	p := Page{Users: append([]core.UserID{}, b.hands[start:end]...), Total: len(b.hands)}
	if end < len(b.hands) {
		p.Next = strconv.Itoa(end)
	}
	return reply(p), nil
}

func (c *call) audiencePage() (decision, error) {
	b := c.b
	if err := c.allowPresent(ActAudience); err != nil {
		return decision{}, err
	}
	if !b.v.audienceOK {
		b.v.audience = b.v.audience[:0]
		for u, m := range b.members {
			if m.role == RoleListener {
				b.v.audience = append(b.v.audience, u)
			}
		}
		sort.Slice(b.v.audience, func(i, j int) bool { return b.v.audience[i] < b.v.audience[j] })
		b.v.audienceOK = true
	}
	list := b.v.audience
	start := 0
	if c.in.After != "" {
		start = sort.Search(len(list), func(i int) bool { return list[i] > core.UserID(c.in.After) })
	}
	end := min(start+b.limit(c.in.Limit), len(list))
	p := Page{Users: append([]core.UserID{}, list[start:end]...), Total: len(list)}
	if end < len(list) {
		p.Next = string(list[end-1])
	}
	return reply(p), nil
}
