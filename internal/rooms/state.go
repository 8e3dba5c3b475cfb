package rooms

import (
	"encoding/json"
	"slices"
	"sort"
	"time"

	"github.com/parleyhq/parley/internal/actor"
	"github.com/parleyhq/parley/internal/core"
	"github.com/parleyhq/parley/internal/eventlog"
)

// member is a participant present in the room.
type member struct {
	role       Role
	joinedAt   time.Time
	stageSince time.Time
	muted      bool
	locked     bool
}

type comment struct {
	author  core.UserID
	text    string
	deleted bool
}

type poll struct {
	n        int
	question string
	options  []string
	totals   []int64
	votes    int64
	voters   map[core.UserID]bool
	closesAt *time.Time
	closedAt *time.Time
}

// bucket is a token bucket; tokens are counted as of at.
type bucket struct {
	tokens float64
	at     time.Time
}

// take refills b at rate per second up to burst as of now and takes n
// tokens if it has them. It returns how long to wait otherwise.
func (b *bucket) take(now time.Time, rate float64, burst int, n float64) (ok bool, wait time.Duration) {
	b.refill(now, rate, burst)
	if b.tokens >= n {
		b.tokens -= n
		return true, 0
	}
	return false, time.Duration((n - b.tokens) / rate * float64(time.Second))
}

func (b *bucket) refill(now time.Time, rate float64, burst int) {
	if b.at.IsZero() {
		b.tokens = float64(burst)
	} else if now.After(b.at) {
		b.tokens += now.Sub(b.at).Seconds() * rate
	}
	if b.tokens > float64(burst) {
		b.tokens = float64(burst)
	}
	b.at = now
}

// Behavior is the room actor's domain logic: it implements actor.Behavior
// and actor.Ticker. The host calls it from the room's actor goroutine only.
type Behavior struct {
	lim Limits
	id  RoomID

	// Folded from the logged events.
	created         bool
	meta            Created
	status          Status
	createdAt       time.Time
	startedAt       time.Time
	endedAt         time.Time
	expiresAt       time.Time
	endReason       string
	settings        Settings
	members         map[core.UserID]*member
	onStage         map[core.UserID]bool // members whose role is on the stage
	appointed       map[core.UserID]Role
	counts          Counts
	hands           []core.UserID
	invites         map[core.UserID]bool
	guests          map[core.UserID]bool
	kicked          map[core.UserID]bool
	blocked         map[core.UserID]bool
	interested      map[core.UserID]bool
	comments        map[int64]*comment
	nComments       int64
	recent          []int64
	pinned          int64
	lastComment     map[core.UserID]time.Time
	commentBucket   map[core.UserID]*bucket
	reactions       map[string]int64
	polls           []*poll
	unique          map[core.UserID]bool
	peak            int
	stageEver       map[core.UserID]bool
	deleted         int64
	unattendedSince time.Time
	lastSeq         uint64
	summary         *Summary

	v volatile
}

// volatile is the part of the state that is not logged (see the package
// documentation).
type volatile struct {
	primed       bool
	now          time.Time // the latest command or tick time seen
	conns        map[core.UserID][]core.ConnID
	detached     map[core.UserID]time.Time
	pend         []Change
	pendState    map[core.UserID]bool
	pendDelta    Counts               // what pendState changes in the counts
	pendStage    map[core.UserID]bool // pending joiners who join onto the stage
	pendInterest []InterestChange
	pendIntState map[core.UserID]bool
	pendIntDelta int
	pendReact    map[string]int64
	reactBucket  map[core.UserID]*bucket
	handBucket   map[core.UserID]*bucket
	pendVotes    map[int]*voteBatch
	lastMember   time.Time
	lastReact    time.Time
	lastTally    time.Time
	lastCounts   time.Time
	sentCounts   Counts
	audience     []core.UserID // sorted listener ids, rebuilt when stale
	audienceOK   bool
}

type voteBatch struct {
	voters []core.UserID
	seen   map[core.UserID]bool
	counts []int64
}

var (
	_ actor.Behavior = (*Behavior)(nil)
	_ actor.Ticker   = (*Behavior)(nil)
	_ actor.Flusher  = (*Behavior)(nil)
)

