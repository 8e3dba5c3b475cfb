package roomstest

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/parleyhq/parley/internal/core"
	"github.com/parleyhq/parley/internal/errs"
	"github.com/parleyhq/parley/internal/rooms"
)

// Stores are the rooms stores of one database.
type Stores struct {
	Listings rooms.Listings
	Archives rooms.Archives
	Blocks   rooms.Blocks
	Follows  rooms.Follows
	Homes    interface {
		rooms.Homes
		rooms.HomeReader
	}
}

// RunStores runs the contract suites of the rooms stores against the
// implementation open returns; open must return stores on a new, empty
// database for each call.
func RunStores(t *testing.T, open func(t *testing.T) Stores) {
	t.Run("Listings", func(t *testing.T) { testListings(t, open(t)) })
	t.Run("ListingPages", func(t *testing.T) { testListingPages(t, open(t)) })
	t.Run("Archives", func(t *testing.T) { testArchives(t, open(t)) })
	t.Run("Blocks", func(t *testing.T) { testBlocks(t, open(t)) })
	t.Run("Follows", func(t *testing.T) { testFollows(t, open(t)) })
	t.Run("Homes", func(t *testing.T) { testHomes(t, open(t)) })
}

func bg() context.Context { return context.Background() }

// Listing returns a listing row for tests.
func Listing(id string, host core.UserID, status rooms.Status, at time.Time) rooms.Listing {
	l := rooms.Listing{
		Room: rooms.RoomID(id), Host: host, Title: "Room " + id, Topics: []string{"go"}, Visibility: rooms.Public,
		Status: status, CreatedAt: at, ExpiresAt: at.Add(72 * time.Hour), Seq: 1, UpdatedAt: at,
	}
	switch status {
	case rooms.Live:
		l.StartedAt = &at
	case rooms.Scheduled:
		l.ScheduledAt = &at
	case rooms.Ended:
		l.StartedAt = &at
		end := at.Add(time.Hour)
		l.EndedAt = &end
	}
	return l
}

func put(t *testing.T, s rooms.Listings, l rooms.Listing) {
	t.Helper()
	if err := s.PutListing(bg(), l); err != nil {
		t.Fatalf("PutListing(%s): %v", l.Room, err)
	}
}

func testListings(t *testing.T, s Stores) {
	l := Listing("r_1", "u_host", rooms.Live, Epoch)
	l.Description, l.Workspace, l.Participants, l.Speakers, l.Interested = "about things", "w_1", 12, 3, 4
	put(t, s.Listings, l)
	got, err := s.Listings.Listing(bg(), "r_1")
	if err != nil {
		t.Fatal(err)
	}
	if JSON(got) != JSON(l) {
		t.Fatalf("round trip:\n got %s\nwant %s", JSON(got), JSON(l))
	}
	// An older projection never overwrites a newer one.
	old := l
	old.Seq, old.Title = 0, "stale"
	put(t, s.Listings, old)
	newer := l
	newer.Seq, newer.Participants = 9, 40
	put(t, s.Listings, newer)
	put(t, s.Listings, old)
	if got, _ := s.Listings.Listing(bg(), "r_1"); got.Seq != 9 || got.Participants != 40 || got.Title != l.Title {
		t.Fatalf("after stale puts: %+v", got)
	}
	// An ended room keeps its summary.
	end := newer
	end.Seq, end.Status = 10, rooms.Ended
	et := Epoch.Add(time.Hour)
	end.EndedAt, end.EndReason = &et, rooms.EndedByHost
	end.Summary = &rooms.Summary{Room: "r_1", Comments: 5, Reactions: map[string]int64{"🔥": 3}, Speakers: []core.UserID{"u_host"}, Polls: []rooms.PollResult{}}
	put(t, s.Listings, end)
	if got, _ := s.Listings.Listing(bg(), "r_1"); got.Summary == nil || got.Summary.Comments != 5 || got.Summary.Reactions["🔥"] != 3 || got.Status != rooms.Ended {
		t.Fatalf("ended: %+v", got)
	}
	if _, err := s.Listings.Listing(bg(), "r_none"); !errs.Is(err, errs.NotFound) {
		t.Fatalf("missing room: %v", err)
	}
	// Overdue: not ended and past their expiry.
	a := Listing("r_a", "u_h", rooms.Live, Epoch)
	a.ExpiresAt = Epoch.Add(time.Hour)
	b := Listing("r_b", "u_h", rooms.Scheduled, Epoch)
	b.ExpiresAt = Epoch.Add(3 * time.Hour)
	put(t, s.Listings, a)
	put(t, s.Listings, b)
	ids, err := s.Listings.Overdue(bg(), Epoch.Add(2*time.Hour), 10)
	if err != nil || JSON(ids) != `["r_a"]` {
		t.Fatalf("overdue: %v %v", ids, err)
	}
}

