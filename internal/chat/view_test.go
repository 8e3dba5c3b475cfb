package chat

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/parleyhq/parley/internal/core"
	"github.com/parleyhq/parley/internal/errs"
	"github.com/parleyhq/parley/internal/eventlog"
)

func counts(t *testing.T, v *View, u core.UserID, ch ChannelID) Counts {
	t.Helper()
	c, ok := v.Counts(u, ch)
	if !ok {
		t.Fatalf("%s is not a member of %s", u, ch)
	}
	return c
}

func TestViewUnreadAndMentionCounts(t *testing.T) {
	w, _, gen, _ := setup(t)
	g := gen.Stream()
	for i := 0; i < 5; i++ {
		w.must(g, CmdPost, "ann", post(fmt.Sprintf("m%d", i)))
	}
	if c := counts(t, w.view, "bob", gen); c.Unread != 5 || c.Mentions != 0 {
		t.Fatalf("bob after 5 posts: %+v", c)
	}
	// A reply neither counts as unread in the channel nor moves counts,
	// but a mention in it does count.
	w.must(g, CmdPost, "ann", PostMessage{MessagePosted: MessagePosted{Text: "psst @bob", Thread: "m1", Mentions: []core.UserID{"bob"}}})
	if c := counts(t, w.view, "bob", gen); c.Unread != 5 || c.Mentions != 1 {
		t.Fatalf("bob after a mention in a thread: %+v", c)
	}
	notes := w.takeNotes()
	if len(notes) != 1 || notes[0].Event != PushMention || notes[0].User != "bob" {
		t.Fatalf("notes %+v", notes)
	}
	// @channel mentions every member but the author; @here those online.
	w.must(g, CmdPost, "ann", PostMessage{MessagePosted: MessagePosted{Text: "@channel hi", Channel: true}})
	w.must(g, CmdPost, "ann", PostMessage{MessagePosted: MessagePosted{Text: "@here hi", HereAll: true, Here: []core.UserID{"gus", "zed"}}})
	if c := counts(t, w.view, "gus", gen); c.Unread != 7 || c.Mentions != 2 {
		t.Fatalf("gus: %+v", c)
	}
	if c := counts(t, w.view, "ann", gen); c.Mentions != 0 {
		t.Fatalf("author mentioned by own message: %+v", c)
	}
	// Mark read up to the third top-level message, then everything.
	ev := w.log[g]
	var third eventlog.Event
	n := 0
	for _, e := range ev {
		if e.Type == EvMessagePosted && !strings.Contains(string(e.Data), `"thread"`) {
			if n++; n == 3 {
				third = e
			}
		}
	}
	w.must(InboxStream("bob"), CmdMarkRead, "bob", MarkRead{Channel: gen, Marker: Marker{Seq: third.Seq, Top: 3}})
	if c := counts(t, w.view, "bob", gen); c.Unread != 4 || c.Mentions != 2 || c.ReadSeq != third.Seq {
		t.Fatalf("bob after reading 3: %+v", c)
	}
	last := w.log[g][len(w.log[g])-1].Seq
	w.must(InboxStream("bob"), CmdMarkRead, "bob", MarkRead{Channel: gen, Marker: Marker{Seq: last, Top: 7}})
	if c := counts(t, w.view, "bob", gen); c.Unread != 0 || c.Mentions != 0 {
		t.Fatalf("bob after reading all: %+v", c)
	}
	w.must(InboxStream("bob"), CmdMarkUnread, "bob", MarkRead{Channel: gen, Marker: Marker{Seq: third.Seq, Top: 3}})
	if c := counts(t, w.view, "bob", gen); c.Unread != 4 || c.Mentions != 2 {
		t.Fatalf("bob after marking unread: %+v", c)
	}
	// Deleting an unread message takes it (and its mention) out of the counts.
	w.must(g, CmdDelete, "ann", MessageRef{ID: "m7"}) // the @channel message
	if c := counts(t, w.view, "bob", gen); c.Unread != 3 || c.Mentions != 1 {
		t.Fatalf("bob after a delete: %+v", c)
	}
	// TakeCounts reports changes for connected users only, once.
	changes := w.view.TakeCounts(func(u core.UserID) bool { return u == "bob" })
	if len(changes) != 1 || changes[0].User != "bob" || changes[0].Unread != 3 {
		t.Fatalf("count changes %+v", changes)
	}
	if again := w.view.TakeCounts(func(core.UserID) bool { return true }); len(again) != 0 {
		t.Fatalf("count changes reported twice: %+v", again)
	}
	// A new member's unread starts where they joined.
	w.must(gen.Stream(), CmdChannelInvite, "ann", ChannelUsers{Users: []ChannelMember{{User: "cat"}}})
	if c := counts(t, w.view, "cat", gen); c.Unread != 0 {
		t.Fatalf("new member: %+v", c)
	}
}