// NewFactory returns the actor factory of room streams under lim.
func NewFactory(lim Limits) actor.Factory {
	return func(stream core.StreamID) actor.Behavior { return New(RoomID(stream.ID()), lim) }
}

// New returns the behaviour of room id.
func New(id RoomID, lim Limits) *Behavior {
	b := &Behavior{lim: lim, id: id}
	b.reset()
	b.v = volatile{
		conns:        map[core.UserID][]core.ConnID{},
		detached:     map[core.UserID]time.Time{},
		pendState:    map[core.UserID]bool{},
		pendStage:    map[core.UserID]bool{},
		pendIntState: map[core.UserID]bool{},
		pendReact:    map[string]int64{},
		reactBucket:  map[core.UserID]*bucket{},
		handBucket:   map[core.UserID]*bucket{},
		pendVotes:    map[int]*voteBatch{},
	}
	return b
}

// reset empties the folded state (a replay starts again from the first
// event); the volatile part survives.
func (b *Behavior) reset() {
	id, lim, v := b.id, b.lim, b.v
	*b = Behavior{lim: lim, id: id, v: v}
	b.members = map[core.UserID]*member{}
	b.onStage = map[core.UserID]bool{}
	b.appointed = map[core.UserID]Role{}
	b.invites = map[core.UserID]bool{}
	b.guests = map[core.UserID]bool{}
	b.kicked = map[core.UserID]bool{}
	b.blocked = map[core.UserID]bool{}
	b.interested = map[core.UserID]bool{}
	b.comments = map[int64]*comment{}
	b.lastComment = map[core.UserID]time.Time{}
	b.commentBucket = map[core.UserID]*bucket{}
	b.reactions = map[string]int64{}
	b.unique = map[core.UserID]bool{}
	b.stageEver = map[core.UserID]bool{}
}

