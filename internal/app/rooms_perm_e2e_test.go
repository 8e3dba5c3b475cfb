package app_test

import (
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/parleyhq/parley/client"
	"github.com/parleyhq/parley/internal/core"
	"github.com/parleyhq/parley/internal/errs"
	"github.com/parleyhq/parley/internal/rooms"
	"github.com/parleyhq/parley/internal/rooms/roomstest"
)

// clientExec runs permission cells over real connections: one user per
// label, each with its own Go client.
type clientExec struct {
	t     *testing.T
	room  rooms.RoomID
	users map[string]*roomUser
}

func (x *clientExec) User(as string) core.UserID { return core.UserID(x.users[as].ID) }

func (x *clientExec) Call(as, cmd string, in rooms.Input) (json.RawMessage, errs.Code, error) {
	in.Room = x.room
	raw, err := x.users[as].call(x.t, cmd, in)
	if err != nil {
		var ce *client.Error
		if errors.As(err, &ce) {
			return nil, errs.Code(ce.Code), err
		}
		return nil, errs.Internal, err
	}
	return raw, "", nil
}

// TestRoomPermissionTable walks the whole permission table, row by row and
// role by role, through Go clients on a running node: each cell gets a new
// room with a host, a moderator, a speaker, a listener, a visitor and a
// target, and the action must succeed exactly when the table allows it.
func TestRoomPermissionTable(t *testing.T) {
	n := roomNode(t)
	users := map[string]*roomUser{}
	for _, l := range []string{roomstest.Host, roomstest.Mod, roomstest.Speaker, roomstest.Listener, roomstest.Visitor, roomstest.Target} {
		users[l] = newRoomUser(t, n, l)
	}
	cells := 0
	roomstest.WalkPermissions(t, func(t *testing.T, scheduled bool) roomstest.Exec {
		params := map[string]any{"title": "Permissions"}
		if scheduled {
			params["scheduled_at"] = time.Now().Add(time.Hour)
		}
		cells++
		return &clientExec{t: t, room: users[roomstest.Host].createRoom(t, params), users: users}
	})
	if want := len(rooms.Table) * len(rooms.Roles); cells != want {
		t.Fatalf("walked %d cells, want %d", cells, want)
	}
}
