package rooms

import (
	"encoding/json"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/parleyhq/parley/internal/actor"
	"github.com/parleyhq/parley/internal/core"
	"github.com/parleyhq/parley/internal/errs"
	"github.com/parleyhq/parley/internal/eventlog"
)

// Command names. The protocol method of each is "room." + the name.
const (
	CmdCreate        = "create"
	CmdUpdate        = "update"
	CmdStart         = "start"
	CmdEnd           = "end"
	CmdGet           = "get"
	CmdJoin          = "join"
	CmdLeave         = "leave"
	CmdGuests        = "guests"
	CmdInterest      = "interest"
	CmdHand          = "hand"
	CmdHands         = "hands"
	CmdAudience      = "audience"
	CmdInvite        = "invite"
	CmdInviteCancel  = "invite.cancel"
	CmdInviteAnswer  = "invite.answer"
	CmdStageJoin     = "stage.join"
	CmdStageLeave    = "stage.leave"
	CmdStageRemove   = "stage.remove"
	CmdRole          = "role"
	CmdMute          = "mute"
	CmdKick          = "kick"
	CmdBlock         = "block"
	CmdUnblock       = "unblock"
	CmdReport        = "report"
	CmdComment       = "comment"
	CmdCommentDelete = "comment.delete"
	CmdCommentPin    = "comment.pin"
	CmdCommentUnpin  = "comment.unpin"
	CmdSettings      = "settings"
	CmdReact         = "react"
	CmdPollOpen      = "poll.open"
	CmdPollVote      = "poll.vote"
	CmdPollClose     = "poll.close"

	// Internal commands, sent by the app, never by clients.
	CmdAttach = "attach" // a connection subscribed to the room's stream
	CmdDetach = "detach" // that subscription ended
	CmdExpire = "expire" // wake the room so that an overdue expiry runs
	CmdStage  = "stage"  // query: the stage
	CmdView   = "view"   // query: may the caller see the room (subscribe)?
	CmdWhois  = "whois"  // query: the caller's role
	CmdHot    = "hot"    // query: the live state shared in the bus KV
	CmdMedia  = "media"  // query: the caller's audio rights (MediaState)
)

// ClientCommands lists the commands clients may send, as protocol methods
// "room.<name>".
var ClientCommands = []string{
	CmdCreate, CmdUpdate, CmdStart, CmdEnd, CmdGet, CmdJoin, CmdLeave, CmdGuests, CmdInterest,
	CmdHand, CmdHands, CmdAudience, CmdInvite, CmdInviteCancel, CmdInviteAnswer, CmdStageJoin,
	CmdStageLeave, CmdStageRemove, CmdRole, CmdMute, CmdKick, CmdBlock, CmdUnblock, CmdReport,
	CmdComment, CmdCommentDelete, CmdCommentPin, CmdCommentUnpin, CmdSettings, CmdReact,
	CmdPollOpen, CmdPollVote, CmdPollClose,
}

// Input is the params of a room command, as clients send them. Each
// command reads the fields it needs (docs/protocol.md lists them).
type Input struct {
	Room        RoomID          `json:"room"`
	Title       *string         `json:"title,omitempty"`
	Description *string         `json:"description,omitempty"`
	Topics      []string        `json:"topics,omitempty"`
	Visibility  Visibility      `json:"visibility,omitempty"`
	Workspace   string          `json:"workspace,omitempty"`
	ScheduledAt *time.Time      `json:"scheduled_at,omitempty"`
	OpenStage   *bool           `json:"open_stage,omitempty"`
	User        core.UserID     `json:"user,omitempty"`
	Users       []core.UserID   `json:"users,omitempty"`
	Raised      *bool           `json:"raised,omitempty"`
	Accept      *bool           `json:"accept,omitempty"`
	Interested  *bool           `json:"interested,omitempty"`
	Role        string          `json:"role,omitempty"`
	Muted       *bool           `json:"muted,omitempty"`
	Locked      *bool           `json:"locked,omitempty"`
	Text        string          `json:"text,omitempty"`
	Meta        json.RawMessage `json:"meta,omitempty"`
	Comment     int64           `json:"comment,omitempty"`
	SlowMode    *int            `json:"slow_mode,omitempty"`
	CommentsOff *bool           `json:"comments_off,omitempty"`
	Emoji       string          `json:"emoji,omitempty"`
	Count       int             `json:"count,omitempty"`
	Question    string          `json:"question,omitempty"`
	Options     []string        `json:"options,omitempty"`
	Duration    int             `json:"duration,omitempty"` // seconds
	Poll        int             `json:"poll,omitempty"`
	Option      *int            `json:"option,omitempty"`
	Reason      string          `json:"reason,omitempty"`
	After       string          `json:"after,omitempty"`
	Limit       int             `json:"limit,omitempty"`
	Key         string          `json:"key,omitempty"`
}