// Apply folds a logged event into the state.
func (b *Behavior) Apply(ev *eventlog.Event) {
	if ev.Seq == 1 {
		b.reset()
	}
	b.lastSeq = ev.Seq
	switch ev.Type {
	case EvCreated:
		var d Created
		decode(ev.Data, &d)
		b.created = true
		b.meta = d
		b.status = d.Status
		b.createdAt = ev.Time
		b.expiresAt = d.ExpiresAt
		b.settings.OpenStage = d.OpenStage
		if d.Status == Live {
			b.startedAt = ev.Time
			b.unattendedSince = ev.Time
		}
	case EvUpdated:
		var d Updated
		decode(ev.Data, &d)
		if d.Title != nil {
			b.meta.Title = *d.Title
		}
		if d.Description != nil {
			b.meta.Description = *d.Description
		}
		if d.Topics != nil {
			b.meta.Topics = d.Topics
		}
		if d.ScheduledAt != nil {
			b.meta.ScheduledAt = d.ScheduledAt
		}
		if d.ExpiresAt != nil {
			b.expiresAt = *d.ExpiresAt
		}
	case EvStarted:
		var d Started
		decode(ev.Data, &d)
		b.status = Live
		b.startedAt = ev.Time
		b.expiresAt = d.ExpiresAt
		b.updateUnattended(ev.Time)
	case EvEnded:
		var d EndedData
		decode(ev.Data, &d)
		b.status = Ended
		b.endedAt = ev.Time
		b.endReason = d.Reason
		b.summary = &d.Summary
		b.dropHotState()
	case EvParticipants:
		var d Participants
		decode(ev.Data, &d)
		for _, c := range d.Changes {
			if c.J {
				b.addMember(c.U, ev.Time)
			} else {
				b.removeMember(c.U, ev.Time)
			}
			if n := len(b.members); n > b.peak {
				b.peak = n
			}
		}
	case EvInterest:
		var d Interest
		decode(ev.Data, &d)
		for _, c := range d.Changes {
			if c.I {
				b.interested[c.U] = true
			} else {
				delete(b.interested, c.U)
			}
		}
		b.counts.Interested = len(b.interested)
	case EvGuests:
		var d Guests
		decode(ev.Data, &d)
		for _, u := range d.Users {
			b.guests[u] = true
		}
	case EvHand:
		var d Hand
		decode(ev.Data, &d)
		if d.Raised {
			if !slices.Contains(b.hands, d.User) {
				b.hands = append(b.hands, d.User)
			}
		} else {
			b.lowerHand(d.User)
		}
	case EvInvited:
		var d Target
		decode(ev.Data, &d)
		b.invites[d.User] = true
	case EvInviteCancelled, EvInviteDeclined:
		var d Target
		decode(ev.Data, &d)
		delete(b.invites, d.User)
	case EvSpeakerAdded, EvSpeakerRemoved, EvRoleChanged:
		var d RoleData
		decode(ev.Data, &d)
		b.setRole(d.User, d.Role, ev.Time)
	case EvMute:
		var d MuteData
		decode(ev.Data, &d)
		if m := b.members[d.User]; m != nil {
			m.muted, m.locked = d.Muted, d.Locked
		}
	case EvKicked, EvBlocked:
		var d Target
		decode(ev.Data, &d)
		b.removeMember(d.User, ev.Time)
		delete(b.appointed, d.User)
		delete(b.invites, d.User)
		b.lowerHand(d.User)
		if ev.Type == EvKicked {
			b.kicked[d.User] = true
		} else {
			b.blocked[d.User] = true
		}
	case EvUnblocked:
		var d Target
		decode(ev.Data, &d)
		delete(b.blocked, d.User)
	case EvComment:
		var d CommentData
		decode(ev.Data, &d)
		b.comments[d.N] = &comment{author: ev.Actor, text: d.Text}
		b.nComments = d.N
		b.recent = append(b.recent, d.N)
		if n := b.lim.RecentComments; n > 0 && len(b.recent) > 2*n {
			b.recent = append(b.recent[:0], b.recent[len(b.recent)-n:]...)
		}
		b.lastComment[ev.Actor] = ev.Time
		bk := b.commentBucket[ev.Actor]
		if bk == nil {
			bk = &bucket{}
			b.commentBucket[ev.Actor] = bk
		}
		bk.take(ev.Time, b.lim.CommentRate, b.lim.CommentBurst, 1)
	case EvCommentDeleted:
		var d CommentRef
		decode(ev.Data, &d)
		if c := b.comments[d.N]; c != nil && !c.deleted {
			c.deleted = true
			b.deleted++
		}
		if b.pinned == d.N {
			b.pinned = 0
		}
	case EvPinned:
		var d Pinned
		decode(ev.Data, &d)
		b.pinned = d.N
	case EvUnpinned:
		b.pinned = 0
	case EvSettings:
		decode(ev.Data, &b.settings)
	case EvReactions:
		var d Reactions
		decode(ev.Data, &d)
		for e, n := range d.Counts {
			b.reactions[e] += n
		}
	case EvPollOpened:
		var d PollOpened
		decode(ev.Data, &d)
		b.polls = append(b.polls, &poll{n: d.Poll, question: d.Question, options: d.Options,
			totals: make([]int64, len(d.Options)), voters: map[core.UserID]bool{}, closesAt: d.ClosesAt})
	case EvPollVotes:
		var d PollVotes
		decode(ev.Data, &d)
		if p := b.poll(d.Poll); p != nil {
			for _, u := range d.Voters {
				p.voters[u] = true
			}
			for i, n := range d.Counts {
				if i < len(p.totals) {
					p.totals[i] += n
					p.votes += n
				}
			}
		}
	case EvPollClosed:
		var d PollClosed
		decode(ev.Data, &d)
		if p := b.poll(d.Poll); p != nil {
			t := ev.Time
			p.closedAt = &t
		}
	}
}

func decode(data json.RawMessage, v any) {
	// Logged events were encoded by Decide; a malformed one (written by
	// hand) folds as its zero value rather than stopping the room.
	_ = json.Unmarshal(data, v)
}

// joinRole is the role user gets on joining.
func (b *Behavior) joinRole(u core.UserID) Role {
	if u == b.meta.Host {
		return RoleHost
	}
	if r, ok := b.appointed[u]; ok {
		return r
	}
	return RoleListener
}