func TestViewAccessAndGuests(t *testing.T) {
	w, ws, gen, sec := setup(t)
	if _, err := w.view.Access("gus", gen); err != nil {
		t.Fatalf("guest in general: %v", err)
	}
	if _, err := w.view.Access("bob", sec); !errs.Is(err, errs.NotFound) {
		t.Fatalf("bob in secret: %v", err)
	}
	w.must(ws.Stream(), CmdChannelReserve, "ann", ReserveChannel{Channel: "c_pub", Name: "pub"})
	w.must("channel:c_pub", CmdChannelOpen, "ann", OpenChannel{ChannelOpened: ChannelOpened{Workspace: ws, Kind: Public, Name: "pub"}, Members: []ChannelMember{{User: "ann"}}})
	if a, err := w.view.Access("bob", "c_pub"); err != nil || a.Member {
		t.Fatalf("bob reads a public channel he is not in: %+v %v", a, err)
	}
	if _, err := w.view.Access("gus", "c_pub"); !errs.Is(err, errs.Forbidden) {
		t.Fatalf("guest reads a public channel: %v", err)
	}
	if _, err := w.view.Access("stranger", "c_pub"); !errs.Is(err, errs.Forbidden) {
		t.Fatalf("stranger: %v", err)
	}
	scope, _ := w.view.SearchScope("gus", ws)
	if len(scope) != 1 || scope[0] != gen {
		t.Fatalf("guest search scope %v", scope)
	}
	scope, _ = w.view.SearchScope("bob", ws)
	if len(scope) != 2 {
		t.Fatalf("bob's search scope %v", scope)
	}
	if !w.view.ShareWorkspace("bob", "gus") || w.view.ShareWorkspace("bob", "stranger") {
		t.Fatal("ShareWorkspace")
	}
	if _, err := w.view.Autocomplete("gus", ws, "", "a", 5); !errs.Is(err, errs.Forbidden) {
		t.Fatalf("guest autocomplete without a channel: %v", err)
	}
}

// bigWorkspace adds n members, all in general.
func bigWorkspace(t *testing.T, n int) (*world, WorkspaceID, ChannelID) {
	w, ws, gen, _ := setup(t)
	var ms []ChannelMember
	for i := 0; i < n; i++ {
		u := core.UserID(fmt.Sprintf("u%05d", i))
		w.must(ws.Stream(), CmdMemberAdd, "ann", AddMember{User: u, Profile: Profile{Handle: fmt.Sprintf("user%05d", i), DisplayName: fmt.Sprintf("User Number %d", i)}})
		ms = append(ms, ChannelMember{User: u})
		if len(ms) == 1000 || i == n-1 {
			w.must(gen.Stream(), CmdChannelInvite, "ann", ChannelUsers{Users: ms})
			ms = nil
		}
	}
	return w, ws, gen
}

func TestBootDoesNotGrowWithTheWorkspace(t *testing.T) {
	size := func(n int) int {
		w, ws, gen := bigWorkspace(t, n)
		w.must(gen.Stream(), CmdPost, "ann", post("hello"))
		dm := DMChannelID(ws, []core.UserID{"ann", "bob"})
		w.must(dm.Stream(), CmdChannelOpen, "ann", OpenChannel{ChannelOpened: ChannelOpened{Workspace: ws, Kind: DM}, Members: []ChannelMember{{User: "ann"}, {User: "bob"}}})
		b, partners, err := w.view.BootJSON("bob", "", 50)
		if err != nil {
			t.Fatal(err)
		}
		if len(partners) != 1 || partners[0] != "ann" {
			t.Fatalf("partners %v", partners)
		}
		var boot Boot
		if err := json.Unmarshal(b, &boot); err != nil {
			t.Fatal(err)
		}
		if len(boot.Channels) != 1 || boot.Channels[0].Unread != 1 || boot.Channels[0].Members != n+3 || len(boot.DMs) != 1 {
			t.Fatalf("boot %s", b)
		}
		return len(b)
	}
	small, big := size(10), size(2000)
	if big-small > 8 || big > 2048 {
		t.Fatalf("boot is %d bytes for 13 members and %d for 2003", small, big)
	}
}