// Access carries what the app learned outside the room about the caller,
// for the rules that depend on it. Clients cannot set it.
type Access struct {
	// Conn is the caller's connection (attach and detach).
	Conn core.ConnID `json:"conn,omitempty"`
	// Member says the caller belongs to the room's workspace.
	Member bool `json:"member,omitempty"`
	// Blocked says the host's block list names the caller.
	Blocked bool `json:"blocked,omitempty"`
}

type envelope struct {
	In     Input  `json:"in"`
	Access Access `json:"access"`
}

// Encode returns the command data of in with the app's access facts.
func Encode(in Input, acc Access) json.RawMessage {
	b, _ := json.Marshal(envelope{In: in, Access: acc})
	return b
}

// decision is what a command handler returns; flushed says it already
// included the pending batches.
type decision struct {
	actor.Decision
	flushed bool
}

// Decide validates cmd against the permission table and the room's state
// and returns the events it causes.
func (b *Behavior) Decide(cmd *actor.Command) (actor.Decision, error) {
	now := cmd.Time
	b.prime(now)
	var env envelope
	if len(cmd.Data) > 0 {
		if err := json.Unmarshal(cmd.Data, &env); err != nil {
			return actor.Decision{}, errs.E(errs.InvalidArgument, "bad params: %v", err)
		}
	}
	c := &call{b: b, cmd: cmd, in: &env.In, acc: env.Access, now: now, user: cmd.Actor}
	d, err := c.run()
	if err != nil {
		return actor.Decision{}, err
	}
	if len(d.Events) > 0 && !d.flushed && b.hasPending() {
		d.Events = append(b.flushOrdered(now), d.Events...)
	}
	if len(d.Events) == 0 && earlyAnswer[cmd.Name] {
		d.Early = true
	}
	return d.Decision, nil
}

// earlyAnswer lists the commands that, when they log nothing, are answered
// without waiting for the commit of other commands decided with them: what
// they answer does not depend on the log (a reaction or a vote counted for
// the next batch).
var earlyAnswer = map[string]bool{CmdReact: true, CmdPollVote: true, CmdInterest: true, CmdLeave: true}

// call is one command being decided.
type call struct {
	b    *Behavior
	cmd  *actor.Command
	in   *Input
	acc  Access
	now  time.Time
	user core.UserID
}

func (c *call) run() (decision, error) {
	b := c.b
	switch c.cmd.Name {
	case CmdCreate:
		return c.create()
	case CmdAttach:
		b.attach(c.user, c.acc.Conn)
		return decision{}, nil
	case CmdDetach:
		b.detach(c.user, c.acc.Conn, c.now)
		return decision{}, nil
	}
	if !b.created {
		return decision{}, errs.E(errs.NotFound, "no such room")
	}
	switch c.cmd.Name {
	case CmdGet:
		if err := c.allow(ActView); err != nil {
			return decision{}, err
		}
		return reply(b.snapshot(c.user, c.now)), nil
	case CmdStage:
		return reply(b.stageView(c.now, nil)), nil
	case CmdView:
		if err := c.allow(ActView); err != nil {
			return decision{}, err
		}
		return reply(struct{}{}), nil
	case CmdWhois:
		return reply(b.authRole(c.user)), nil
	case CmdHot:
		return reply(b.hotView(c.now)), nil
	case CmdMedia:
		return b.mediaState(c.user, c.now)
	case CmdExpire:
		if b.status != Ended && !b.expiresAt.IsZero() && !c.now.Before(b.expiresAt) {
			return b.endDecision(c.now, b.expiryReason()), nil
		}
		return reply(map[string]any{"status": b.status}), nil
	}
	if b.status == Ended {
		return decision{}, errs.E(errs.Closed, "the room has ended")
	}
	switch c.cmd.Name {
	case CmdUpdate:
		return c.update()
	case CmdStart:
		return c.start()
	case CmdEnd:
		return c.end()
	case CmdJoin:
		return c.join()
	case CmdLeave:
		return c.leave()
	case CmdGuests:
		return c.guests()
	case CmdInterest:
		return c.interest()
	case CmdHand:
		return c.hand()
	case CmdHands:
		return c.handsPage()
	case CmdAudience:
		return c.audiencePage()
	case CmdInvite:
		return c.invite()
	case CmdInviteCancel:
		return c.inviteCancel()
	case CmdInviteAnswer:
		return c.inviteAnswer()
	case CmdStageJoin:
		return c.stageJoin()
	case CmdStageLeave:
		return c.stageLeave()
	case CmdStageRemove:
		return c.stageRemove()
	case CmdRole:
		return c.setRole()
	case CmdMute:
		return c.mute()
	case CmdKick, CmdBlock:
		return c.remove()
	case CmdUnblock:
		return c.unblock()
	case CmdReport:
		return c.report()
	case CmdComment:
		return c.comment()
	case CmdCommentDelete:
		return c.deleteComment()
	case CmdCommentPin:
		return c.pin()
	case CmdCommentUnpin:
		return c.unpin()
	case CmdSettings:
		return c.settings()
	case CmdReact:
		return c.react()
	case CmdPollOpen:
		return c.pollOpen()
	case CmdPollVote:
		return c.vote()
	case CmdPollClose:
		return c.pollClose()
	}
	return decision{}, errs.E(errs.UnknownMethod, "rooms do not take %q", c.cmd.Name)
}

