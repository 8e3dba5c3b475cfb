package roomstest

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"testing"

	"github.com/parleyhq/parley/internal/core"
	"github.com/parleyhq/parley/internal/errs"
	"github.com/parleyhq/parley/internal/rooms"
)

// Labels of the users of a permission cell: one per role, and Target, the
// user that moderation actions act on.
const (
	Host     = "host"
	Mod      = "moderator"
	Speaker  = "speaker"
	Listener = "listener"
	Visitor  = "visitor"
	Target   = "target"
)

// Label returns the user label holding role.
func Label(r rooms.Role) string {
	if r == rooms.RoleVisitor {
		return Visitor
	}
	return string(r)
}

// Exec runs the commands of one room as its users. Call returns the
// command's reply as JSON, or the error's stable code ("" on success) and
// the error.
type Exec interface {
	Call(as, cmd string, in rooms.Input) (json.RawMessage, errs.Code, error)
	User(as string) core.UserID
}

// PermCase exercises one row of the permission table.
type PermCase struct {
	Action rooms.Action
	// Target is the role of the Target user (listener unless set).
	Target rooms.Role
	// Scheduled lists the roles whose cell runs in a room that has not
	// started (where nobody but the host has a role yet).
	Scheduled []rooms.Role
	// Try does the action as the user holding role as, after preparing the
	// room as other users if needed.
	Try func(x Exec, as string) error
	// Cleanup, if set, undoes what outlives the room (a host's block list).
	Cleanup func(x Exec)
}

func do(x Exec, as, cmd string, in rooms.Input) error {
	_, code, err := x.Call(as, cmd, in)
	if err != nil {
		return &CodeError{Code: code, Err: err}
	}
	return nil
}

// prepError is a failed preparation step: the test is broken, not the rule.
type prepError struct{ err error }

func (e *prepError) Error() string { return e.err.Error() }

// must runs a preparation step that has to succeed.
func must(x Exec, as, cmd string, in rooms.Input) (json.RawMessage, error) {
	r, _, err := x.Call(as, cmd, in)
	if err != nil {
		return nil, &prepError{fmt.Errorf("preparing (%s %s): %w", as, cmd, err)}
	}
	return r, nil
}

func ptr[T any](v T) *T { return &v }

func commentBy(x Exec, as string) (int64, error) {
	r, err := must(x, as, rooms.CmdComment, rooms.Input{Text: "comment by " + as})
	if err != nil {
		return 0, err
	}
	var out struct {
		Comment int64 `json:"comment"`
	}
	if err := json.Unmarshal(r, &out); err != nil {
		return 0, err
	}
	return out.Comment, nil
}

func simple(cmd string, in func(x Exec) rooms.Input) func(x Exec, as string) error {
	return func(x Exec, as string) error { return do(x, as, cmd, in(x)) }
}

func none(Exec) rooms.Input { return rooms.Input{} }

func onTarget(x Exec) rooms.Input { return rooms.Input{User: x.User(Target)} }