func TestBootCacheFollowsEvents(t *testing.T) {
	w, _, gen, _ := setup(t)
	a, _, _ := w.view.BootJSON("bob", "", 50)
	b, _, _ := w.view.BootJSON("bob", "", 50)
	if &a[0] != &b[0] {
		t.Fatal("an unchanged boot was rebuilt")
	}
	w.must(gen.Stream(), CmdPost, "ann", post("new"))
	c, _, _ := w.view.BootJSON("bob", "", 50)
	if string(c) == string(a) || !strings.Contains(string(c), `"unread":1`) {
		t.Fatalf("boot after a post: %s", c)
	}
}

func TestSyncReturnsCountsNotMessages(t *testing.T) {
	w, ws, gen, sec := setup(t)
	b, _ := w.view.Boot("bob", "", 50)
	cur, err := ParseCursor(b.Cursor)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 40; i++ {
		w.must(gen.Stream(), CmdPost, "ann", post("x"))
	}
	w.must(gen.Stream(), CmdPost, "ann", PostMessage{MessagePosted: MessagePosted{Text: "@bob", Mentions: []core.UserID{"bob"}}})
	w.must(sec.Stream(), CmdChannelInvite, "ann", ChannelUsers{Users: []ChannelMember{{User: "bob"}}})
	w.must(ws.Stream(), CmdWorkspaceRename, "ann", CreateWorkspace{Name: "New"})
	s := w.view.Sync("bob", cur, 10)
	if len(s.Channels) != 1 || s.Channels[0].NewMessages != 41 || s.Channels[0].NewMentions != 1 || s.Channels[0].Unread != 41 {
		t.Fatalf("sync channels %+v", s.Channels)
	}
	if len(s.Joined) != 1 || s.Joined[0].ID != sec || len(s.Mentions) != 1 || len(s.WorkspacesChanged) != 1 {
		t.Fatalf("sync %+v", s)
	}
	next, _ := ParseCursor(s.Cursor)
	w.must(sec.Stream(), CmdChannelRemove, "ann", ChannelUsers{User: "bob"})
	s = w.view.Sync("bob", next, 10)
	if len(s.Channels) != 0 || len(s.Left) != 1 || s.Left[0] != sec {
		t.Fatalf("second sync %+v", s)
	}
	if _, err := ParseCursor("bm9wZQ"); err == nil {
		t.Fatal("a garbage cursor parsed")
	}
}

func TestAutocomplete(t *testing.T) {
	w, ws, gen := bigWorkspace(t, 300)
	got, err := w.view.Autocomplete("bob", ws, gen, "user0001", 20)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 10 || got[0].Profile.Handle != "user00010" || !got[0].InChannel {
		t.Fatalf("prefix user0001: %+v", got)
	}
	got, _ = w.view.Autocomplete("bob", ws, "", "@User00299", 5)
	if len(got) != 1 || got[0].User != "u00299" {
		t.Fatalf("exact: %+v", got)
	}
	// Display name words are keys too; updated profiles move in the index.
	got, _ = w.view.Autocomplete("bob", ws, "", "number 42", 5)
	if len(got) != 0 {
		t.Fatalf("a two-word prefix matched %+v", got)
	}
	got, _ = w.view.Autocomplete("bob", ws, "", "numb", 3)
	if len(got) != 3 {
		t.Fatalf("name word: %+v", got)
	}
	w.must(ws.Stream(), CmdMemberProfile, "u00007", MemberUpdated{User: "u00007", Profile: Profile{Handle: "zelda", DisplayName: "Zelda"}})
	if got, _ = w.view.Autocomplete("bob", ws, "", "zel", 3); len(got) != 1 || got[0].User != "u00007" {
		t.Fatalf("renamed: %+v", got)
	}
	if got, _ = w.view.Autocomplete("bob", ws, "", "user00007", 3); len(got) != 0 {
		t.Fatalf("old handle still found: %+v", got)
	}
	w.must(ws.Stream(), CmdMemberRemove, "ann", UserRef{User: "u00008"})
	if got, _ = w.view.Autocomplete("bob", ws, "", "user00008", 3); len(got) != 0 {
		t.Fatalf("removed member found: %+v", got)
	}
	// A guest only finds people in the channel given.
	got, _ = w.view.Autocomplete("gus", ws, gen, "ann", 3)
	if len(got) != 1 {
		t.Fatalf("guest: %+v", got)
	}
}