func reply(v any) decision { return decision{Decision: actor.Decision{Reply: v}} }

func (c *call) event(typ string, data any) eventlog.Draft {
	raw, _ := json.Marshal(data)
	return eventlog.Draft{Type: typ, Actor: c.user, Data: raw}
}

func systemEvent(typ string, data any) eventlog.Draft {
	raw, _ := json.Marshal(data)
	return eventlog.Draft{Type: typ, Data: raw}
}

// events is the decision of a command that logs drafts; its answer is an
// object (the app adds the last event's seq to it).
func events(drafts ...eventlog.Draft) decision {
	return decision{Decision: actor.Decision{Events: drafts, Reply: map[string]any{}}}
}

// role returns the caller's role for the permission table: the host is
// the host whether or not present; others by their presence and stage.
func (b *Behavior) authRole(u core.UserID) Role {
	if u != "" && u == b.meta.Host {
		return RoleHost
	}
	return b.roleOf(u)
}

// allow checks the permission table for the caller.
func (c *call) allow(a Action) error {
	role := c.b.authRole(c.user)
	if !Can(role, a) {
		return errs.E(errs.Forbidden, "a %s may not %s", role, strings.ReplaceAll(string(a), "_", " "))
	}
	if a == ActView || a == ActJoin {
		return c.b.viewable(c.user, c.acc)
	}
	return nil
}

// allowPresent checks the table and that the caller is in the room.
func (c *call) allowPresent(a Action) error {
	if err := c.allow(a); err != nil {
		return err
	}
	if !c.b.present(c.user) {
		return errs.E(errs.Forbidden, "join the room first")
	}
	return nil
}

// viewable applies the visibility and block rules.
func (b *Behavior) viewable(u core.UserID, acc Access) error {
	if u == b.meta.Host {
		return nil
	}
	if b.kicked[u] {
		return errs.E(errs.Forbidden, "you were removed from this room")
	}
	if b.blocked[u] || acc.Blocked {
		return errs.E(errs.Forbidden, "the host blocked you")
	}
	switch b.meta.Visibility {
	case WorkspaceOnly:
		if !acc.Member && !b.guests[u] && b.appointed[u] == "" {
			return errs.E(errs.Forbidden, "the room is open to its workspace's members")
		}
	case InviteOnly:
		if !b.guests[u] && b.appointed[u] == "" && !b.present(u) {
			return errs.E(errs.Forbidden, "the room is open to its guests")
		}
	}
	return nil
}

func (b *Behavior) requireLive() error {
	switch b.status {
	case Live:
		return nil
	case Scheduled:
		return errs.E(errs.Closed, "the room has not started")
	}
	return errs.E(errs.Closed, "the room has ended")
}

// Lifecycle.

