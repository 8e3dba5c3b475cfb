package chat

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/parleyhq/parley/internal/core"
	"github.com/parleyhq/parley/internal/errs"
)

func TestWorkspaceRolesAndInvites(t *testing.T) {
	w, ws, gen, _ := setup(t)
	s := ws.Stream()
	exp := w.now.Add(time.Hour)
	// Members invite members; only admins invite guests and admins.
	w.must(s, CmdInviteCreate, "bob", CreateInvite{Invite: "i1", Hash: "h1", Role: RoleMember, ExpiresAt: exp, MaxUses: 1})
	w.fails(errs.Forbidden, s, CmdInviteCreate, "bob", CreateInvite{Invite: "i2", Hash: "h2", Role: RoleGuest, ExpiresAt: exp, MaxUses: 1, Channels: []ChannelID{gen}})
	w.fails(errs.Forbidden, s, CmdInviteCreate, "gus", CreateInvite{Invite: "i2", Hash: "h2", Role: RoleMember, ExpiresAt: exp, MaxUses: 1})
	w.fails(errs.InvalidArgument, s, CmdInviteCreate, "ann", CreateInvite{Invite: "i2", Hash: "h2", Role: RoleAdmin, ExpiresAt: exp, MaxUses: 1})
	w.fails(errs.InvalidArgument, s, CmdInviteCreate, "ann", CreateInvite{Invite: "i2", Hash: "h2", Role: RoleGuest, ExpiresAt: exp, MaxUses: 1})
	w.must(s, CmdInviteCreate, "ann", CreateInvite{Invite: "i2", Hash: "h2", Role: RoleGuest, Email: "Zed@Example.com", ExpiresAt: exp, MaxUses: 5, Channels: []ChannelID{gen}})
	// Joining: the invite is single use; an e-mail invite needs that e-mail.
	w.must(s, CmdWorkspaceJoin, "cat", JoinWorkspace{Hash: "h1", Email: "cat@example.com", Profile: prof("cat")})
	w.fails(errs.NotFound, s, CmdWorkspaceJoin, "dan", JoinWorkspace{Hash: "h1", Email: "dan@example.com", Profile: prof("dan")})
	w.fails(errs.Forbidden, s, CmdWorkspaceJoin, "dan", JoinWorkspace{Hash: "h2", Email: "dan@example.com", Profile: prof("dan")})
	evs := w.must(s, CmdWorkspaceJoin, "zed", JoinWorkspace{Hash: "h2", Email: "zed@example.com", Profile: prof("zed")})
	var joined MemberJoined
	_ = json.Unmarshal(evs[0].Data, &joined)
	if joined.Role != RoleGuest || len(joined.Channels) != 1 || joined.Channels[0] != gen {
		t.Fatalf("guest joined as %+v", joined)
	}
	if r, ok := w.view.Role(ws, "zed"); !ok || r != RoleGuest {
		t.Fatalf("view role %q %v", r, ok)
	}
	// Revoked and expired invites stop working.
	w.must(s, CmdInviteRevoke, "ann", InviteRef{Invite: "i2"})
	w.fails(errs.NotFound, s, CmdWorkspaceJoin, "eve", JoinWorkspace{Hash: "h2", Email: "zed@example.com"})
	w.must(s, CmdInviteCreate, "ann", CreateInvite{Invite: "i3", Hash: "h3", Role: RoleMember, ExpiresAt: w.now.Add(2 * time.Second), MaxUses: 9})
	w.now = w.now.Add(time.Minute)
	w.fails(errs.NotFound, s, CmdWorkspaceJoin, "eve", JoinWorkspace{Hash: "h3"})

	// Roles: admins cannot make admins; the last owner stays.
	w.must(s, CmdMemberRole, "ann", SetRole{User: "bob", Role: RoleAdmin})
	w.fails(errs.Forbidden, s, CmdMemberRole, "bob", SetRole{User: "cat", Role: RoleAdmin})
	w.must(s, CmdMemberRole, "bob", SetRole{User: "cat", Role: RoleGuest})
	w.fails(errs.Conflict, s, CmdMemberRole, "ann", SetRole{User: "ann", Role: RoleMember})
	w.fails(errs.Conflict, s, CmdWorkspaceLeave, "ann", nil)
	w.fails(errs.Forbidden, s, CmdMemberRemove, "bob", UserRef{User: "ann"})
	w.must(s, CmdMemberRemove, "bob", UserRef{User: "cat"})
	if _, ok := w.view.Role(ws, "cat"); ok {
		t.Fatal("removed member still in the view")
	}
	w.must(s, CmdWorkspaceLeave, "zed", struct{}{})
	w.fails(errs.Forbidden, s, CmdWorkspaceRename, "zed", CreateWorkspace{Name: "x"})
}