func ids(ls []rooms.Listing) []string {
	out := []string{}
	for _, l := range ls {
		out = append(out, string(l.Room))
	}
	return out
}

func all(t *testing.T, s rooms.Listings, q rooms.ListQuery) []string {
	t.Helper()
	var out []string
	for pages := 0; ; pages++ {
		ls, next, err := s.ListRooms(bg(), q)
		if err != nil {
			t.Fatal(err)
		}
		if q.Limit > 0 && len(ls) > q.Limit {
			t.Fatalf("page of %d, limit %d", len(ls), q.Limit)
		}
		out = append(out, ids(ls)...)
		if next == "" {
			return out
		}
		if pages > 100 {
			t.Fatal("pages do not end")
		}
		q.Cursor = next
	}
}

func testListingPages(t *testing.T, s Stores) {
	var live, upcoming []string
	for i := 0; i < 25; i++ {
		id := fmt.Sprintf("r_live%02d", i)
		put(t, s.Listings, Listing(id, "u_host", rooms.Live, Epoch.Add(time.Duration(i)*time.Minute)))
		live = append([]string{id}, live...) // newest first
		id = fmt.Sprintf("r_next%02d", i)
		put(t, s.Listings, Listing(id, "u_other", rooms.Scheduled, Epoch.Add(time.Duration(100-i)*time.Minute)))
		upcoming = append([]string{id}, upcoming...) // soonest first
	}
	put(t, s.Listings, Listing("r_over", "u_host", rooms.Ended, Epoch))
	ws := Listing("r_ws", "u_host", rooms.Live, Epoch.Add(-time.Hour))
	ws.Visibility, ws.Workspace = rooms.WorkspaceOnly, "w_1"
	put(t, s.Listings, ws)
	inv := Listing("r_inv", "u_host", rooms.Live, Epoch.Add(-time.Hour))
	inv.Visibility = rooms.InviteOnly
	put(t, s.Listings, inv)
	pub := Listing("r_pubws", "u_host", rooms.Live, Epoch.Add(-2*time.Hour))
	pub.Workspace = "w_1"
	put(t, s.Listings, pub)

	got := all(t, s.Listings, rooms.ListQuery{Status: rooms.Live, Limit: 10})
	if want := append(slices.Clone(live), "r_pubws"); JSON(got) != JSON(want) {
		t.Fatalf("live:\n got %v\nwant %v", got, want)
	}
	if got := all(t, s.Listings, rooms.ListQuery{Status: rooms.Scheduled, Limit: 7}); JSON(got) != JSON(upcoming) {
		t.Fatalf("upcoming:\n got %v\nwant %v", got, upcoming)
	}
	if got := all(t, s.Listings, rooms.ListQuery{Status: rooms.Live, Workspace: "w_1"}); JSON(got) != `["r_ws","r_pubws"]` {
		t.Fatalf("workspace: %v", got)
	}
	// A viewer the host blocked does not see the host's rooms.
	if err := s.Blocks.Block(bg(), "u_host", "u_troll", "u_host", Epoch); err != nil {
		t.Fatal(err)
	}
	if got := all(t, s.Listings, rooms.ListQuery{Status: rooms.Live, Viewer: "u_troll"}); len(got) != 0 {
		t.Fatalf("blocked viewer sees %v", got)
	}
	if got := all(t, s.Listings, rooms.ListQuery{Status: rooms.Scheduled, Viewer: "u_troll", Limit: 100}); len(got) != 25 {
		t.Fatalf("blocked viewer sees %d rooms of other hosts", len(got))
	}
	if _, _, err := s.Listings.ListRooms(bg(), rooms.ListQuery{Status: rooms.Live, Cursor: "garbage"}); !errs.Is(err, errs.InvalidArgument) {
		t.Fatalf("bad cursor: %v", err)
	}
}