func (c *call) create() (decision, error) {
	b, in := c.b, c.in
	if b.created {
		return decision{}, errs.E(errs.AlreadyExists, "the room exists")
	}
	if c.user == "" {
		return decision{}, errs.E(errs.InvalidArgument, "a room needs a host")
	}
	d := Created{Room: b.id, Host: c.user, Visibility: in.Visibility, Workspace: in.Workspace}
	var err error
	if in.Title == nil {
		return decision{}, errs.E(errs.InvalidArgument, "title is required")
	}
	if d.Title, err = text("title", *in.Title, 1, b.lim.MaxTitle); err != nil {
		return decision{}, err
	}
	if in.Description != nil {
		if d.Description, err = text("description", *in.Description, 0, b.lim.MaxDescription); err != nil {
			return decision{}, err
		}
	}
	if d.Topics, err = b.topics(in.Topics); err != nil {
		return decision{}, err
	}
	switch d.Visibility {
	case "":
		d.Visibility = Public
	case Public, InviteOnly, WorkspaceOnly:
	default:
		return decision{}, errs.E(errs.InvalidArgument, "visibility must be public, workspace or invite")
	}
	if d.Workspace != "" && (!core.ValidToken(d.Workspace) || len(d.Workspace) > 64) {
		return decision{}, errs.E(errs.InvalidArgument, "bad workspace id")
	}
	if d.Visibility == WorkspaceOnly && d.Workspace == "" {
		return decision{}, errs.E(errs.InvalidArgument, "a workspace room needs a workspace")
	}
	if d.Workspace != "" && !c.acc.Member {
		return decision{}, errs.E(errs.Forbidden, "you are not a member of workspace %s", d.Workspace)
	}
	d.OpenStage = in.OpenStage != nil && *in.OpenStage
	d.Status = Live
	d.ExpiresAt = c.now.Add(b.lim.HotStateTTL)
	if in.ScheduledAt != nil {
		at := in.ScheduledAt.UTC()
		switch {
		case at.Before(c.now.Add(-time.Minute)):
			return decision{}, errs.E(errs.InvalidArgument, "scheduled_at is in the past")
		case at.After(c.now.Add(b.lim.MaxScheduleAhead)):
			return decision{}, errs.E(errs.InvalidArgument, "scheduled_at is more than %s ahead", b.lim.MaxScheduleAhead)
		case at.After(c.now):
			d.Status = Scheduled
			d.ScheduledAt = &at
			d.ExpiresAt = at.Add(b.lim.HotStateTTL)
		}
	}
	dec := events(c.event(EvCreated, d))
	dec.Reply = map[string]any{"room": b.id, "stream": b.id.Stream(), "status": d.Status}
	return dec, nil
}

func (b *Behavior) topics(in []string) ([]string, error) {
	if len(in) > b.lim.MaxTopics {
		return nil, errs.E(errs.InvalidArgument, "at most %d topics", b.lim.MaxTopics)
	}
	var out []string
	for _, t := range in {
		t, err := text("topic", t, 1, b.lim.MaxTopic)
		if err != nil {
			return nil, err
		}
		out = append(out, strings.ToLower(t))
	}
	return out, nil
}

// text trims s and checks it is valid UTF-8 of min to max characters.
func text(field, s string, min, max int) (string, error) {
	s = strings.TrimSpace(s)
	if !utf8.ValidString(s) {
		return "", errs.E(errs.InvalidArgument, "%s is not valid UTF-8", field)
	}
	n := utf8.RuneCountInString(s)
	if n < min {
		return "", errs.E(errs.InvalidArgument, "%s is required", field)
	}
	if n > max {
		return "", errs.E(errs.LimitExceeded, "%s is longer than %d characters", field, max)
	}
	return s, nil
}