func (b *Behavior) addMember(u core.UserID, at time.Time) {
	if _, ok := b.members[u]; ok {
		return
	}
	r := b.joinRole(u)
	m := &member{role: r, joinedAt: at}
	if r.OnStage() {
		m.stageSince, m.muted = at, true
		b.stageEver[u] = true
		b.onStage[u] = true
	}
	b.members[u] = m
	b.countRole(r, 1)
	b.v.audienceOK = false
	if u != b.meta.Host {
		b.unique[u] = true
	}
	if b.v.primed && len(b.v.conns[u]) == 0 {
		// A joiner not watching yet has ReconnectGrace to subscribe. (A
		// load primes later; a reload after a failed append replays old
		// joins, which get the grace from now.)
		b.v.detached[u] = maxTime(at, b.v.now)
	}
	b.updateUnattended(at)
}

func (b *Behavior) removeMember(u core.UserID, at time.Time) {
	m, ok := b.members[u]
	if !ok {
		return
	}
	delete(b.members, u)
	delete(b.onStage, u)
	b.countRole(m.role, -1)
	b.v.audienceOK = false
	delete(b.invites, u)
	b.lowerHand(u)
	delete(b.v.detached, u)
	b.updateUnattended(at)
}

func (b *Behavior) setRole(u core.UserID, r Role, at time.Time) {
	m := b.members[u]
	if m == nil {
		return
	}
	b.countRole(m.role, -1)
	wasOn := m.role.OnStage()
	m.role = r
	b.v.audienceOK = false
	if r.OnStage() {
		b.onStage[u] = true
	} else {
		delete(b.onStage, u)
	}
	b.countRole(r, 1)
	switch {
	case r.OnStage() && !wasOn:
		m.stageSince, m.muted, m.locked = at, true, false
		b.stageEver[u] = true
		delete(b.invites, u)
		b.lowerHand(u)
	case !r.OnStage():
		m.muted, m.locked = false, false
	}
	if r == RoleModerator {
		b.appointed[u] = RoleModerator
	} else {
		delete(b.appointed, u)
	}
	b.updateUnattended(at)
}

func (b *Behavior) countRole(r Role, d int) {
	switch r {
	case RoleHost:
		b.counts.Hosts += d
	case RoleModerator:
		b.counts.Moderators += d
	case RoleSpeaker:
		b.counts.Speakers += d
	case RoleListener:
		b.counts.Listeners += d
	}
	b.counts.Total += d
}

func (b *Behavior) lowerHand(u core.UserID) {
	if i := slices.Index(b.hands, u); i >= 0 {
		b.hands = slices.Delete(b.hands, i, i+1)
	}
}

// updateUnattended tracks since when the live room has had neither its
// host nor a moderator present.
func (b *Behavior) updateUnattended(at time.Time) {
	if b.status != Live {
		return
	}
	if b.counts.Hosts+b.counts.Moderators > 0 {
		b.unattendedSince = time.Time{}
	} else if b.unattendedSince.IsZero() {
		b.unattendedSince = at
	}
}

func (b *Behavior) poll(n int) *poll {
	if n >= 1 && n <= len(b.polls) {
		return b.polls[n-1]
	}
	return nil
}

// dropHotState frees what only a live room needs once it ended: the event
// log and the analytics keep the history.
func (b *Behavior) dropHotState() {
	b.members = map[core.UserID]*member{}
	b.onStage = map[core.UserID]bool{}
	b.counts = Counts{Interested: b.counts.Interested}
	b.hands = nil
	b.invites = map[core.UserID]bool{}
	b.comments = map[int64]*comment{}
	b.recent = nil
	b.pinned = 0
	b.lastComment = map[core.UserID]time.Time{}
	b.commentBucket = map[core.UserID]*bucket{}
	b.unique = map[core.UserID]bool{}
	b.stageEver = map[core.UserID]bool{}
	b.interested = map[core.UserID]bool{}
	for _, p := range b.polls {
		p.voters = nil
	}
	v := &b.v
	clear(v.conns)
	clear(v.detached)
	v.pend, v.pendInterest = nil, nil
	clear(v.pendState)
	clear(v.pendStage)
	clear(v.pendIntState)
	v.pendDelta, v.pendIntDelta = Counts{}, 0
	clear(v.pendReact)
	clear(v.reactBucket)
	clear(v.handBucket)
	clear(v.pendVotes)
	v.audience = nil
}

// Effective view: the folded state with the pending joins, leaves and
// interest marks applied. Decisions are made against it.

// present reports whether u is in the room.
func (b *Behavior) present(u core.UserID) bool {
	if s, ok := b.v.pendState[u]; ok {
		return s
	}
	_, ok := b.members[u]
	return ok
}

