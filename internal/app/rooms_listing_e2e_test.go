package app_test

import (
	"net/http"
	"sort"
	"testing"
	"time"

	"github.com/parleyhq/parley/internal/app/apptest"
	"github.com/parleyhq/parley/internal/httpapi"
	"github.com/parleyhq/parley/internal/rooms"
)

func homeOf(t *testing.T, n *apptest.Node, m *roomUser) map[rooms.RoomID]string {
	t.Helper()
	var page httpapi.HomePage
	if err := n.API.Do(ctx(t), http.MethodGet, "/v1/home", token(t, m), nil, &page); err != nil {
		t.Fatal(err)
	}
	out := map[rooms.RoomID]string{}
	for _, e := range page.Rooms {
		out[e.Room] = e.Reason
	}
	return out
}

// TestRoomListingsAndHome: live and upcoming listings, paged, and the home
// timeline precomputed by the home workers from follows, stage changes and
// invitations, with ended rooms removed.
func TestRoomListingsAndHome(t *testing.T) {
	n := roomNode(t)
	star := newRoomUser(t, n, "Star")
	fan := newRoomUser(t, n, "Fan")
	late := newRoomUser(t, n, "Late")
	other := newRoomUser(t, n, "Other")
	spk := newRoomUser(t, n, "Speaker")
	for _, f := range []*roomUser{fan} {
		for _, who := range []*roomUser{star, spk} {
			if err := n.API.Do(ctx(t), http.MethodPut, "/v1/users/"+who.ID+"/follow", token(t, f), nil, nil); err != nil {
				t.Fatal(err)
			}
		}
	}
	var live []rooms.RoomID
	for i := 0; i < 5; i++ {
		live = append(live, star.createRoom(t, map[string]any{"title": "Live"}))
	}
	upcoming := star.createRoom(t, map[string]any{"title": "Later", "scheduled_at": time.Now().Add(2 * time.Hour)})
	private := other.createRoom(t, map[string]any{"title": "Private", "visibility": "invite"})
	other.must(t, "guests", map[string]any{"room": private, "users": []string{fan.ID}})
	stage := other.createRoom(t, map[string]any{"title": "Panel"})
	other.join(t, stage)
	spk.join(t, stage)
	other.must(t, "role", map[string]any{"room": stage, "user": spk.ID, "role": "speaker"})

	// Listings, paged two by two, newest first; the private room is not listed.
	var got []rooms.RoomID
	cursor := ""
	for {
		var page httpapi.RoomPage
		if err := n.API.Do(ctx(t), http.MethodGet, "/v1/rooms?status=live&limit=2&cursor="+cursor, token(t, late), nil, &page); err != nil {
			t.Fatal(err)
		}
		for _, l := range page.Rooms {
			got = append(got, l.Room)
		}
		if page.Next == "" {
			break
		}
		cursor = page.Next
	}
	want := append([]rooms.RoomID{stage}, live...)
	sort.Slice(want[1:], func(i, j int) bool { return want[1+i] > want[1+j] })
	if len(got) != 6 || jsonOf(got) != jsonOf(want) {
		t.Fatalf("live listing %v, want %v", got, want)
	}
	var up httpapi.RoomPage
	if err := n.API.Do(ctx(t), http.MethodGet, "/v1/rooms?status=upcoming", token(t, late), nil, &up); err != nil || len(up.Rooms) != 1 || up.Rooms[0].Room != upcoming {
		t.Fatalf("upcoming: %+v %v", up, err)
	}
	if err := n.API.Do(ctx(t), http.MethodGet, "/v1/rooms/"+string(private), token(t, late), nil, nil); !isCode(err, "not_found") {
		t.Fatalf("a stranger reads an invite-only room: %v", err)
	}
	if err := n.API.Do(ctx(t), http.MethodGet, "/v1/rooms/"+string(private), token(t, fan), nil, nil); err != nil {
		t.Fatalf("a guest cannot read the room: %v", err)
	}

	// The fan's home: the star's rooms, the room where a followed user
	// speaks, and the invitation.
	apptest.Wait(t, 10*time.Second, "the fan's home", func() bool {
		h := homeOf(t, n, fan)
		for _, id := range live {
			if h[id] != rooms.ReasonHosting {
				return false
			}
		}
		return h[upcoming] == rooms.ReasonHosting && h[private] == rooms.ReasonInvited && h[stage] == rooms.ReasonSpeaking && len(h) == 8
	})
	// Someone who follows later gets the same rooms (a rebuild).
	if err := n.API.Do(ctx(t), http.MethodPut, "/v1/users/"+star.ID+"/follow", token(t, late), nil, nil); err != nil {
		t.Fatal(err)
	}
	apptest.Wait(t, 10*time.Second, "the late follower's home", func() bool { return len(homeOf(t, n, late)) == 6 })
	// An ended room leaves every home.
	star.must(t, "end", map[string]any{"room": live[0]})
	apptest.Wait(t, 10*time.Second, "the ended room to leave the homes", func() bool {
		_, a := homeOf(t, n, fan)[live[0]]
		_, b := homeOf(t, n, late)[live[0]]
		return !a && !b
	})
	var following httpapi.UserPage
	if err := n.API.Do(ctx(t), http.MethodGet, "/v1/me/following", token(t, fan), nil, &following); err != nil || len(following.Users) != 2 {
		t.Fatalf("following: %+v %v", following, err)
	}
	if err := n.API.Do(ctx(t), http.MethodPut, "/v1/users/u_nobody/follow", token(t, fan), nil, nil); !isCode(err, "not_found") {
		t.Fatalf("following a missing user: %v", err)
	}
}