func (c *call) update() (decision, error) {
	b, in := c.b, c.in
	if err := c.allow(ActUpdate); err != nil {
		return decision{}, err
	}
	var d Updated
	changed := false
	if in.Title != nil {
		t, err := text("title", *in.Title, 1, b.lim.MaxTitle)
		if err != nil {
			return decision{}, err
		}
		d.Title, changed = &t, true
	}
	if in.Description != nil {
		t, err := text("description", *in.Description, 0, b.lim.MaxDescription)
		if err != nil {
			return decision{}, err
		}
		d.Description, changed = &t, true
	}
	if in.Topics != nil {
		t, err := b.topics(in.Topics)
		if err != nil {
			return decision{}, err
		}
		if t == nil {
			t = []string{}
		}
		d.Topics, changed = t, true
	}
	if in.ScheduledAt != nil {
		if b.status != Scheduled {
			return decision{}, errs.E(errs.InvalidArgument, "only a scheduled room has a start time to change")
		}
		at := in.ScheduledAt.UTC()
		if !at.After(c.now) || at.After(c.now.Add(b.lim.MaxScheduleAhead)) {
			return decision{}, errs.E(errs.InvalidArgument, "scheduled_at must be in the next %s", b.lim.MaxScheduleAhead)
		}
		exp := at.Add(b.lim.HotStateTTL)
		d.ScheduledAt, d.ExpiresAt, changed = &at, &exp, true
	}
	if !changed {
		return decision{}, errs.E(errs.InvalidArgument, "nothing to update")
	}
	return events(c.event(EvUpdated, d)), nil
}

func (c *call) start() (decision, error) {
	b := c.b
	if err := c.allow(ActStart); err != nil {
		return decision{}, err
	}
	if b.status != Scheduled {
		return decision{}, errs.E(errs.Conflict, "the room is already live")
	}
	dec := events(c.event(EvStarted, Started{ExpiresAt: c.now.Add(b.lim.HotStateTTL), Stage: b.stageView(c.now, nil)}))
	note, _ := json.Marshal(map[string]any{"room": b.id, "title": b.meta.Title})
	for u := range b.interested {
		if b.interestedView(u) {
			dec.Notify = append(dec.Notify, actor.Notice{User: u, Event: "room.started", Data: note})
		}
	}
	for u, s := range b.v.pendIntState {
		if s && !b.interested[u] {
			dec.Notify = append(dec.Notify, actor.Notice{User: u, Event: "room.started", Data: note})
		}
	}
	return dec, nil
}

func (c *call) end() (decision, error) {
	if err := c.allow(ActEnd); err != nil {
		return decision{}, err
	}
	reason := EndedByHost
	if c.b.status == Scheduled {
		reason = EndedCancelled
	}
	d := c.b.endDecision(c.now, reason)
	for i := range d.Events {
		if d.Events[i].Type == EvEnded {
			d.Events[i].Actor = c.user
		}
	}
	return d, nil
}

func (b *Behavior) expiryReason() string {
	if b.status == Scheduled {
		return EndedNeverBegan
	}
	return EndedExpired
}

// Participants.

func (c *call) join() (decision, error) {
	b := c.b
	if err := c.allow(ActJoin); err != nil {
		return decision{}, err
	}
	if err := b.requireLive(); err != nil {
		return decision{}, err
	}
	if !b.present(c.user) {
		if n := b.countsView().Total; n >= b.lim.MaxParticipants {
			return decision{}, errs.E(errs.LimitExceeded, "the room is full (%d participants)", n)
		}
		b.pending(c.user, true)
	}
	return reply(b.snapshot(c.user, c.now)), nil
}

func (c *call) leave() (decision, error) {
	if err := c.allowPresent(ActLeave); err != nil {
		return decision{}, err
	}
	c.b.pending(c.user, false)
	return reply(struct{}{}), nil
}

// pending records a join or leave to log with the next batch.
func (b *Behavior) pending(u core.UserID, join bool) {
	v := &b.v
	v.pend = append(v.pend, Change{U: u, J: join})
	if r, ok := b.effRole(u); ok {
		v.pendDelta.addRole(r, -1)
	}
	_, in := b.members[u]
	if join == in {
		delete(v.pendState, u) // back to the logged state
	} else {
		v.pendState[u] = join
	}
	if join && !in && b.joinRole(u).OnStage() {
		v.pendStage[u] = true
	} else {
		delete(v.pendStage, u)
	}
	if r, ok := b.effRole(u); ok {
		v.pendDelta.addRole(r, 1)
	}
	if join {
		// A joiner without a watching connection is marked detached when
		// the join is logged (addMember), and has ReconnectGrace to
		// subscribe.
		delete(v.detached, u)
	}
	v.audienceOK = false
}

func (b *Behavior) attach(u core.UserID, conn core.ConnID) {
	if conn == "" || b.status == Ended {
		return
	}
	list := b.v.conns[u]
	for _, x := range list {
		if x == conn {
			return
		}
	}
	b.v.conns[u] = append(list, conn)
	delete(b.v.detached, u)
}