// PermCases returns one case per row of rooms.Table.
func PermCases() []PermCase {
	return []PermCase{
		{Action: rooms.ActView, Try: simple(rooms.CmdGet, none)},
		{Action: rooms.ActJoin, Try: simple(rooms.CmdJoin, none)},
		{Action: rooms.ActLeave, Try: simple(rooms.CmdLeave, none)},
		{Action: rooms.ActUpdate, Try: simple(rooms.CmdUpdate, func(Exec) rooms.Input { return rooms.Input{Title: ptr("A new title")} })},
		{Action: rooms.ActStart, Scheduled: []rooms.Role{rooms.RoleHost, rooms.RoleVisitor}, Try: simple(rooms.CmdStart, none)},
		{Action: rooms.ActEnd, Try: simple(rooms.CmdEnd, none)},
		{Action: rooms.ActGuests, Try: simple(rooms.CmdGuests, func(x Exec) rooms.Input { return rooms.Input{Users: []core.UserID{x.User(Visitor)}} })},
		{Action: rooms.ActInterest, Try: simple(rooms.CmdInterest, func(Exec) rooms.Input { return rooms.Input{Interested: ptr(true)} })},
		{Action: rooms.ActHand, Scheduled: []rooms.Role{rooms.RoleVisitor}, Try: simple(rooms.CmdHand, func(Exec) rooms.Input { return rooms.Input{Raised: ptr(true)} })},
		{Action: rooms.ActHands, Try: simple(rooms.CmdHands, none)},
		{Action: rooms.ActAudience, Try: simple(rooms.CmdAudience, none)},
		{Action: rooms.ActInvite, Try: simple(rooms.CmdInvite, onTarget)},
		{Action: rooms.ActAnswer, Try: func(x Exec, as string) error {
			if as == Listener {
				if _, err := must(x, Host, rooms.CmdInvite, rooms.Input{User: x.User(Listener)}); err != nil {
					return err
				}
			}
			return do(x, as, rooms.CmdInviteAnswer, rooms.Input{Accept: ptr(true)})
		}},
		{Action: rooms.ActStageJoin, Try: func(x Exec, as string) error {
			if _, err := must(x, Host, rooms.CmdSettings, rooms.Input{OpenStage: ptr(true)}); err != nil {
				return err
			}
			return do(x, as, rooms.CmdStageJoin, rooms.Input{})
		}},
		{Action: rooms.ActStageLeave, Try: simple(rooms.CmdStageLeave, none)},
		{Action: rooms.ActStageRemove, Target: rooms.RoleSpeaker, Try: simple(rooms.CmdStageRemove, onTarget)},
		{Action: rooms.ActSetRole, Try: simple(rooms.CmdRole, func(x Exec) rooms.Input { return rooms.Input{User: x.User(Target), Role: "moderator"} })},
		{Action: rooms.ActMuteSelf, Try: simple(rooms.CmdMute, func(Exec) rooms.Input { return rooms.Input{Muted: ptr(false)} })},
		{Action: rooms.ActMuteOther, Target: rooms.RoleSpeaker, Try: simple(rooms.CmdMute, func(x Exec) rooms.Input {
			return rooms.Input{User: x.User(Target), Muted: ptr(true), Locked: ptr(true)}
		})},
		{Action: rooms.ActKick, Try: simple(rooms.CmdKick, onTarget)},
		{Action: rooms.ActBlock, Try: simple(rooms.CmdBlock, onTarget), Cleanup: func(x Exec) {
			_, _, _ = x.Call(Host, rooms.CmdUnblock, rooms.Input{User: x.User(Target)})
		}},
		{Action: rooms.ActReport, Try: simple(rooms.CmdReport, func(x Exec) rooms.Input { return rooms.Input{User: x.User(Target), Reason: "spam"} })},
		{Action: rooms.ActComment, Try: simple(rooms.CmdComment, func(Exec) rooms.Input { return rooms.Input{Text: "hello"} })},
		{Action: rooms.ActCommentExempt, Try: func(x Exec, as string) error {
			if _, err := must(x, Host, rooms.CmdSettings, rooms.Input{CommentsOff: ptr(true)}); err != nil {
				return err
			}
			return do(x, as, rooms.CmdComment, rooms.Input{Text: "still talking"})
		}},
		{Action: rooms.ActDeleteOwn, Try: func(x Exec, as string) error {
			author := as
			if as == Visitor {
				author = Target // a visitor has no comment of their own
			}
			n, err := commentBy(x, author)
			if err != nil {
				return err
			}
			return do(x, as, rooms.CmdCommentDelete, rooms.Input{Comment: n})
		}},
		{Action: rooms.ActDeleteAny, Try: func(x Exec, as string) error {
			n, err := commentBy(x, Target)
			if err != nil {
				return err
			}
			return do(x, as, rooms.CmdCommentDelete, rooms.Input{Comment: n})
		}},
		{Action: rooms.ActPin, Try: func(x Exec, as string) error {
			n, err := commentBy(x, Target)
			if err != nil {
				return err
			}
			return do(x, as, rooms.CmdCommentPin, rooms.Input{Comment: n})
		}},
		{Action: rooms.ActSettings, Try: simple(rooms.CmdSettings, func(Exec) rooms.Input { return rooms.Input{SlowMode: ptr(5)} })},
		{Action: rooms.ActOpenStage, Try: simple(rooms.CmdSettings, func(Exec) rooms.Input { return rooms.Input{OpenStage: ptr(true)} })},
		{Action: rooms.ActReact, Try: simple(rooms.CmdReact, func(Exec) rooms.Input { return rooms.Input{Emoji: rooms.DefaultLimits().Reactions[0], Count: 3} })},
		{Action: rooms.ActPoll, Try: simple(rooms.CmdPollOpen, func(Exec) rooms.Input {
			return rooms.Input{Question: "Tea or coffee?", Options: []string{"tea", "coffee"}}
		})},
		{Action: rooms.ActVote, Try: func(x Exec, as string) error {
			if _, err := must(x, Host, rooms.CmdPollOpen, rooms.Input{Question: "Which?", Options: []string{"a", "b"}}); err != nil {
				return err
			}
			return do(x, as, rooms.CmdPollVote, rooms.Input{Poll: 1, Option: ptr(1)})
		}},
	}
}

