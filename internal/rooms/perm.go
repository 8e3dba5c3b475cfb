package rooms

import (
	"fmt"
	"strings"
)

// Action is something a user may do in a room. The permission table says,
// for each action, which roles may do it; Behavior checks it on every
// command before any other rule.
type Action string

// Actions, in the order of the permission table.
const (
	ActView          Action = "view"
	ActJoin          Action = "join"
	ActLeave         Action = "leave"
	ActUpdate        Action = "update"
	ActStart         Action = "start"
	ActEnd           Action = "end"
	ActGuests        Action = "guests"
	ActInterest      Action = "interest"
	ActHand          Action = "hand"
	ActHands         Action = "hands"
	ActAudience      Action = "audience"
	ActInvite        Action = "invite"
	ActAnswer        Action = "answer"
	ActStageJoin     Action = "stage_join"
	ActStageLeave    Action = "stage_leave"
	ActStageRemove   Action = "stage_remove"
	ActSetRole       Action = "set_role"
	ActMuteSelf      Action = "mute_self"
	ActMuteOther     Action = "mute_other"
	ActKick          Action = "kick"
	ActBlock         Action = "block"
	ActReport        Action = "report"
	ActComment       Action = "comment"
	ActCommentExempt Action = "comment_exempt"
	ActDeleteOwn     Action = "delete_own"
	ActDeleteAny     Action = "delete_any"
	ActPin           Action = "pin"
	ActSettings      Action = "settings"
	ActOpenStage     Action = "open_stage"
	ActReact         Action = "react"
	ActPoll          Action = "poll"
	ActVote          Action = "vote"
)

// Rule is one row of the permission table.
type Rule struct {
	Action Action
	// Methods are the protocol methods the row governs.
	Methods []string
	// What the action does, for the documentation.
	What string
	// Roles that may do it.
	Roles []Role
	// Note states the conditions besides the role (room status, target).
	Note string
}

var (
	everyone     = []Role{RoleHost, RoleModerator, RoleSpeaker, RoleListener, RoleVisitor}
	participants = []Role{RoleHost, RoleModerator, RoleSpeaker, RoleListener}
	staff        = []Role{RoleHost, RoleModerator}
	hostOnly     = []Role{RoleHost}
)