func TestChannelNamesAreUniqueAndPrivateNamesHidden(t *testing.T) {
	w, ws, _, _ := setup(t)
	s := ws.Stream()
	w.fails(errs.AlreadyExists, s, CmdChannelReserve, "bob", ReserveChannel{Channel: "c_x", Name: "General"})
	w.fails(errs.AlreadyExists, s, CmdChannelReserve, "bob", ReserveChannel{Channel: "c_x", Name: "secret"})
	w.fails(errs.AlreadyExists, s, CmdChannelReserve, "bob", ReserveChannel{Channel: "c_x", Name: "secret", Private: true})
	w.fails(errs.Forbidden, s, CmdChannelReserve, "gus", ReserveChannel{Channel: "c_x", Name: "guests"})
	w.fails(errs.InvalidArgument, s, CmdChannelReserve, "bob", ReserveChannel{Channel: "c_x", Name: "bad name"})
	for _, ev := range w.log[s] {
		if strings.Contains(string(ev.Data), `"secret"`) {
			t.Fatalf("the workspace stream names a private channel: %s", ev.Data)
		}
	}
	w.must(s, CmdChannelRenameReg, "bob", ReserveChannel{Channel: "c_secret", Name: "hidden"})
	w.must(s, CmdChannelReserve, "bob", ReserveChannel{Channel: "c_x", Name: "secret"})
}

func TestChannelMembershipRules(t *testing.T) {
	w, ws, gen, sec := setup(t)
	// Non-members cannot post; guests cannot join public channels.
	w.fails(errs.Forbidden, sec.Stream(), CmdPost, "bob", post("hi"))
	w.fails(errs.Forbidden, sec.Stream(), CmdChannelJoin, "bob", ChannelUsers{})
	w.fails(errs.Forbidden, gen.Stream(), CmdChannelInvite, "gus", ChannelUsers{Users: []ChannelMember{{User: "x"}}})
	w.must(sec.Stream(), CmdChannelInvite, "ann", ChannelUsers{Users: []ChannelMember{{User: "bob"}, {User: "bob"}}})
	if n := len(w.log[sec.Stream()]); n != 3 {
		t.Fatalf("invite twice in one call made %d events", n)
	}
	w.must(sec.Stream(), CmdPost, "bob", post("now I can"))
	w.fails(errs.InvalidArgument, sec.Stream(), CmdChannelRemove, "ann", ChannelUsers{User: "ann"})
	w.fails(errs.Forbidden, sec.Stream(), CmdChannelRemove, "bob", ChannelUsers{User: "ann"})
	w.must(sec.Stream(), CmdChannelRemove, "ann", ChannelUsers{User: "bob"})
	w.fails(errs.Forbidden, sec.Stream(), CmdPost, "bob", post("still?"))
	if _, err := w.view.Access("bob", sec); !errs.Is(err, errs.NotFound) {
		t.Fatalf("removed member's access: %v", err)
	}
	if _, err := w.view.Access("gus", sec); !errs.Is(err, errs.NotFound) {
		t.Fatalf("guest access to private: %v", err)
	}
	// Archived channels refuse posts until unarchived, by their creator or admins.
	w.fails(errs.Forbidden, gen.Stream(), CmdChannelArchive, "bob", As{})
	w.must(gen.Stream(), CmdChannelArchive, "bob", As{Role: RoleAdmin})
	w.fails(errs.Closed, gen.Stream(), CmdPost, "ann", post("x"))
	w.must(gen.Stream(), CmdChannelUnarchive, "ann", As{})
	w.must(gen.Stream(), CmdPost, "ann", post("x"))
	_ = ws
}