func testArchives(t *testing.T, s Stores) {
	put(t, s.Listings, Listing("r_1", "u_h", rooms.Ended, Epoch))
	put(t, s.Listings, Listing("r_2", "u_h", rooms.Ended, Epoch))
	put(t, s.Listings, Listing("r_3", "u_h", rooms.Live, Epoch))
	got, err := s.Archives.Unarchived(bg(), Epoch.Add(2*time.Hour), 10)
	if err != nil || JSON(got) != `["r_1","r_2"]` {
		t.Fatalf("unarchived: %v %v", got, err)
	}
	if got, _ := s.Archives.Unarchived(bg(), Epoch, 10); len(got) != 0 {
		t.Fatalf("unarchived before the end: %v", got)
	}
	if err := s.Archives.MarkArchived(bg(), "r_1", Epoch.Add(3*time.Hour)); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.Archives.Unarchived(bg(), Epoch.Add(2*time.Hour), 10); JSON(got) != `["r_2"]` {
		t.Fatalf("after marking: %v", got)
	}
	// A later projection of the room keeps the mark.
	l := Listing("r_1", "u_h", rooms.Ended, Epoch)
	l.Seq = 5
	put(t, s.Listings, l)
	if got, _ := s.Archives.Unarchived(bg(), Epoch.Add(2*time.Hour), 10); JSON(got) != `["r_2"]` {
		t.Fatalf("after a new projection: %v", got)
	}
}

func testBlocks(t *testing.T, s Stores) {
	b := s.Blocks
	for i := 0; i < 2; i++ {
		if err := b.Block(bg(), "u_h", "u_x", "u_mod", Epoch); err != nil {
			t.Fatal(err)
		}
	}
	if ok, err := b.Blocked(bg(), "u_h", "u_x"); !ok || err != nil {
		t.Fatalf("blocked: %v %v", ok, err)
	}
	if ok, _ := b.Blocked(bg(), "u_other", "u_x"); ok {
		t.Fatal("a block of one host applies to another")
	}
	for i := 0; i < 5; i++ {
		b.Block(bg(), "u_h", core.UserID(fmt.Sprintf("u_y%d", i)), "u_h", Epoch)
	}
	var got []core.UserID
	after := ""
	for {
		page, next, err := b.BlockList(bg(), "u_h", after, 2)
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, page...)
		if next == "" {
			break
		}
		after = next
	}
	if JSON(got) != `["u_x","u_y0","u_y1","u_y2","u_y3","u_y4"]` {
		t.Fatalf("block list %v", got)
	}
	for i := 0; i < 2; i++ {
		if err := b.Unblock(bg(), "u_h", "u_x"); err != nil {
			t.Fatal(err)
		}
	}
	if ok, _ := b.Blocked(bg(), "u_h", "u_x"); ok {
		t.Fatal("still blocked")
	}
}

func testFollows(t *testing.T, s Stores) {
	f := s.Follows
	for _, u := range []core.UserID{"u_c", "u_a", "u_b", "u_a"} {
		if err := f.Follow(bg(), "u_me", u, Epoch); err != nil {
			t.Fatal(err)
		}
	}
	page, next, err := f.Following(bg(), "u_me", "", 2)
	if err != nil || JSON(page) != `["u_a","u_b"]` || next == "" {
		t.Fatalf("page 1: %v %q %v", page, next, err)
	}
	page, next, _ = f.Following(bg(), "u_me", next, 2)
	if JSON(page) != `["u_c"]` || next != "" {
		t.Fatalf("page 2: %v %q", page, next)
	}
	f.Unfollow(bg(), "u_me", "u_b")
	f.Unfollow(bg(), "u_me", "u_b")
	if page, _, _ := f.Following(bg(), "u_me", "", 10); JSON(page) != `["u_a","u_c"]` {
		t.Fatalf("after unfollow: %v", page)
	}
}