// Table is the permission table: the one place that says who may do what
// in a room. docs/protocol.md shows it, and tests walk it row by row.
var Table = []Rule{
	{ActView, []string{"subscribe room:<id>", "room.get"}, "see the room, its state and its events", everyone,
		"public rooms: any signed-in user; workspace rooms: members of the workspace; invite-only rooms: guests. Never a user the host blocked or a moderator removed."},
	{ActJoin, []string{"room.join"}, "join the live room (as listener; the host as host)", everyone,
		"live rooms; same visibility rules as view; at most max_participants"},
	{ActLeave, []string{"room.leave"}, "leave the room", participants, ""},
	{ActUpdate, []string{"room.update"}, "change title, description, topics, start time", hostOnly, "before the room ends"},
	{ActStart, []string{"room.start"}, "start a scheduled room", hostOnly, "scheduled rooms"},
	{ActEnd, []string{"room.end"}, "end the room (cancel a scheduled one)", hostOnly, ""},
	{ActGuests, []string{"room.guests"}, "invite users to the room (the guests of an invite-only room)", staff, "before the room ends"},
	{ActInterest, []string{"room.interest"}, "mark or unmark interest", everyone, "before the room ends"},
	{ActHand, []string{"room.hand"}, "raise or lower one's hand", []Role{RoleListener, RoleVisitor},
		"visitors only before the room starts (a scheduled room has no participants yet)"},
	{ActHands, []string{"room.hands"}, "see the queue of raised hands", staff, ""},
	{ActAudience, []string{"room.audience"}, "page through the audience", participants, ""},
	{ActInvite, []string{"room.invite", "room.invite.cancel"}, "invite a listener to speak, or withdraw the invitation", staff, "the target is a listener in the room"},
	{ActAnswer, []string{"room.invite.answer"}, "accept or decline an invitation to speak", []Role{RoleListener}, "only with a pending invitation"},
	{ActStageJoin, []string{"room.stage.join"}, "step onto the stage without an invitation", []Role{RoleListener}, "only while the host keeps the stage open"},
	{ActStageLeave, []string{"room.stage.leave"}, "step down from the stage to the audience", []Role{RoleModerator, RoleSpeaker}, ""},
	{ActStageRemove, []string{"room.stage.remove"}, "move a speaker back to the audience", staff, "the target is a speaker"},
	{ActSetRole, []string{"room.role"}, "make a participant moderator, speaker or listener", hostOnly, ""},
	{ActMuteSelf, []string{"room.mute (self)"}, "mute or unmute oneself", []Role{RoleHost, RoleModerator, RoleSpeaker},
		"unmuting fails while a moderator's lock holds"},
	{ActMuteOther, []string{"room.mute (other)"}, "mute someone on the stage, lock or unlock their mute", staff,
		"the target ranks below the actor; nobody unmutes someone else"},
	{ActKick, []string{"room.kick"}, "remove a participant, who cannot rejoin this room", staff, "the target ranks below the actor"},
	{ActBlock, []string{"room.block", "room.unblock"}, "block (or unblock) a user from all of the host's rooms", staff, "the target ranks below the actor"},
	{ActReport, []string{"room.report"}, "report a comment or a user to the moderators", participants, ""},
	{ActComment, []string{"room.comment"}, "post a comment", participants, "live rooms; rate limit, slow mode and comments off apply"},
	{ActCommentExempt, []string{"room.comment"}, "comment while slow mode or comments off is on", staff, ""},
	{ActDeleteOwn, []string{"room.comment.delete"}, "delete one's own comment", participants, ""},
	{ActDeleteAny, []string{"room.comment.delete"}, "delete anyone's comment", staff, ""},
	{ActPin, []string{"room.comment.pin", "room.comment.unpin"}, "pin or unpin a comment", staff, ""},
	{ActSettings, []string{"room.settings"}, "set slow mode, turn comments off or on", staff, ""},
	{ActOpenStage, []string{"room.settings (open_stage)"}, "open or close the stage to everyone", hostOnly, ""},
	{ActReact, []string{"room.react"}, "send reactions", participants, "live rooms; rate limited"},
	{ActPoll, []string{"room.poll.open", "room.poll.close"}, "open or close a poll", staff, "live rooms"},
	{ActVote, []string{"room.poll.vote"}, "vote in an open poll, once", participants, ""},
}

var matrix = func() map[Action][5]bool {
	m := make(map[Action][5]bool, len(Table))
	for _, r := range Table {
		var row [5]bool
		for _, role := range r.Roles {
			row[role.rank()] = true
		}
		if _, dup := m[r.Action]; dup {
			panic("rooms: duplicate permission row " + string(r.Action))
		}
		m[r.Action] = row
	}
	return m
}()

// Can reports whether role may do action, by the permission table.
func Can(role Role, action Action) bool {
	return matrix[action][role.rank()]
}

// RuleOf returns the table row of action.
func RuleOf(action Action) (Rule, bool) {
	for _, r := range Table {
		if r.Action == action {
			return r, true
		}
	}
	return Rule{}, false
}

// TableMarkdown renders the permission table as the Markdown table of
// docs/protocol.md (a test keeps the two equal).
func TableMarkdown() string {
	var b strings.Builder
	b.WriteString("| action | methods | host | moderator | speaker | listener | visitor | conditions |\n")
	b.WriteString("|---|---|:-:|:-:|:-:|:-:|:-:|---|\n")
	for _, r := range Table {
		fmt.Fprintf(&b, "| %s: %s | `%s` |", r.Action, r.What, strings.Join(r.Methods, "`, `"))
		for _, role := range Roles {
			if Can(role, r.Action) {
				b.WriteString(" yes |")
			} else {
				b.WriteString(" - |")
			}
		}
		fmt.Fprintf(&b, " %s |\n", r.Note)
	}
	return b.String()
}
