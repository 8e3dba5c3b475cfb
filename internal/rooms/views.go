package rooms

import (
	"encoding/json"
	"maps"
	"slices"
	"time"

	"github.com/parleyhq/parley/internal/actor"
	"github.com/parleyhq/parley/internal/core"
	"github.com/parleyhq/parley/internal/errs"
	"github.com/parleyhq/parley/internal/eventlog"
)

// Snapshot is a room's state as one user sees it: the answer of room.join
// and room.get. Seq is the stream position it reflects: subscribe to the
// room's stream with after=Seq to follow it with nothing missed.
type Snapshot struct {
	Room        RoomID           `json:"room"`
	Stream      core.StreamID    `json:"stream"`
	Seq         uint64           `json:"seq"`
	Status      Status           `json:"status"`
	Title       string           `json:"title"`
	Description string           `json:"description,omitempty"`
	Topics      []string         `json:"topics,omitempty"`
	Visibility  Visibility       `json:"visibility"`
	Workspace   string           `json:"workspace,omitempty"`
	Host        core.UserID      `json:"host"`
	CreatedAt   time.Time        `json:"created_at"`
	ScheduledAt *time.Time       `json:"scheduled_at,omitempty"`
	StartedAt   *time.Time       `json:"started_at,omitempty"`
	EndedAt     *time.Time       `json:"ended_at,omitempty"`
	ExpiresAt   time.Time        `json:"expires_at"`
	EndReason   string           `json:"end_reason,omitempty"`
	Settings    Settings         `json:"settings"`
	You         You              `json:"you"`
	Stage       []StageMember    `json:"stage"`
	Counts      Counts           `json:"counts"`
	Pinned      *Pinned          `json:"pinned,omitempty"`
	Comments    []RecentComment  `json:"comments"`
	Reactions   map[string]int64 `json:"reactions"`
	Polls       []PollResult     `json:"polls"`
	Summary     *Summary         `json:"summary,omitempty"`
}

// You is the caller's own standing in a snapshot.
type You struct {
	Role       string `json:"role"` // host, moderator, speaker, listener or visitor
	Muted      bool   `json:"muted"`
	Locked     bool   `json:"locked"`
	Hand       bool   `json:"hand"`
	Invited    bool   `json:"invited"`
	Interested bool   `json:"interested"`
	Voted      []int  `json:"voted"`
}

// RecentComment is one of the last comments of a snapshot.
type RecentComment struct {
	N    int64       `json:"n"`
	User core.UserID `json:"user"`
	Text string      `json:"text"`
}

func ptime(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}

func (b *Behavior) snapshot(u core.UserID, now time.Time) Snapshot {
	s := Snapshot{
		Room: b.id, Stream: b.id.Stream(), Seq: b.lastSeq, Status: b.status,
		Title: b.meta.Title, Description: b.meta.Description, Topics: b.meta.Topics,
		Visibility: b.meta.Visibility, Workspace: b.meta.Workspace, Host: b.meta.Host,
		CreatedAt: b.createdAt, ScheduledAt: b.meta.ScheduledAt, StartedAt: ptime(b.startedAt),
		EndedAt: ptime(b.endedAt), ExpiresAt: b.expiresAt, EndReason: b.endReason,
		Settings: b.settings, Stage: b.stageView(now, nil), Counts: b.countsView(),
		Comments: []RecentComment{}, Reactions: maps.Clone(b.reactions), Polls: []PollResult{},
		Summary: b.summary,
	}
	for e, n := range b.v.pendReact {
		s.Reactions[e] += n
	}
	role := b.authRole(u)
	if !b.present(u) && role == RoleHost {
		role = RoleVisitor
	}
	s.You = You{Role: role.String(), Invited: b.invites[u], Interested: b.interestedView(u), Hand: slices.Contains(b.hands, u), Voted: []int{}}
	if m := b.memberView(u, now); m != nil {
		s.You.Muted, s.You.Locked = m.muted, m.locked
	}
	if c := b.comments[b.pinned]; c != nil && b.pinned != 0 {
		s.Pinned = &Pinned{N: b.pinned, Text: c.text, Author: c.author}
	}
	n := b.lim.RecentComments
	for i := len(b.recent) - 1; i >= 0 && len(s.Comments) < n; i-- {
		if c := b.comments[b.recent[i]]; c != nil && !c.deleted {
			s.Comments = append(s.Comments, RecentComment{N: b.recent[i], User: c.author, Text: c.text})
		}
	}
	slices.Reverse(s.Comments)
	for _, p := range b.polls {
		s.Polls = append(s.Polls, b.pollResult(p, now))
		if p.voters != nil && b.votedView(p, u) {
			s.You.Voted = append(s.You.Voted, p.n)
		}
	}
	return s
}

func (b *Behavior) pollResult(p *poll, now time.Time) PollResult {
	totals := b.pollTotalsView(p)
	var votes int64
	for _, n := range totals {
		votes += n
	}
	return PollResult{Poll: p.n, Question: p.question, Options: p.options, Totals: totals, Votes: votes,
		Open: p.closedAt == nil, ClosesAt: p.closesAt, ClosedAt: p.closedAt}
}