// roleOf returns u's role (RoleVisitor when not in the room).
func (b *Behavior) roleOf(u core.UserID) Role {
	if s, ok := b.v.pendState[u]; ok {
		if !s {
			return RoleVisitor
		}
		if m := b.members[u]; m != nil {
			return m.role
		}
		return b.joinRole(u)
	}
	if m := b.members[u]; m != nil {
		return m.role
	}
	return RoleVisitor
}

// memberView returns u's member record as it is once pending changes are
// logged (a pending joiner is a fresh member), or nil.
func (b *Behavior) memberView(u core.UserID, now time.Time) *member {
	if s, ok := b.v.pendState[u]; ok {
		if !s {
			return nil
		}
		if m := b.members[u]; m != nil {
			return m
		}
		r := b.joinRole(u)
		m := &member{role: r, joinedAt: now}
		if r.OnStage() {
			m.stageSince, m.muted = now, true
		}
		return m
	}
	return b.members[u]
}

// stageView returns the stage after pending changes, with override applied
// to one user (nil removes them from the stage).
func (b *Behavior) stageView(now time.Time, override map[core.UserID]*member) []StageMember {
	type entry struct {
		u core.UserID
		m *member
	}
	var list []entry
	seen := map[core.UserID]bool{}
	add := func(u core.UserID, m *member) {
		if seen[u] {
			return
		}
		seen[u] = true
		if o, ok := override[u]; ok {
			m = o
		}
		if m != nil && m.role.OnStage() {
			list = append(list, entry{u, m})
		}
	}
	for u := range override {
		add(u, b.memberView(u, now))
	}
	for u := range b.onStage {
		add(u, b.memberView(u, now))
	}
	for u := range b.v.pendStage {
		add(u, b.memberView(u, now))
	}
	sort.Slice(list, func(i, j int) bool {
		a, c := list[i], list[j]
		if a.m.role.rank() != c.m.role.rank() {
			return a.m.role.rank() > c.m.role.rank()
		}
		if !a.m.stageSince.Equal(c.m.stageSince) {
			return a.m.stageSince.Before(c.m.stageSince)
		}
		return a.u < c.u
	})
	out := make([]StageMember, len(list))
	for i, e := range list {
		out[i] = StageMember{User: e.u, Role: e.m.role, Muted: e.m.muted, Locked: e.m.locked}
	}
	return out
}

// countsView returns the counts after pending changes.
func (b *Behavior) countsView() Counts {
	c, d := b.counts, b.v.pendDelta
	c.Total += d.Total
	c.Hosts += d.Hosts
	c.Moderators += d.Moderators
	c.Speakers += d.Speakers
	c.Listeners += d.Listeners
	c.Hands = len(b.hands)
	c.Interested = len(b.interested) + b.v.pendIntDelta
	return c
}

// effRole returns u's role in the effective view, and whether u is present.
func (b *Behavior) effRole(u core.UserID) (Role, bool) {
	if !b.present(u) {
		return RoleVisitor, false
	}
	return b.roleOf(u), true
}

// addDelta adds n of role r to the pending counts delta.
func (d *Counts) addRole(r Role, n int) {
	switch r {
	case RoleHost:
		d.Hosts += n
	case RoleModerator:
		d.Moderators += n
	case RoleSpeaker:
		d.Speakers += n
	case RoleListener:
		d.Listeners += n
	}
	d.Total += n
}

func (b *Behavior) interestedView(u core.UserID) bool {
	if s, ok := b.v.pendIntState[u]; ok {
		return s
	}
	return b.interested[u]
}

func (b *Behavior) votedView(p *poll, u core.UserID) bool {
	if p.voters[u] {
		return true
	}
	vb := b.v.pendVotes[p.n]
	return vb != nil && vb.seen[u]
}

func (b *Behavior) pollTotalsView(p *poll) []int64 {
	out := slices.Clone(p.totals)
	if vb := b.v.pendVotes[p.n]; vb != nil {
		for i, n := range vb.counts {
			out[i] += n
		}
	}
	return out
}

func (b *Behavior) hasPending() bool {
	return len(b.v.pend) > 0 || len(b.v.pendInterest) > 0 || len(b.v.pendVotes) > 0
}

func maxTime(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}
