package rooms

import (
	"encoding/json"
	"maps"
	"time"

	"github.com/parleyhq/parley/internal/actor"
	"github.com/parleyhq/parley/internal/eventlog"
)

// TickInterval is how often the actor calls Tick.
func (b *Behavior) TickInterval() time.Duration { return b.lim.Tick }

// Busy keeps the actor resident while the room is live or has unlogged
// input.
func (b *Behavior) Busy() bool {
	return (b.created && b.status == Live) || b.hasPending() || len(b.v.pendReact) > 0
}

// Tick does the room's time-based work: it logs the pending joins and
// leaves, interest marks, votes and reactions in batches at their
// intervals, removes participants whose connections stayed away for
// ReconnectGrace, closes polls at their deadline, ends a room left without
// host and moderators for HostGrace or past its HotStateTTL, and pushes the
// counts when they changed, at most once per CountsInterval.
func (b *Behavior) Tick(now time.Time) (actor.Decision, bool) {
	b.prime(now)
	if !b.created || b.status == Ended {
		return actor.Decision{}, false
	}
	if !b.expiresAt.IsZero() && !now.Before(b.expiresAt) {
		return b.endDecision(now, b.expiryReason()).Decision, true
	}
	lim := &b.lim
	if b.status == Live {
		c := b.countsView()
		if !b.unattendedSince.IsZero() && c.Hosts+c.Moderators == 0 && now.Sub(b.unattendedSince) >= lim.HostGrace {
			return b.endDecision(now, EndedHostLeft).Decision, true
		}
		for u, t := range b.v.detached {
			if now.Sub(t) >= lim.ReconnectGrace {
				delete(b.v.detached, u)
				if b.present(u) {
					b.pending(u, false)
				}
			}
		}
	}
	var d actor.Decision
	if (len(b.v.pend) > 0 || len(b.v.pendInterest) > 0) && now.Sub(b.v.lastMember) >= lim.MembershipInterval {
		d.Events = append(d.Events, b.flushMembership(now)...)
	}
	var closing []eventlog.Draft
	for _, p := range b.polls {
		if p.closedAt == nil && p.closesAt != nil && !now.Before(*p.closesAt) {
			closing = append(closing, systemEvent(EvPollClosed, PollClosed{Poll: p.n, Totals: b.pollTotalsView(p), Reason: "deadline"}))
		}
	}
	if len(b.v.pendVotes) > 0 && (len(closing) > 0 || now.Sub(b.v.lastTally) >= lim.TallyInterval) {
		d.Events = append(d.Events, b.flushVotes(now)...)
	}
	d.Events = append(d.Events, closing...)
	if len(b.v.pendReact) > 0 && now.Sub(b.v.lastReact) >= lim.ReactionInterval {
		d.Events = append(d.Events, b.flushReactions(now))
	}
	if c := b.countsView(); c != b.v.sentCounts && now.Sub(b.v.lastCounts) >= lim.CountsInterval {
		data, _ := json.Marshal(c)
		d.Ephemeral = append(d.Ephemeral, actor.Ephemeral{Type: EvCounts, Data: data})
		b.v.sentCounts, b.v.lastCounts = c, now
	}
	return d, len(d.Events) > 0 || len(d.Ephemeral) > 0
}

// Flush logs everything accepted and not logged yet (joins and leaves,
// interest, votes, reactions): the host calls it when it stops the actor
// gracefully.
func (b *Behavior) Flush(now time.Time) (actor.Decision, bool) {
	if !b.created || b.status == Ended {
		return actor.Decision{}, false
	}
	drafts := b.flushAll(now)
	return actor.Decision{Events: drafts}, len(drafts) > 0
}

// flushOrdered returns the pending batches that other events depend on
// (joins and leaves, interest, votes) as drafts, and empties them.
func (b *Behavior) flushOrdered(now time.Time) []eventlog.Draft {
	var out []eventlog.Draft
	if len(b.v.pend) > 0 || len(b.v.pendInterest) > 0 {
		out = append(out, b.flushMembership(now)...)
	}
	if len(b.v.pendVotes) > 0 {
		out = append(out, b.flushVotes(now)...)
	}
	return out
}

// flushAll is flushOrdered plus the pending reactions.
func (b *Behavior) flushAll(now time.Time) []eventlog.Draft {
	out := b.flushOrdered(now)
	if len(b.v.pendReact) > 0 {
		out = append(out, b.flushReactions(now))
	}
	return out
}

func (b *Behavior) flushMembership(now time.Time) []eventlog.Draft {
	v := &b.v
	var out []eventlog.Draft
	if len(v.pend) > 0 {
		p := Participants{Changes: v.pend, Count: b.countsView().Total}
		for _, c := range v.pend {
			m, in := b.members[c.U]
			if (c.J && !in && b.joinRole(c.U).OnStage()) || (!c.J && in && m.role.OnStage()) {
				p.Stage = b.stageView(now, nil)
				break
			}
		}
		out = append(out, systemEvent(EvParticipants, p))
	}
	if len(v.pendInterest) > 0 {
		out = append(out, systemEvent(EvInterest, Interest{Changes: v.pendInterest, Count: b.countsView().Interested}))
	}
	v.pend, v.pendInterest = nil, nil
	clear(v.pendState)
	clear(v.pendStage)
	clear(v.pendIntState)
	v.pendDelta, v.pendIntDelta = Counts{}, 0
	v.lastMember = now
	return out
}

func (b *Behavior) flushVotes(now time.Time) []eventlog.Draft {
	var out []eventlog.Draft
	for _, p := range b.polls {
		vb := b.v.pendVotes[p.n]
		if vb == nil {
			continue
		}
		out = append(out, systemEvent(EvPollVotes, PollVotes{Poll: p.n, Voters: vb.voters, Counts: vb.counts, Totals: b.pollTotalsView(p)}))
	}
	clear(b.v.pendVotes)
	b.v.lastTally = now
	return out
}

func (b *Behavior) flushReactions(now time.Time) eventlog.Draft {
	totals := maps.Clone(b.reactions)
	for e, n := range b.v.pendReact {
		totals[e] += n
	}
	d := systemEvent(EvReactions, Reactions{Counts: maps.Clone(b.v.pendReact), Totals: totals})
	clear(b.v.pendReact)
	b.v.lastReact = now
	return d
}

// endDecision flushes everything pending, closes open polls and ends the
// room with its summary.
func (b *Behavior) endDecision(now time.Time, reason string) decision {
	// Everything below is computed on the effective view, which is what
	// the state is once the flushed batches are applied.
	var closing []eventlog.Draft
	for _, p := range b.polls {
		if p.closedAt == nil {
			closing = append(closing, systemEvent(EvPollClosed, PollClosed{Poll: p.n, Totals: b.pollTotalsView(p), Reason: "room_ended"}))
		}
	}
	sum := b.summaryView(now, reason)
	drafts := append(b.flushAll(now), closing...)
	sum.Events = b.lastSeq + uint64(len(drafts)) + 1
	drafts = append(drafts, systemEvent(EvEnded, EndedData{Reason: reason, Summary: sum, Stage: []StageMember{}}))
	return decision{Decision: actor.Decision{Events: drafts, Reply: map[string]any{"status": Ended, "summary": sum}}, flushed: true}
}