// summaryView is the summary of the room if it ended now for reason, with
// everything pending counted.
func (b *Behavior) summaryView(now time.Time, reason string) Summary {
	s := Summary{
		Room: b.id, Title: b.meta.Title, Host: b.meta.Host, Visibility: b.meta.Visibility,
		Workspace: b.meta.Workspace, CreatedAt: b.createdAt, StartedAt: ptime(b.startedAt),
		EndedAt: now, EndReason: reason, Comments: b.nComments, CommentsDeleted: b.deleted,
		Reactions: maps.Clone(b.reactions), Polls: []PollResult{}, Speakers: []core.UserID{},
		Interested: b.countsView().Interested,
	}
	if !b.startedAt.IsZero() {
		s.DurationSeconds = int64(now.Sub(b.startedAt) / time.Second)
	}
	for e, n := range b.v.pendReact {
		s.Reactions[e] += n
	}
	for _, n := range s.Reactions {
		s.ReactionsTotal += n
	}
	// Replay the pending joins and leaves for the unique and peak counts.
	unique := len(b.unique)
	peak := b.peak
	present := len(b.members)
	here := map[core.UserID]bool{}
	counted := map[core.UserID]bool{}
	speakers := maps.Clone(b.stageEver)
	for _, c := range b.v.pend {
		in, ok := here[c.U]
		if !ok {
			_, in = b.members[c.U]
		}
		switch {
		case c.J && !in:
			present++
			if c.U != b.meta.Host && !b.unique[c.U] && !counted[c.U] {
				counted[c.U] = true
				unique++
			}
			if b.joinRole(c.U).OnStage() {
				speakers[c.U] = true
			}
		case !c.J && in:
			present--
		}
		here[c.U] = c.J
		peak = max(peak, present)
	}
	s.UniqueListeners, s.PeakConcurrent = unique, peak
	for u := range speakers {
		s.Speakers = append(s.Speakers, u)
	}
	slices.Sort(s.Speakers)
	for _, p := range b.polls {
		r := b.pollResult(p, now)
		if r.Open {
			r.Open = false
			t := now
			r.ClosedAt = &t
		}
		s.Polls = append(s.Polls, r)
	}
	return s
}

// Hot is a live room's state as the bus KV shares it with every node (for
// example the media server, which lets unmuted stage members send audio).
type Hot struct {
	Room      RoomID        `json:"room"`
	Status    Status        `json:"status"`
	Title     string        `json:"title"`
	Host      core.UserID   `json:"host"`
	Seq       uint64        `json:"seq"`
	Counts    Counts        `json:"counts"`
	Stage     []StageMember `json:"stage"`
	Settings  Settings      `json:"settings"`
	ExpiresAt time.Time     `json:"expires_at"`
}

func (b *Behavior) hotView(now time.Time) Hot {
	return Hot{Room: b.id, Status: b.status, Title: b.meta.Title, Host: b.meta.Host, Seq: b.lastSeq,
		Counts: b.countsView(), Stage: b.stageView(now, nil), Settings: b.settings, ExpiresAt: b.expiresAt}
}

// MediaState is what the audio of a room needs to know of one participant:
// whether they are on the stage (may send) and muted, as of Seq, the last
// event the state folded (the version of the audio policy it gives).
type MediaState struct {
	OnStage bool   `json:"on_stage"`
	Muted   bool   `json:"muted"`
	Seq     uint64 `json:"seq"`
}

// mediaState answers CmdMedia: only participants of a live room have audio.
func (b *Behavior) mediaState(u core.UserID, now time.Time) (decision, error) {
	if err := b.requireLive(); err != nil {
		return decision{}, err
	}
	m := b.memberView(u, now)
	if m == nil {
		return decision{}, errs.E(errs.Forbidden, "join the room first")
	}
	return reply(MediaState{OnStage: m.role.OnStage(), Muted: m.muted, Seq: b.lastSeq}), nil
}

// State returns the room's state view (for replay and inspection).
func (b *Behavior) State() any {
	now := b.endedAt
	if now.IsZero() {
		now = b.v.now // the latest command or tick: no clock is read here
	}
	return map[string]any{
		"snapshot":     b.snapshot("", now),
		"participants": b.countsView().Total,
		"hands":        b.hands,
		"kicked":       len(b.kicked),
		"blocked":      len(b.blocked),
		"guests":       len(b.guests),
		"comments":     b.nComments,
	}
}

// Participants returns the users present in the room (after pending
// changes), for tests and inspection.
func (b *Behavior) Participants() []core.UserID {
	var out []core.UserID
	for u := range b.members {
		if b.present(u) {
			out = append(out, u)
		}
	}
	for u, s := range b.v.pendState {
		if s && b.members[u] == nil {
			out = append(out, u)
		}
	}
	slices.Sort(out)
	return out
}

// ModLog is the behaviour of a room's moderation inbox (roommod:<id>): an
// append-only list of reports, visible to the room's host and moderators.
// The app checks a report against the room first (the room's report
// command), then appends it here.
type ModLog struct{ reports int }

var _ actor.Behavior = (*ModLog)(nil)

// NewModLog returns the behaviour of a moderation inbox.
func NewModLog(core.StreamID) actor.Behavior { return &ModLog{} }

// Apply counts reports.
func (m *ModLog) Apply(ev *eventlog.Event) {
	if ev.Seq == 1 {
		m.reports = 0
	}
	if ev.Type == EvReported {
		m.reports++
	}
}

// Decide appends a report (command "report", data: Report).
func (m *ModLog) Decide(cmd *actor.Command) (actor.Decision, error) {
	if cmd.Name != CmdReport {
		return actor.Decision{}, errs.E(errs.UnknownMethod, "a moderation inbox takes reports only")
	}
	var r Report
	if err := json.Unmarshal(cmd.Data, &r); err != nil {
		return actor.Decision{}, errs.E(errs.InvalidArgument, "bad report: %v", err)
	}
	r.Report = m.reports + 1
	data, _ := json.Marshal(r)
	return actor.Decision{Events: []eventlog.Draft{{Type: EvReported, Actor: cmd.Actor, Data: data}}, Reply: map[string]any{"report": r.Report}}, nil
}

// State returns the number of reports.
func (m *ModLog) State() any { return map[string]int{"reports": m.reports} }