func testHomes(t *testing.T, s Stores) {
	h := s.Homes
	for _, u := range []core.UserID{"u_f1", "u_f2", "u_f3"} {
		s.Follows.Follow(bg(), u, "u_star", Epoch)
	}
	s.Follows.Follow(bg(), "u_f1", "u_other", Epoch)
	live := Listing("r_live", "u_star", rooms.Live, Epoch)
	put(t, s.Listings, live)
	n, err := h.FanOut(bg(), "u_star", rooms.HomeItem{Room: "r_live", Via: "u_star", Reason: rooms.ReasonHosting, At: Epoch})
	if err != nil || n != 3 {
		t.Fatalf("fan out: %d %v", n, err)
	}
	// Fanning out again replaces the entry (now: speaking) instead of adding one.
	if _, err := h.FanOut(bg(), "u_star", rooms.HomeItem{Room: "r_live", Via: "u_star", Reason: rooms.ReasonSpeaking, At: Epoch}); err != nil {
		t.Fatal(err)
	}
	es, built, err := h.HomeOf(bg(), "u_f2", 10)
	if err != nil || len(es) != 1 || es[0].Reason != rooms.ReasonSpeaking || es[0].Listing.Title != live.Title || !built.IsZero() {
		t.Fatalf("home of f2: %+v %v %v", es, built, err)
	}
	if err := h.AddHome(bg(), []core.UserID{"u_guest", "u_f2"}, rooms.HomeItem{Room: "r_live", Via: "u_star", Reason: rooms.ReasonInvited, At: Epoch}); err != nil {
		t.Fatal(err)
	}
	if es, _, _ := h.HomeOf(bg(), "u_guest", 10); len(es) != 1 || es[0].Reason != rooms.ReasonInvited {
		t.Fatalf("guest home: %+v", es)
	}
	// A rebuild computes the home from follows and the listings.
	up := Listing("r_up", "u_other", rooms.Scheduled, Epoch.Add(time.Hour))
	put(t, s.Listings, up)
	put(t, s.Listings, Listing("r_gone", "u_other", rooms.Ended, Epoch))
	priv := Listing("r_priv", "u_other", rooms.Live, Epoch)
	priv.Visibility = rooms.InviteOnly
	put(t, s.Listings, priv)
	if err := h.RebuildHome(bg(), "u_f1", Epoch.Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	es, built, _ = h.HomeOf(bg(), "u_f1", 10)
	var got []string
	for _, e := range es {
		got = append(got, string(e.Room)+":"+e.Reason)
	}
	slices.Sort(got)
	if JSON(got) != `["r_live:hosting","r_up:hosting"]` || !built.Equal(Epoch.Add(time.Minute)) {
		t.Fatalf("rebuilt home: %v built %v", got, built)
	}
	// Rooms of followed hosts that changed since a time.
	later := Listing("r_later", "u_star", rooms.Live, Epoch.Add(2*time.Hour))
	put(t, s.Listings, later)
	ls, err := h.FollowedRooms(bg(), "u_f3", Epoch.Add(time.Hour), 10)
	if err != nil || JSON(ids(ls)) != `["r_later"]` {
		t.Fatalf("followed rooms: %v %v", ids(ls), err)
	}
	// An ended room leaves every home.
	if err := h.RemoveRoom(bg(), "r_live"); err != nil {
		t.Fatal(err)
	}
	for _, u := range []core.UserID{"u_f1", "u_f2", "u_guest"} {
		es, _, _ := h.HomeOf(bg(), u, 10)
		for _, e := range es {
			if e.Room == "r_live" {
				t.Fatalf("%s still has r_live", u)
			}
		}
	}
}
