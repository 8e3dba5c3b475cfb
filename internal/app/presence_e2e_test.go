package app_test

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/parleyhq/parley/internal/app/apptest"
	"github.com/parleyhq/parley/internal/core"
)

type presenceData struct {
	User     string    `json:"user"`
	Status   string    `json:"status"`
	LastSeen time.Time `json:"last_seen"`
}

func lastPresence(t testing.TB, e *apptest.Events, stream string) presenceData {
	t.Helper()
	evs := e.Of(stream, "presence")
	if len(evs) == 0 {
		return presenceData{}
	}
	var p presenceData
	apptest.Data(t, evs[len(evs)-1], &p)
	return p
}

// TestPresenceAcrossDevices: presence follows every device of a user.
func TestPresenceAcrossDevices(t *testing.T) {
	n := apptest.Start(t)
	alice := n.SignUp(t, "Alice")
	bob := n.SignUp(t, "Bob")
	var seen apptest.Events
	ac := n.Dial(t, alice, seen.Options())
	stream := "presence:" + bob.ID
	if _, err := ac.Subscribe(ctx(t), stream, nil); err != nil {
		t.Fatal(err)
	}
	apptest.Wait(t, 5*time.Second, "snapshot", func() bool { return lastPresence(t, &seen, stream).Status == "offline" })

	phone := n.Dial(t, bob, nil)
	apptest.Wait(t, 5*time.Second, "online", func() bool { return lastPresence(t, &seen, stream).Status == "online" })
	laptop := n.Dial(t, bob, nil)
	apptest.Request(t, phone, "presence.set", map[string]string{"status": "away"}, nil)
	time.Sleep(200 * time.Millisecond)
	if s := lastPresence(t, &seen, stream).Status; s != "online" {
		t.Fatalf("one idle device of two made bob %s", s)
	}
	apptest.Request(t, laptop, "presence.set", map[string]string{"status": "away"}, nil)
	apptest.Wait(t, 5*time.Second, "away", func() bool { return lastPresence(t, &seen, stream).Status == "away" })
	apptest.Request(t, laptop, "presence.set", map[string]string{"status": "active"}, nil)
	apptest.Wait(t, 5*time.Second, "online again", func() bool { return lastPresence(t, &seen, stream).Status == "online" })

	before := time.Now()
	phone.Close()
	laptop.Close()
	apptest.Wait(t, 5*time.Second, "offline", func() bool { return lastPresence(t, &seen, stream).Status == "offline" })
	p := lastPresence(t, &seen, stream)
	if p.LastSeen.Before(before.Add(-time.Second)) {
		t.Fatalf("last seen %v, before the devices left at %v", p.LastSeen, before)
	}
	var got struct {
		Users []presenceData `json:"users"`
	}
	apptest.Request(t, ac, "presence.get", map[string]any{"users": []string{bob.ID, alice.ID}}, &got)
	if len(got.Users) != 2 || got.Users[0].Status != "offline" || got.Users[1].Status != "online" || got.Users[0].LastSeen.IsZero() {
		t.Fatalf("presence.get: %+v", got.Users)
	}
}

// TestPushToUser: a push reaches every connection of the user and no one
// else.
func TestPushToUser(t *testing.T) {
	n := apptest.Start(t)
	bob := n.SignUp(t, "Bob")
	var d1, d2, other apptest.Events
	n.Dial(t, bob, d1.Options())
	n.Dial(t, bob, d2.Options())
	n.Dial(t, n.SignUp(t, "Eve"), other.Options())
	apptest.Wait(t, 5*time.Second, "directory entry", func() bool { return len(n.Presence().Nodes(core.UserID(bob.ID))) == 1 })
	n.PushToUser(core.UserID(bob.ID), "call.ring", json.RawMessage(`{"call":"c1"}`))
	apptest.Wait(t, 5*time.Second, "push on both devices", func() bool { return len(d1.Pushes()) == 1 && len(d2.Pushes()) == 1 })
	if p := d1.Pushes()[0]; p.Type != "call.ring" || string(p.Data) != `{"call":"c1"}` {
		t.Fatalf("push %+v", p)
	}
	time.Sleep(100 * time.Millisecond)
	if len(other.Pushes()) != 0 {
		t.Fatal("push reached another user")
	}
}