func (b *Behavior) detach(u core.UserID, conn core.ConnID, now time.Time) {
	list := b.v.conns[u]
	for i, x := range list {
		if x == conn {
			list = append(list[:i], list[i+1:]...)
			break
		}
	}
	if len(list) == 0 {
		delete(b.v.conns, u)
		if b.present(u) {
			b.v.detached[u] = now
		}
	} else {
		b.v.conns[u] = list
	}
}

// prime sets up the volatile view after a load: members whose connections
// this actor has not seen count as detached from now on, so they have
// ReconnectGrace to resubscribe.
func (b *Behavior) prime(now time.Time) {
	if now.After(b.v.now) {
		b.v.now = now
	}
	if b.v.primed {
		return
	}
	b.v.primed = true
	b.v.lastMember, b.v.lastReact, b.v.lastTally = now, now, now
	for u := range b.members {
		if len(b.v.conns[u]) == 0 {
			b.v.detached[u] = now
		}
	}
}

func (c *call) guests() (decision, error) {
	b := c.b
	if err := c.allow(ActGuests); err != nil {
		return decision{}, err
	}
	if len(c.in.Users) == 0 || len(c.in.Users) > b.lim.MaxGuests {
		return decision{}, errs.E(errs.InvalidArgument, "invite 1-%d users", b.lim.MaxGuests)
	}
	var add []core.UserID
	seen := map[core.UserID]bool{}
	for _, u := range c.in.Users {
		if !core.ValidToken(string(u)) {
			return decision{}, errs.E(errs.InvalidArgument, "bad user id %q", u)
		}
		if !b.guests[u] && !seen[u] && u != b.meta.Host {
			seen[u] = true
			add = append(add, u)
		}
	}
	if len(add) == 0 {
		return reply(map[string]any{"added": 0}), nil
	}
	dec := events(c.event(EvGuests, Guests{Users: add}))
	note, _ := json.Marshal(map[string]any{"room": b.id, "title": b.meta.Title, "by": c.user, "status": b.status, "scheduled_at": b.meta.ScheduledAt})
	for _, u := range add {
		dec.Notify = append(dec.Notify, actor.Notice{User: u, Event: "room.invitation", Data: note})
	}
	dec.Reply = map[string]any{"added": len(add)}
	return dec, nil
}

func (c *call) interest() (decision, error) {
	b := c.b
	if err := c.allow(ActInterest); err != nil {
		return decision{}, err
	}
	if err := b.viewable(c.user, c.acc); err != nil {
		return decision{}, err
	}
	want := c.in.Interested == nil || *c.in.Interested
	if b.interestedView(c.user) != want {
		b.v.pendInterest = append(b.v.pendInterest, InterestChange{U: c.user, I: want})
		if want {
			b.v.pendIntDelta++
		} else {
			b.v.pendIntDelta--
		}
		if b.interested[c.user] == want {
			delete(b.v.pendIntState, c.user)
		} else {
			b.v.pendIntState[c.user] = want
		}
	}
	return reply(map[string]any{"interested": want, "count": b.countsView().Interested}), nil
}

func (c *call) hand() (decision, error) {
	b := c.b
	if err := c.allow(ActHand); err != nil {
		return decision{}, err
	}
	role := b.roleOf(c.user)
	if role == RoleVisitor {
		if b.status != Scheduled {
			return decision{}, errs.E(errs.Forbidden, "join the room first")
		}
		if err := b.viewable(c.user, c.acc); err != nil {
			return decision{}, err
		}
	}
	raised := c.in.Raised == nil || *c.in.Raised
	has := false
	for _, u := range b.hands {
		if u == c.user {
			has = true
			break
		}
	}
	if has == raised {
		return reply(map[string]any{"raised": raised}), nil
	}
	bk := b.v.handBucket[c.user]
	if bk == nil {
		bk = &bucket{}
		b.v.handBucket[c.user] = bk
	}
	if ok, wait := bk.take(c.now, b.lim.HandRate, b.lim.HandBurst, 1); !ok {
		return decision{}, errs.RateLimit(wait, "too many hand changes")
	}
	q := len(b.hands) + 1
	if !raised {
		q = len(b.hands) - 1
	}
	dec := events(c.event(EvHand, Hand{User: c.user, Raised: raised, Queue: q}))
	dec.Reply = map[string]any{"raised": raised}
	return dec, nil
}