// Prepare fills a new live room: the host, a moderator, a speaker, a
// listener and the target (with role target) join; the visitor does not.
func Prepare(x Exec, target rooms.Role) error {
	for _, u := range []string{Host, Mod, Speaker, Listener, Target} {
		if _, err := must(x, u, rooms.CmdJoin, rooms.Input{}); err != nil {
			return err
		}
	}
	if target == "" {
		target = rooms.RoleListener
	}
	for u, r := range map[string]rooms.Role{Mod: rooms.RoleModerator, Speaker: rooms.RoleSpeaker, Target: target} {
		if r == rooms.RoleListener {
			continue
		}
		if _, err := must(x, Host, rooms.CmdRole, rooms.Input{User: x.User(u), Role: string(r)}); err != nil {
			return err
		}
	}
	return nil
}

// WalkPermissions checks every cell of the permission table: for each row
// and role it makes a room with newRoom (scheduled or live), prepares it,
// and expects the row's action to succeed exactly when rooms.Can allows it,
// and to fail with forbidden otherwise.
func WalkPermissions(t *testing.T, newRoom func(t *testing.T, scheduled bool) Exec) {
	cases := PermCases()
	for _, row := range rooms.Table {
		if !slices.ContainsFunc(cases, func(c PermCase) bool { return c.Action == row.Action }) {
			t.Errorf("permission row %s has no test case", row.Action)
		}
	}
	for _, pc := range cases {
		t.Run(string(pc.Action), func(t *testing.T) {
			for _, role := range rooms.Roles {
				scheduled := slices.Contains(pc.Scheduled, role)
				x := newRoom(t, scheduled)
				if !scheduled {
					if err := Prepare(x, pc.Target); err != nil {
						t.Fatalf("%s as %s: %v", pc.Action, role, err)
					}
				}
				err := pc.Try(x, Label(role))
				if pc.Cleanup != nil {
					pc.Cleanup(x)
				}
				var pe *prepError
				if errors.As(err, &pe) {
					t.Fatalf("%s as %s: %v", pc.Action, role, err)
				}
				want := rooms.Can(role, pc.Action)
				switch {
				case want && err != nil:
					t.Errorf("%s as %s: want allowed, got %v", pc.Action, role, err)
				case !want && err == nil:
					t.Errorf("%s as %s: want forbidden, got success", pc.Action, role)
				case !want && CodeOf(err) != errs.Forbidden:
					t.Errorf("%s as %s: want forbidden, got %v", pc.Action, role, err)
				}
			}
		})
	}
}

// CodeError is an error with a stable code, as Exec implementations return.
type CodeError struct {
	Code errs.Code
	Err  error
}

func (e *CodeError) Error() string { return e.Err.Error() }
func (e *CodeError) Unwrap() error { return e.Err }

// CodeOf returns the code of a CodeError or errs.Error.
func CodeOf(err error) errs.Code {
	var ce *CodeError
	if errors.As(err, &ce) {
		return ce.Code
	}
	return errs.CodeOf(err)
}