func TestPrefixIndexMerges(t *testing.T) {
	x := newPrefixIndex()
	for i := 0; i < 5000; i++ {
		x.set(core.UserID(fmt.Sprint(i)), []string{fmt.Sprintf("k%05d", i)})
	}
	for i := 0; i < 5000; i += 2 {
		x.remove(core.UserID(fmt.Sprint(i)))
	}
	for i := 0; i < 100; i += 4 {
		x.set(core.UserID(fmt.Sprint(i)), []string{fmt.Sprintf("k%05d", i)})
	}
	if n := x.size(); n != 2500+25 {
		t.Fatalf("size %d", n)
	}
	got := x.search("k0000", 100, nil)
	want := []core.UserID{"0", "1", "3", "4", "5", "7", "8", "9"}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("got %v want %v", got, want)
	}
}

func TestViewReportsGaps(t *testing.T) {
	v := NewView(0)
	ev := eventlog.Event{Stream: "channel:c1", Seq: 2, Type: EvChannelArchived}
	if _, gap := v.Apply(&ev); !gap {
		t.Fatal("no gap reported")
	}
	ev.Seq = 1
	if _, gap := v.Apply(&ev); gap || v.Seq("channel:c1") != 1 {
		t.Fatal("first event not applied")
	}
	if _, gap := v.Apply(&ev); gap || v.Seq("channel:c1") != 1 {
		t.Fatal("duplicate not dropped")
	}
}

func TestParseMentions(t *testing.T) {
	m := ParseMentions("hi @Ann, @bob.smith. and @here; mail x@example.com @channel @a @ann")
	if fmt.Sprint(m.Handles) != "[ann bob.smith]" || !m.Here || !m.Channel {
		t.Fatalf("%+v", m)
	}
}

func TestParseSearch(t *testing.T) {
	q, err := ParseSearch(`deploy "release notes" in:#ops from:@ann after:2030-01-01 before:2030-02-01T00:00:00Z it's`)
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(q.Terms) != "[deploy it s]" || fmt.Sprint(q.Phrases) != "[[release notes]]" || q.In != "ops" || q.From != "ann" ||
		q.After.Format("2006-01-02") != "2030-01-01" || q.Before.Month() != 2 {
		t.Fatalf("%+v", q)
	}
	for _, bad := range []string{"", "before:yesterday", strings.Repeat("a ", 40)} {
		if _, err := ParseSearch(bad); !errs.Is(err, errs.InvalidArgument) {
			t.Fatalf("%q: %v", bad, err)
		}
	}
}

func TestCursorRoundTrip(t *testing.T) {
	c := Cursor{Channels: map[ChannelID]Marker{"c1": {Seq: 5, Top: 2}, "d_x": {Seq: 1 << 40}}, Workspaces: map[WorkspaceID]uint64{"w1": 9}}
	got, err := ParseCursor(c.Encode())
	if err != nil || fmt.Sprint(got) != fmt.Sprint(c) {
		t.Fatalf("%v %v", got, err)
	}
}

func TestMessageIDs(t *testing.T) {
	for _, id := range []MessageID{"m0", "m01", "x1", "m", "m99999999999"} {
		if id.Number() != 0 {
			t.Fatalf("%s parsed", id)
		}
	}
	if MessageIDOf(42).Number() != 42 {
		t.Fatal("round trip")
	}
}
