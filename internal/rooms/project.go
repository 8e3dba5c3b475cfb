package rooms

import (
	"github.com/parleyhq/parley/internal/eventlog"
)

// Project folds a room event into its listing row. It is the read model's
// one projection rule; events that listings do not show only move Seq.
func Project(l *Listing, ev *eventlog.Event) {
	l.Seq, l.UpdatedAt = ev.Seq, ev.Time
	switch ev.Type {
	case EvCreated:
		var d Created
		decode(ev.Data, &d)
		*l = Listing{
			Room: d.Room, Host: d.Host, Title: d.Title, Description: d.Description, Topics: d.Topics,
			Visibility: d.Visibility, Workspace: d.Workspace, Status: d.Status, CreatedAt: ev.Time,
			ScheduledAt: d.ScheduledAt, ExpiresAt: d.ExpiresAt, Seq: ev.Seq, UpdatedAt: ev.Time,
		}
		if d.Status == Live {
			t := ev.Time
			l.StartedAt = &t
		}
	case EvUpdated:
		var d Updated
		decode(ev.Data, &d)
		if d.Title != nil {
			l.Title = *d.Title
		}
		if d.Description != nil {
			l.Description = *d.Description
		}
		if d.Topics != nil {
			l.Topics = d.Topics
		}
		if d.ScheduledAt != nil {
			l.ScheduledAt = d.ScheduledAt
		}
		if d.ExpiresAt != nil {
			l.ExpiresAt = *d.ExpiresAt
		}
	case EvStarted:
		var d Started
		decode(ev.Data, &d)
		t := ev.Time
		l.Status, l.StartedAt, l.ExpiresAt = Live, &t, d.ExpiresAt
		l.Speakers = len(d.Stage)
	case EvEnded:
		var d EndedData
		decode(ev.Data, &d)
		t := ev.Time
		l.Status, l.EndedAt, l.EndReason, l.Summary = Ended, &t, d.Reason, &d.Summary
		l.Participants, l.Speakers = 0, 0
	case EvParticipants:
		var d Participants
		decode(ev.Data, &d)
		l.Participants = d.Count
		if d.Stage != nil {
			l.Speakers = len(d.Stage)
		}
	case EvSpeakerAdded, EvSpeakerRemoved, EvRoleChanged:
		var d RoleData
		decode(ev.Data, &d)
		l.Speakers = len(d.Stage)
	case EvKicked, EvBlocked:
		var d Target
		decode(ev.Data, &d)
		if d.Stage != nil {
			l.Speakers = len(d.Stage)
		}
	case EvInterest:
		var d Interest
		decode(ev.Data, &d)
		l.Interested = d.Count
	}
	if l.Topics == nil {
		l.Topics = []string{}
	}
}

// Listed reports whether an event type can change a listing row (other
// events are folded too, but need not trigger a projection).
func Listed(typ string) bool {
	switch typ {
	case EvCreated, EvUpdated, EvStarted, EvEnded, EvParticipants, EvSpeakerAdded,
		EvSpeakerRemoved, EvRoleChanged, EvKicked, EvBlocked, EvInterest:
		return true
	}
	return false
}
