package rooms_test

import (
	"os"
	"strings"
	"testing"
	"time"

	"github.com/parleyhq/parley/internal/rooms"
	"github.com/parleyhq/parley/internal/rooms/roomstest"
)

func entry(id string, status rooms.Status, at time.Time, reason string) rooms.HomeEntry {
	l := roomstest.Listing(id, "u_h", status, at)
	return rooms.HomeEntry{HomeItem: rooms.HomeItem{Room: l.Room, Reason: reason, At: at}, Listing: l}
}

func TestMergeHomeFixUps(t *testing.T) {
	t0 := roomstest.Epoch
	pre := []rooms.HomeEntry{
		entry("r_old", rooms.Live, t0, rooms.ReasonHosting),
		entry("r_gone", rooms.Ended, t0, rooms.ReasonHosting), // ended since the home was computed
		entry("r_soon", rooms.Scheduled, t0.Add(time.Hour), rooms.ReasonInvited),
		{HomeItem: rooms.HomeItem{Room: "r_missing"}}, // its row is gone
	}
	fresh := []rooms.HomeEntry{
		entry("r_new", rooms.Live, t0.Add(time.Minute), rooms.ReasonHosting), // started since
		entry("r_old", rooms.Live, t0, rooms.ReasonWorkspace),                // already there
		entry("r_sooner", rooms.Scheduled, t0.Add(30*time.Minute), rooms.ReasonWorkspace),
	}
	got := rooms.MergeHome(pre, fresh, 10)
	var ids []string
	for _, e := range got {
		ids = append(ids, string(e.Room)+":"+e.Reason)
	}
	if want := `["r_new:hosting","r_old:hosting","r_sooner:workspace","r_soon:invited"]`; roomstest.JSON(ids) != want {
		t.Fatalf("merged %v, want %s", ids, want)
	}
	if got := rooms.MergeHome(pre, fresh, 2); len(got) != 2 {
		t.Fatalf("limit: %d", len(got))
	}
}

func TestProjectListing(t *testing.T) {
	lim := rooms.DefaultLimits()
	r := newRoom(t, lim)
	r.join("u_host", "u_a", "u_b")
	r.d.Advance(time.Second)
	r.ok("u_host", rooms.CmdRole, rooms.Input{User: "u_a", Role: "speaker"})
	r.ok("u_a", rooms.CmdInterest, rooms.Input{})
	r.d.Advance(time.Second)
	var l rooms.Listing
	for i := range r.d.Log {
		rooms.Project(&l, &r.d.Log[i])
	}
	if l.Status != rooms.Live || l.Participants != 3 || l.Speakers != 2 || l.Interested != 1 || l.Seq != uint64(len(r.d.Log)) || l.Title != "Live now" {
		t.Fatalf("listing %+v", l)
	}
	r.ok("u_host", rooms.CmdEnd, rooms.Input{})
	for i := int(l.Seq); i < len(r.d.Log); i++ {
		rooms.Project(&l, &r.d.Log[i])
	}
	if l.Status != rooms.Ended || l.Summary == nil || l.Summary.UniqueListeners != 2 || l.Participants != 0 {
		t.Fatalf("ended listing %+v", l)
	}
}

// TestPermissionTableDocumented keeps docs/protocol.md's permission table
// equal to the code's.
func TestPermissionTableDocumented(t *testing.T) {
	doc, err := os.ReadFile("../../docs/protocol.md")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(doc), rooms.TableMarkdown()) {
		t.Fatalf("docs/protocol.md does not hold the permission table; it must read:\n%s", rooms.TableMarkdown())
	}
}