func TestMessagesEditsDeletesReactionsPinsThreads(t *testing.T) {
	w, _, gen, _ := setup(t)
	g := gen.Stream()
	r, evs, _ := w.do(g, CmdPost, "ann", post("root"))
	if r != MessageID("m1") {
		t.Fatalf("first message id %v", r)
	}
	var p MessagePosted
	_ = json.Unmarshal(evs[0].Data, &p)
	if p.Top != 1 {
		t.Fatalf("top %d", p.Top)
	}
	w.fails(errs.LimitExceeded, g, CmdPost, "ann", post(strings.Repeat("é", w.lim.MaxMessageChars+1)))
	w.fails(errs.InvalidArgument, g, CmdPost, "ann", post("   "))
	// Replies: one level; they follow the thread.
	_, evs, _ = w.do(g, CmdPost, "bob", PostMessage{MessagePosted: MessagePosted{Text: "reply", Thread: "m1"}})
	p = MessagePosted{}
	_ = json.Unmarshal(evs[0].Data, &p)
	if p.Top != 0 || p.ThreadAuthor != "ann" {
		t.Fatalf("reply %+v", p)
	}
	w.fails(errs.InvalidArgument, g, CmdPost, "ann", PostMessage{MessagePosted: MessagePosted{Text: "r2", Thread: "m2"}})
	w.fails(errs.NotFound, g, CmdPost, "ann", PostMessage{MessagePosted: MessagePosted{Text: "r2", Thread: "m9"}})
	notes := w.takeNotes()
	if len(notes) != 1 || notes[0].User != "ann" || notes[0].Event != PushThreadReply {
		t.Fatalf("thread notes %+v", notes)
	}
	ch := w.streams[g].(*Channel)
	if got := ch.Followers("m1"); !reflect.DeepEqual(got, []core.UserID{"ann", "bob"}) {
		t.Fatalf("followers %v", got)
	}
	w.must(g, CmdUnfollow, "ann", MessageRef{ID: "m1"})
	w.must(g, CmdPost, "bob", PostMessage{MessagePosted: MessagePosted{Text: "again", Thread: "m1"}})
	if n := w.takeNotes(); len(n) != 0 {
		t.Fatalf("unfollowed author notified: %+v", n)
	}
	// Edits: author only. Deletes: author or admin.
	w.fails(errs.Forbidden, g, CmdEdit, "bob", EditMessage{MessageEdited: MessageEdited{ID: "m1", Text: "x"}})
	w.must(g, CmdEdit, "ann", EditMessage{MessageEdited: MessageEdited{ID: "m1", Text: "root, edited"}})
	// Reactions are idempotent.
	for i := 0; i < 3; i++ {
		w.must(g, CmdReact, "bob", MessageRef{ID: "m1", Emoji: ":thumbsup:"})
	}
	w.must(g, CmdUnreact, "bob", MessageRef{ID: "m1", Emoji: "thumbsup"})
	w.must(g, CmdUnreact, "bob", MessageRef{ID: "m1", Emoji: "thumbsup"})
	w.fails(errs.InvalidArgument, g, CmdReact, "bob", MessageRef{ID: "m1", Emoji: "a b"})
	// Pins are idempotent too.
	w.must(g, CmdPin, "bob", MessageRef{ID: "m1"})
	w.must(g, CmdPin, "ann", MessageRef{ID: "m1"})
	types := map[string]int{}
	for _, ev := range w.log[g] {
		types[ev.Type]++
	}
	if types[EvReactionAdded] != 1 || types[EvReactionRemoved] != 1 || types[EvMessagePinned] != 1 {
		t.Fatalf("event counts %v", types)
	}
	w.fails(errs.Forbidden, g, CmdDelete, "bob", MessageRef{ID: "m1"})
	_, evs, _ = w.do(g, CmdDelete, "bob", MessageRef{As: As{Role: RoleAdmin}, ID: "m1"})
	var d MessageDeleted
	_ = json.Unmarshal(evs[0].Data, &d)
	if d.Top != 1 || d.Seq == 0 {
		t.Fatalf("deleted %+v", d)
	}
	w.fails(errs.NotFound, g, CmdEdit, "ann", EditMessage{MessageEdited: MessageEdited{ID: "m1", Text: "x"}})
	w.fails(errs.NotFound, g, CmdPost, "bob", PostMessage{MessagePosted: MessagePosted{Text: "r", Thread: "m1"}})
	if st := ch.State().(channelState); len(st.Pinned) != 0 {
		t.Fatalf("deleted message still pinned: %v", st.Pinned)
	}
}

