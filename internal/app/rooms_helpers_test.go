package app_test

import (
	"context"
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/parleyhq/parley/client"
	"github.com/parleyhq/parley/internal/app/apptest"
	"github.com/parleyhq/parley/internal/config"
	"github.com/parleyhq/parley/internal/rooms"
)

// roomNode starts a node with limits that let tests drive rooms quickly.
func roomNode(t *testing.T, opts ...apptest.Option) *apptest.Node {
	t.Helper()
	base := []apptest.Option{apptest.WithConfig(func(c *config.Config) {
		c.Gateway.RatePerSecond = 100000
		c.Gateway.RateBurst = 100000
		c.Rooms.HotSnapshotInterval = 50 * time.Millisecond
		c.Rooms.SweepInterval = 200 * time.Millisecond
	})}
	return apptest.Start(t, append(base, opts...)...)
}

// member is a signed-up user with a connection and what it received.
type roomUser struct {
	*apptest.User
	c  *client.Client
	ev *apptest.Events
}

func newRoomUser(t *testing.T, n *apptest.Node, name string) *roomUser {
	t.Helper()
	u := n.SignUp(t, name)
	ev := &apptest.Events{}
	return &roomUser{User: u, c: n.Dial(t, u, ev.Options()), ev: ev}
}

// call sends room.<cmd> and returns the raw result or the error.
func (m *roomUser) call(t *testing.T, cmd string, params any) (json.RawMessage, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	var raw json.RawMessage
	err := m.c.Request(ctx, "room."+cmd, params, &raw)
	return raw, err
}

// must sends room.<cmd> and fails the test on error.
func (m *roomUser) must(t *testing.T, cmd string, params any) json.RawMessage {
	t.Helper()
	raw, err := m.call(t, cmd, params)
	if err != nil {
		t.Fatalf("%s room.%s: %v", m.Handle, cmd, err)
	}
	return raw
}

// fails expects room.<cmd> to fail with code.
func (m *roomUser) fails(t *testing.T, code, cmd string, params any) {
	t.Helper()
	_, err := m.call(t, cmd, params)
	var ce *client.Error
	if !errors.As(err, &ce) || ce.Code != code {
		t.Fatalf("%s room.%s: err %v, want %s", m.Handle, cmd, err, code)
	}
}

// createRoom creates a live room (or a scheduled one with at) as m.
func (m *roomUser) createRoom(t *testing.T, params map[string]any) rooms.RoomID {
	t.Helper()
	if params == nil {
		params = map[string]any{}
	}
	if params["title"] == nil {
		params["title"] = "A room"
	}
	var res struct {
		Room rooms.RoomID `json:"room"`
	}
	if err := json.Unmarshal(m.must(t, "create", params), &res); err != nil || res.Room == "" {
		t.Fatalf("create: %v %+v", err, res)
	}
	return res.Room
}

// join joins the room and subscribes to its stream from the snapshot.
func (m *roomUser) join(t *testing.T, room rooms.RoomID) rooms.Snapshot {
	t.Helper()
	var snap rooms.Snapshot
	if err := json.Unmarshal(m.must(t, "join", map[string]any{"room": room}), &snap); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	after := snap.Seq
	if _, err := m.c.Subscribe(ctx, string(room.Stream()), &after); err != nil {
		t.Fatalf("subscribe: %v", err)
	}
	return snap
}

func (m *roomUser) snapshot(t *testing.T, room rooms.RoomID) rooms.Snapshot {
	t.Helper()
	var snap rooms.Snapshot
	if err := json.Unmarshal(m.must(t, "get", map[string]any{"room": room}), &snap); err != nil {
		t.Fatal(err)
	}
	return snap
}

// eventsOf decodes the data of m's events of typ in room's stream.
func eventsOf[T any](t *testing.T, m *roomUser, room rooms.RoomID, typ string) []T {
	t.Helper()
	var out []T
	for _, e := range m.ev.Of(string(room.Stream()), typ) {
		var v T
		apptest.Data(t, e, &v)
		out = append(out, v)
	}
	return out
}

func jsonOf(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

func jsonUnmarshal(raw json.RawMessage, v any) error { return json.Unmarshal(raw, v) }