func TestDMs(t *testing.T) {
	w, ws, _, _ := setup(t)
	id := DMChannelID(ws, []core.UserID{"bob", "ann"})
	if id != DMChannelID(ws, []core.UserID{"ann", "bob", "ann"}) {
		t.Fatal("DM ids depend on order")
	}
	open := OpenChannel{ChannelOpened: ChannelOpened{Workspace: ws, Kind: DM}, Members: []ChannelMember{{User: "ann"}, {User: "bob"}}}
	w.must(id.Stream(), CmdChannelOpen, "ann", open)
	if evs := w.must(id.Stream(), CmdChannelOpen, "bob", open); len(evs) != 0 {
		t.Fatal("opening a DM again wrote events")
	}
	w.fails(errs.InvalidArgument, id.Stream(), CmdChannelInvite, "ann", ChannelUsers{Users: []ChannelMember{{User: "gus"}}})
	w.fails(errs.InvalidArgument, id.Stream(), CmdChannelLeave, "ann", As{})
	big := OpenChannel{ChannelOpened: ChannelOpened{Workspace: ws, Kind: Group}}
	for i := 0; i < w.lim.MaxGroupDM+1; i++ {
		big.Members = append(big.Members, ChannelMember{User: core.UserID(string(rune('a' + i)))})
	}
	w.fails(errs.InvalidArgument, "channel:d_big", CmdChannelOpen, "a", big)
}

func TestInboxMarkers(t *testing.T) {
	w := newWorld(t)
	s := InboxStream("ann")
	w.must(s, CmdMarkRead, "ann", MarkRead{Channel: "c1", Marker: Marker{Seq: 10, Top: 4}})
	if evs := w.must(s, CmdMarkRead, "ann", MarkRead{Channel: "c1", Marker: Marker{Seq: 8, Top: 3}}); len(evs) != 0 {
		t.Fatal("mark read went backwards")
	}
	if evs := w.must(s, CmdMarkUnread, "ann", MarkRead{Channel: "c1", Marker: Marker{Seq: 8, Top: 3}}); len(evs) != 1 {
		t.Fatal("mark unread did not move back")
	}
	w.fails(errs.Forbidden, s, CmdMarkRead, "bob", MarkRead{Channel: "c1"})
}

// TestReplayRebuildsTheSameState replays every stream's log into new
// behaviours and compares their state with the live ones.
func TestReplayRebuildsTheSameState(t *testing.T) {
	w, ws, gen, sec := setup(t)
	w.must(gen.Stream(), CmdPost, "ann", post("hello @bob"))
	w.must(gen.Stream(), CmdPost, "bob", PostMessage{MessagePosted: MessagePosted{Text: "hi", Thread: "m1"}})
	w.must(gen.Stream(), CmdReact, "bob", MessageRef{ID: "m1", Emoji: "wave"})
	w.must(sec.Stream(), CmdPost, "ann", post("secret"))
	w.must(ws.Stream(), CmdWorkspaceRename, "ann", CreateWorkspace{Name: "Acme 2"})
	for s, evs := range w.log {
		fresh := newWorld(t).behavior(s)
		for i := range evs {
			fresh.Apply(&evs[i])
		}
		a, _ := json.Marshal(w.streams[s].State())
		b, _ := json.Marshal(fresh.State())
		if string(a) != string(b) {
			t.Fatalf("%s: replayed state differs\nlive   %s\nreplay %s", s, a, b)
		}
	}
}
