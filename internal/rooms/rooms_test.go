package rooms_test

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/parleyhq/parley/internal/core"
	"github.com/parleyhq/parley/internal/errs"
	"github.com/parleyhq/parley/internal/rooms"
	"github.com/parleyhq/parley/internal/rooms/roomstest"
)

func ptr[T any](v T) *T { return &v }

// driverExec runs permission cells on a Driver.
type driverExec struct{ d *roomstest.Driver }

func (x driverExec) User(as string) core.UserID { return core.UserID("u_" + as) }

func (x driverExec) Call(as, cmd string, in rooms.Input) (json.RawMessage, errs.Code, error) {
	r, err := x.d.Do(x.User(as), cmd, in, rooms.Access{Conn: core.ConnID("c_" + as)})
	if err != nil {
		return nil, errs.CodeOf(err), err
	}
	b, _ := json.Marshal(r)
	return b, "", nil
}

func newDriverRoom(t *testing.T, scheduled bool) roomstest.Exec {
	d := roomstest.NewDriver(rooms.DefaultLimits())
	in := rooms.Input{Title: ptr("Room")}
	if scheduled {
		at := d.Now.Add(time.Hour)
		in.ScheduledAt = &at
	}
	if _, err := d.Do("u_host", rooms.CmdCreate, in, rooms.Access{}); err != nil {
		t.Fatal(err)
	}
	x := driverExec{d}
	for _, u := range []string{roomstest.Host, roomstest.Mod, roomstest.Speaker, roomstest.Listener, roomstest.Target, roomstest.Visitor} {
		d.Do(x.User(u), rooms.CmdAttach, rooms.Input{}, rooms.Access{Conn: core.ConnID("c_" + u)})
	}
	return x
}

// TestPermissionTable walks every row of the permission table for every
// role against the behaviour.
func TestPermissionTable(t *testing.T) {
	roomstest.WalkPermissions(t, newDriverRoom)
}

type room struct {
	t *testing.T
	d *roomstest.Driver
}

func newRoom(t *testing.T, lim rooms.Limits) *room {
	t.Helper()
	r := &room{t: t, d: roomstest.NewDriver(lim)}
	r.ok("u_host", rooms.CmdCreate, rooms.Input{Title: ptr("Live now")})
	return r
}

func (r *room) do(u core.UserID, cmd string, in rooms.Input) (any, error) {
	return r.d.Do(u, cmd, in, rooms.Access{Conn: core.ConnID("c_" + string(u))})
}

func (r *room) ok(u core.UserID, cmd string, in rooms.Input) any {
	r.t.Helper()
	res, err := r.do(u, cmd, in)
	if err != nil {
		r.t.Fatalf("%s %s: %v", u, cmd, err)
	}
	return res
}

func (r *room) fail(code errs.Code, u core.UserID, cmd string, in rooms.Input) {
	r.t.Helper()
	if _, err := r.do(u, cmd, in); errs.CodeOf(err) != code {
		r.t.Fatalf("%s %s: err %v, want %s", u, cmd, err, code)
	}
}

func (r *room) join(users ...core.UserID) {
	r.t.Helper()
	for _, u := range users {
		r.d.Do(u, rooms.CmdAttach, rooms.Input{}, rooms.Access{Conn: core.ConnID("c_" + string(u))})
		r.ok(u, rooms.CmdJoin, rooms.Input{})
	}
}

func (r *room) stage() []rooms.StageMember { return r.d.Snapshot("u_host").Stage }

func data[T any](t *testing.T, raw json.RawMessage) T {
	t.Helper()
	var v T
	if err := json.Unmarshal(raw, &v); err != nil {
		t.Fatal(err)
	}
	return v
}

func TestStageFlow(t *testing.T) {
	r := newRoom(t, rooms.DefaultLimits())
	r.join("u_host", "u_mod", "u_ann")
	r.ok("u_host", rooms.CmdRole, rooms.Input{User: "u_mod", Role: "moderator"})
	// Ann raises her hand; the moderator sees the queue and invites her.
	r.ok("u_ann", rooms.CmdHand, rooms.Input{Raised: ptr(true)})
	page := r.ok("u_mod", rooms.CmdHands, rooms.Input{}).(rooms.Page)
	if len(page.Users) != 1 || page.Users[0] != "u_ann" {
		t.Fatalf("hands: %+v", page)
	}
	r.fail(errs.Forbidden, "u_ann", rooms.CmdHands, rooms.Input{})
	r.ok("u_mod", rooms.CmdInvite, rooms.Input{User: "u_ann"})
	r.ok("u_ann", rooms.CmdInviteAnswer, rooms.Input{Accept: ptr(true)})
	added := r.d.Events(rooms.EvSpeakerAdded)[1:] // [0] is the moderator's
	if len(added) != 1 {
		t.Fatalf("speaker_added events: %d", len(added))
	}
	ad := data[rooms.RoleData](t, added[0].Data)
	if ad.User != "u_ann" || ad.Role != rooms.RoleSpeaker || ad.Previous != rooms.RoleListener || len(ad.Stage) != 3 {
		t.Fatalf("speaker_added: %+v", ad)
	}
	if snap := r.d.Snapshot("u_ann"); snap.You.Role != "speaker" || !snap.You.Muted || snap.You.Hand || snap.Counts.Hands != 0 {
		t.Fatalf("ann after accepting: %+v", snap.You)
	}
	// She unmutes; the moderator mutes and locks her; she cannot unmute.
	r.ok("u_ann", rooms.CmdMute, rooms.Input{Muted: ptr(false)})
	r.ok("u_mod", rooms.CmdMute, rooms.Input{User: "u_ann", Muted: ptr(true), Locked: ptr(true)})
	mutes := r.d.Events(rooms.EvMute)
	last := data[rooms.MuteData](t, mutes[len(mutes)-1].Data)
	if last.User != "u_ann" || !last.Muted || !last.Locked || mutes[len(mutes)-1].Actor != "u_mod" {
		t.Fatalf("mute event: %+v by %s", last, mutes[len(mutes)-1].Actor)
	}
	r.fail(errs.Forbidden, "u_ann", rooms.CmdMute, rooms.Input{Muted: ptr(false)})
	r.fail(errs.Forbidden, "u_mod", rooms.CmdMute, rooms.Input{User: "u_ann", Muted: ptr(false)})
	r.ok("u_mod", rooms.CmdMute, rooms.Input{User: "u_ann", Locked: ptr(false)})
	r.ok("u_ann", rooms.CmdMute, rooms.Input{Muted: ptr(false)})
	for _, m := range r.stage() {
		if m.User == "u_ann" && (m.Muted || m.Locked) {
			t.Fatalf("ann still muted: %+v", m)
		}
	}
	// The moderator moves her back to the audience.
	r.ok("u_mod", rooms.CmdStageRemove, rooms.Input{User: "u_ann"})
	rm := r.d.Events(rooms.EvSpeakerRemoved)
	if len(rm) != 1 || data[rooms.RoleData](t, rm[0].Data).Role != rooms.RoleListener || len(r.stage()) != 2 {
		t.Fatalf("speaker_removed: %v, stage %v", rm, r.stage())
	}
	// A listener never reaches the stage on their own while it is closed.
	r.fail(errs.Forbidden, "u_ann", rooms.CmdStageJoin, rooms.Input{})
	r.fail(errs.Forbidden, "u_ann", rooms.CmdInviteAnswer, rooms.Input{Accept: ptr(true)})
	r.ok("u_host", rooms.CmdSettings, rooms.Input{OpenStage: ptr(true)})
	r.ok("u_ann", rooms.CmdStageJoin, rooms.Input{})
	if len(r.stage()) != 3 {
		t.Fatalf("open stage: %v", r.stage())
	}
}

func TestJoinsBatchedAndCountsBounded(t *testing.T) {
	lim := rooms.DefaultLimits()
	r := newRoom(t, lim)
	r.join("u_host")
	r.d.Advance(time.Second)
	before := len(r.d.Events(rooms.EvParticipants))
	for i := 0; i < 1000; i++ {
		r.join(core.UserID("u_" + string(rune('a'+i%26)) + itoa(i)))
	}
	if got := len(r.d.Events(rooms.EvParticipants)); got != before {
		t.Fatalf("joins logged one by one: %d events", got-before)
	}
	counts := len(r.d.Eph)
	r.d.Advance(lim.MembershipInterval)
	evs := r.d.Events(rooms.EvParticipants)
	if len(evs)-before != 1 {
		t.Fatalf("want one batch, got %d", len(evs)-before)
	}
	p := data[rooms.Participants](t, evs[len(evs)-1].Data)
	if len(p.Changes) != 1000 || p.Count != 1001 {
		t.Fatalf("batch: %d changes, count %d", len(p.Changes), p.Count)
	}
	// Counts are pushed at most once per CountsInterval.
	r.d.Advance(3 * lim.CountsInterval)
	for i := 0; i < 50; i++ {
		r.join(core.UserID("u_late" + itoa(i)))
		r.d.Advance(10 * time.Millisecond)
	}
	r.d.Advance(lim.CountsInterval)
	sent := len(r.d.Eph) - counts
	if sent < 1 || sent > 6 {
		t.Fatalf("%d count pushes over ~4.5s", sent)
	}
	if c := r.d.Snapshot("u_host").Counts; c.Total != 1051 || c.Listeners != 1050 || c.Hosts != 1 {
		t.Fatalf("counts %+v", c)
	}
	// The audience is paged, never pushed whole.
	seen := map[core.UserID]bool{}
	after := ""
	for {
		res := r.ok("u_a0", rooms.CmdAudience, rooms.Input{After: after, Limit: 200}).(rooms.Page)
		for _, u := range res.Users {
			if seen[u] {
				t.Fatalf("%s twice", u)
			}
			seen[u] = true
		}
		if res.Next == "" {
			break
		}
		after = res.Next
	}
	if len(seen) != 1050 {
		t.Fatalf("paged %d listeners", len(seen))
	}
}

func itoa(i int) string {
	b, _ := json.Marshal(i)
	return string(b)
}

func TestReactionsAggregatedExact(t *testing.T) {
	lim := rooms.DefaultLimits()
	lim.ReactionRate, lim.ReactionBurst = 1e6, 1e6
	r := newRoom(t, lim)
	r.join("u_host", "u_a", "u_b")
	want := map[string]int64{}
	for i := 0; i < 5000; i++ {
		e := lim.Reactions[i%3]
		u := core.UserID([]string{"u_a", "u_b", "u_host"}[i%3])
		r.ok(u, rooms.CmdReact, rooms.Input{Emoji: e, Count: 1 + i%5})
		want[e] += int64(1 + i%5)
		if i%500 == 0 {
			r.d.Advance(100 * time.Millisecond)
		}
	}
	r.d.Advance(time.Second)
	evs := r.d.Events(rooms.EvReactions)
	if len(evs) > 30 {
		t.Fatalf("%d reaction events for 5000 reactions", len(evs))
	}
	got := map[string]int64{}
	for _, ev := range evs {
		for e, n := range data[rooms.Reactions](t, ev.Data).Counts {
			got[e] += n
		}
	}
	last := data[rooms.Reactions](t, evs[len(evs)-1].Data)
	if roomstest.JSON(got) != roomstest.JSON(want) || roomstest.JSON(last.Totals) != roomstest.JSON(want) {
		t.Fatalf("totals %v / %v, want %v", got, last.Totals, want)
	}
	r.fail(errs.InvalidArgument, "u_a", rooms.CmdReact, rooms.Input{Emoji: "🦄"})
	r.fail(errs.Forbidden, "u_stranger", rooms.CmdReact, rooms.Input{Emoji: lim.Reactions[0]})
}

func TestReactionRateLimit(t *testing.T) {
	lim := rooms.DefaultLimits()
	r := newRoom(t, lim)
	r.join("u_a")
	n := 0
	for ; n < 1000; n++ {
		if _, err := r.do("u_a", rooms.CmdReact, rooms.Input{Emoji: lim.Reactions[0]}); err != nil {
			if errs.CodeOf(err) != errs.RateLimited || errs.RetryAfterOf(err) <= 0 {
				t.Fatalf("err %v", err)
			}
			break
		}
	}
	if n != lim.ReactionBurst {
		t.Fatalf("burst allowed %d, want %d", n, lim.ReactionBurst)
	}
}

func TestOneVotePerPoll(t *testing.T) {
	lim := rooms.DefaultLimits()
	r := newRoom(t, lim)
	r.join("u_host", "u_a", "u_b", "u_c")
	r.ok("u_host", rooms.CmdPollOpen, rooms.Input{Question: "Best?", Options: []string{"x", "y", "z"}, Duration: 60})
	r.ok("u_a", rooms.CmdPollVote, rooms.Input{Poll: 1, Option: ptr(0)})
	r.fail(errs.AlreadyExists, "u_a", rooms.CmdPollVote, rooms.Input{Poll: 1, Option: ptr(1)})
	r.d.Advance(time.Second)
	// Still once after the vote was logged, and after a replay.
	r.fail(errs.AlreadyExists, "u_a", rooms.CmdPollVote, rooms.Input{Poll: 1, Option: ptr(2)})
	r.d.B = r.d.Replay(lim)
	r.join("u_host", "u_a", "u_b", "u_c") // reattach after the "restart"
	r.fail(errs.AlreadyExists, "u_a", rooms.CmdPollVote, rooms.Input{Poll: 1, Option: ptr(2)})
	r.ok("u_b", rooms.CmdPollVote, rooms.Input{Poll: 1, Option: ptr(0)})
	r.ok("u_c", rooms.CmdPollVote, rooms.Input{Poll: 1, Option: ptr(2)})
	r.fail(errs.InvalidArgument, "u_host", rooms.CmdPollVote, rooms.Input{Poll: 1, Option: ptr(3)})
	r.fail(errs.InvalidArgument, "u_host", rooms.CmdPollOpen, rooms.Input{Question: "One?", Options: []string{"only"}})
	r.fail(errs.InvalidArgument, "u_host", rooms.CmdPollOpen, rooms.Input{Question: "Seven?", Options: []string{"1", "2", "3", "4", "5", "6", "7"}})
	// The deadline closes it with every vote counted.
	r.d.Advance(61 * time.Second)
	closed := r.d.Events(rooms.EvPollClosed)
	if len(closed) != 1 {
		t.Fatalf("closed %d", len(closed))
	}
	pc := data[rooms.PollClosed](t, closed[0].Data)
	if roomstest.JSON(pc.Totals) != "[2,0,1]" || pc.Reason != "deadline" {
		t.Fatalf("closed: %+v", pc)
	}
	r.fail(errs.Closed, "u_host", rooms.CmdPollVote, rooms.Input{Poll: 1, Option: ptr(0)})
	// Votes are secret: the log names voters, not their options.
	for _, ev := range r.d.Events(rooms.EvPollVotes) {
		var m map[string]any
		_ = json.Unmarshal(ev.Data, &m)
		if _, ok := m["options"]; ok {
			t.Fatalf("votes event reveals options: %s", ev.Data)
		}
	}
}

func TestSummaryExact(t *testing.T) {
	lim := rooms.DefaultLimits()
	r := newRoom(t, lim)
	r.join("u_host", "u_a", "u_b")
	r.d.Advance(time.Second)
	r.ok("u_a", rooms.CmdLeave, rooms.Input{})
	r.d.Advance(time.Second)
	r.join("u_c", "u_d", "u_a") // peak 4 (host, b, c, d) then 5 with a back
	r.ok("u_b", rooms.CmdLeave, rooms.Input{})
	r.ok("u_host", rooms.CmdRole, rooms.Input{User: "u_c", Role: "speaker"})
	for i := 0; i < 7; i++ {
		r.ok("u_d", rooms.CmdComment, rooms.Input{Text: "c" + itoa(i)})
		r.d.Advance(2 * time.Second)
	}
	r.ok("u_host", rooms.CmdCommentDelete, rooms.Input{Comment: 3})
	r.ok("u_a", rooms.CmdReact, rooms.Input{Emoji: lim.Reactions[0], Count: 10})
	r.ok("u_d", rooms.CmdReact, rooms.Input{Emoji: lim.Reactions[1], Count: 4})
	r.ok("u_host", rooms.CmdPollOpen, rooms.Input{Question: "Q", Options: []string{"a", "b"}})
	r.ok("u_a", rooms.CmdPollVote, rooms.Input{Poll: 1, Option: ptr(1)})
	r.d.Advance(30 * time.Second)
	r.ok("u_host", rooms.CmdEnd, rooms.Input{})
	ended := r.d.Events(rooms.EvEnded)
	if len(ended) != 1 {
		t.Fatal("no end event")
	}
	s := data[rooms.EndedData](t, ended[0].Data).Summary
	if s.UniqueListeners != 4 || s.PeakConcurrent != 5 || s.Comments != 7 || s.CommentsDeleted != 1 ||
		s.ReactionsTotal != 14 || s.Reactions[lim.Reactions[0]] != 10 || len(s.Polls) != 1 ||
		roomstest.JSON(s.Polls[0].Totals) != "[0,1]" || roomstest.JSON(s.Speakers) != `["u_c","u_host"]` ||
		s.EndReason != rooms.EndedByHost || s.Events != uint64(len(r.d.Log)) {
		t.Fatalf("summary: %+v (log %d)", s, len(r.d.Log))
	}
	if s.DurationSeconds != int64(r.d.Now.Sub(roomstest.Epoch)/time.Second) {
		t.Fatalf("duration %d", s.DurationSeconds)
	}
	// The replayed room has the same summary and refuses commands.
	b := r.d.Replay(lim)
	if roomstest.JSON(b.State()) != roomstest.JSON(r.d.B.State()) {
		t.Fatalf("replay differs:\n%s\n%s", roomstest.JSON(b.State()), roomstest.JSON(r.d.B.State()))
	}
	r.fail(errs.Closed, "u_d", rooms.CmdComment, rooms.Input{Text: "late"})
}

func TestHostLeftGrace(t *testing.T) {
	lim := rooms.DefaultLimits()
	r := newRoom(t, lim)
	r.join("u_host", "u_mod", "u_a")
	r.ok("u_host", rooms.CmdRole, rooms.Input{User: "u_mod", Role: "moderator"})
	r.ok("u_host", rooms.CmdLeave, rooms.Input{})
	r.d.Advance(lim.HostGrace + time.Minute)
	if r.d.Snapshot("u_a").Status != rooms.Live {
		t.Fatal("room ended while a moderator remained")
	}
	r.ok("u_mod", rooms.CmdLeave, rooms.Input{})
	r.d.Advance(lim.HostGrace - 5*time.Second)
	if r.d.Snapshot("u_a").Status != rooms.Live {
		t.Fatal("room ended before the grace period")
	}
	r.d.Advance(10 * time.Second)
	s := r.d.Snapshot("u_a")
	if s.Status != rooms.Ended || s.EndReason != rooms.EndedHostLeft {
		t.Fatalf("status %s %s", s.Status, s.EndReason)
	}
	// The host coming back in time keeps the room live.
	r2 := newRoom(t, lim)
	r2.join("u_host", "u_a")
	r2.ok("u_host", rooms.CmdLeave, rooms.Input{})
	r2.d.Advance(lim.HostGrace / 2)
	r2.join("u_host")
	r2.d.Advance(lim.HostGrace)
	if r2.d.Snapshot("u_a").Status != rooms.Live {
		t.Fatal("ended although the host came back")
	}
}

func TestDisconnectedParticipantLeavesAfterGrace(t *testing.T) {
	lim := rooms.DefaultLimits()
	r := newRoom(t, lim)
	r.join("u_host", "u_a", "u_b")
	r.d.Advance(time.Second)
	r.d.Do("u_a", rooms.CmdDetach, rooms.Input{}, rooms.Access{Conn: "c_u_a"})
	r.d.Do("u_b", rooms.CmdDetach, rooms.Input{}, rooms.Access{Conn: "c_u_b"})
	r.d.Advance(lim.ReconnectGrace / 2)
	r.d.Do("u_b", rooms.CmdAttach, rooms.Input{}, rooms.Access{Conn: "c_u_b2"}) // b resumed
	r.d.Advance(lim.ReconnectGrace)
	if got := r.d.B.Participants(); roomstest.JSON(got) != `["u_b","u_host"]` {
		t.Fatalf("participants %v", got)
	}
	// After a restart nobody is attached: everyone gets the grace period.
	b := r.d.Replay(lim)
	r.d.B = b
	r.d.Do("u_host", rooms.CmdAttach, rooms.Input{}, rooms.Access{Conn: "c_new"})
	r.d.Advance(lim.ReconnectGrace - time.Second)
	if len(r.d.B.Participants()) != 2 {
		t.Fatal("removed before the grace period")
	}
	r.d.Advance(2 * time.Second)
	if got := r.d.B.Participants(); roomstest.JSON(got) != `["u_host"]` {
		t.Fatalf("participants after restart %v", got)
	}
}

func TestKickAndBlock(t *testing.T) {
	r := newRoom(t, rooms.DefaultLimits())
	r.join("u_host", "u_mod", "u_a", "u_b")
	r.ok("u_host", rooms.CmdRole, rooms.Input{User: "u_mod", Role: "moderator"})
	r.ok("u_mod", rooms.CmdKick, rooms.Input{User: "u_a"})
	r.fail(errs.Forbidden, "u_a", rooms.CmdJoin, rooms.Input{})
	r.fail(errs.Forbidden, "u_a", rooms.CmdGet, rooms.Input{})
	r.fail(errs.Forbidden, "u_mod", rooms.CmdKick, rooms.Input{User: "u_host"})
	r.ok("u_host", rooms.CmdBlock, rooms.Input{User: "u_b"})
	r.fail(errs.Forbidden, "u_b", rooms.CmdJoin, rooms.Input{})
	// The host's block list (from outside the room) is enforced too.
	if _, err := r.d.Do("u_c", rooms.CmdJoin, rooms.Input{}, rooms.Access{Blocked: true}); errs.CodeOf(err) != errs.Forbidden {
		t.Fatalf("blocked join: %v", err)
	}
	kicked := r.d.Events(rooms.EvKicked)
	if len(kicked) != 1 || kicked[0].Actor != "u_mod" {
		t.Fatalf("kick event %+v", kicked)
	}
	if got := r.d.B.Participants(); roomstest.JSON(got) != `["u_host","u_mod"]` {
		t.Fatalf("participants %v", got)
	}
}

func TestCommentRules(t *testing.T) {
	lim := rooms.DefaultLimits()
	r := newRoom(t, lim)
	r.join("u_host", "u_a")
	r.fail(errs.InvalidArgument, "u_a", rooms.CmdComment, rooms.Input{Text: "   "})
	long := make([]byte, lim.MaxComment+1)
	for i := range long {
		long[i] = 'x'
	}
	r.fail(errs.LimitExceeded, "u_a", rooms.CmdComment, rooms.Input{Text: string(long)})
	r.fail(errs.InvalidArgument, "u_a", rooms.CmdComment, rooms.Input{Text: "x", Meta: json.RawMessage(`[1]`)})
	for i := 0; i < lim.CommentBurst; i++ {
		r.ok("u_a", rooms.CmdComment, rooms.Input{Text: "hi", Meta: json.RawMessage(`{"reply_to": 1}`)})
	}
	r.fail(errs.RateLimited, "u_a", rooms.CmdComment, rooms.Input{Text: "too fast"})
	r.ok("u_host", rooms.CmdSettings, rooms.Input{SlowMode: ptr(30)})
	r.d.Advance(31 * time.Second)
	r.ok("u_a", rooms.CmdComment, rooms.Input{Text: "one"})
	r.fail(errs.RateLimited, "u_a", rooms.CmdComment, rooms.Input{Text: "two"})
	r.ok("u_host", rooms.CmdComment, rooms.Input{Text: "hosts are exempt"})
	r.d.Advance(31 * time.Second)
	r.ok("u_a", rooms.CmdComment, rooms.Input{Text: "two"})
	r.ok("u_host", rooms.CmdSettings, rooms.Input{CommentsOff: ptr(true), SlowMode: ptr(0)})
	r.fail(errs.Forbidden, "u_a", rooms.CmdComment, rooms.Input{Text: "three"})
	// Pin, and a late joiner sees the pinned comment; deleting unpins.
	r.ok("u_host", rooms.CmdCommentPin, rooms.Input{Comment: 2})
	r.join("u_late")
	snap := r.d.Snapshot("u_late")
	if snap.Pinned == nil || snap.Pinned.N != 2 || snap.Pinned.Author != "u_a" || len(snap.Comments) != 8 {
		t.Fatalf("snapshot: pinned %+v, %d comments", snap.Pinned, len(snap.Comments))
	}
	r.fail(errs.Forbidden, "u_late", rooms.CmdCommentDelete, rooms.Input{Comment: 2})
	r.ok("u_a", rooms.CmdCommentDelete, rooms.Input{Comment: 2})
	if snap := r.d.Snapshot("u_late"); snap.Pinned != nil || len(snap.Comments) != 7 {
		t.Fatalf("after delete: %+v %d", snap.Pinned, len(snap.Comments))
	}
}

func TestScheduledRoom(t *testing.T) {
	lim := rooms.DefaultLimits()
	d := roomstest.NewDriver(lim)
	at := d.Now.Add(2 * time.Hour)
	if _, err := d.Do("u_host", rooms.CmdCreate, rooms.Input{Title: ptr("Later"), ScheduledAt: &at, Topics: []string{"Go"}}, rooms.Access{}); err != nil {
		t.Fatal(err)
	}
	r := &room{t: t, d: d}
	r.fail(errs.Closed, "u_a", rooms.CmdJoin, rooms.Input{})
	r.ok("u_a", rooms.CmdInterest, rooms.Input{})
	r.ok("u_b", rooms.CmdInterest, rooms.Input{})
	r.ok("u_b", rooms.CmdHand, rooms.Input{})
	if c := d.Snapshot("u_a").Counts; c.Interested != 2 || c.Hands != 1 {
		t.Fatalf("counts %+v", c)
	}
	r.ok("u_host", rooms.CmdGuests, rooms.Input{Users: []core.UserID{"u_g"}})
	if len(d.Notify) != 1 || d.Notify[0].User != "u_g" || d.Notify[0].Event != "room.invitation" {
		t.Fatalf("notices %+v", d.Notify)
	}
	d.Advance(time.Second)
	if len(d.Events(rooms.EvInterest)) != 1 {
		t.Fatalf("interest not batched: %d", len(d.Events(rooms.EvInterest)))
	}
	r.ok("u_host", rooms.CmdStart, rooms.Input{})
	started := 0
	for _, n := range d.Notify {
		if n.Event == "room.started" {
			started++
		}
	}
	if started != 2 {
		t.Fatalf("started notices %d", started)
	}
	r.join("u_b")
	if s := d.Snapshot("u_b"); !s.You.Hand || s.Status != rooms.Live {
		t.Fatalf("b after start: %+v", s.You)
	}
	// A scheduled room that never starts expires.
	d2 := roomstest.NewDriver(lim)
	at2 := d2.Now.Add(time.Hour)
	d2.Do("u_host", rooms.CmdCreate, rooms.Input{Title: ptr("Never"), ScheduledAt: &at2}, rooms.Access{})
	d2.Now = at2.Add(lim.HotStateTTL)
	d2.Tick()
	if s := d2.Snapshot("u_host"); s.Status != rooms.Ended || s.EndReason != rooms.EndedNeverBegan {
		t.Fatalf("unstarted room: %s %s", s.Status, s.EndReason)
	}
}

func TestExpiresAfterHotStateTTL(t *testing.T) {
	lim := rooms.DefaultLimits()
	r := newRoom(t, lim)
	r.join("u_host", "u_a")
	r.ok("u_a", rooms.CmdComment, rooms.Input{Text: "hello"})
	r.d.Now = roomstest.Epoch.Add(lim.HotStateTTL - time.Second)
	r.d.Tick()
	if r.d.Snapshot("u_a").Status != rooms.Live {
		t.Fatal("expired early")
	}
	r.d.Now = roomstest.Epoch.Add(lim.HotStateTTL)
	r.d.Tick()
	s := r.d.Snapshot("u_host")
	if s.Status != rooms.Ended || s.EndReason != rooms.EndedExpired || s.Summary == nil || s.Summary.Comments != 1 {
		t.Fatalf("after TTL: %s %s %+v", s.Status, s.EndReason, s.Summary)
	}
	if len(r.d.B.Participants()) != 0 || s.Counts.Total != 0 || len(s.Comments) != 0 {
		t.Fatalf("hot state kept: %v", r.d.B.Participants())
	}
	if r.d.B.Busy() {
		t.Fatal("an ended room keeps its actor busy")
	}
}

func TestValidation(t *testing.T) {
	lim := rooms.DefaultLimits()
	d := roomstest.NewDriver(lim)
	bad := []rooms.Input{
		{},
		{Title: ptr("")},
		{Title: ptr("x"), Visibility: "secret"},
		{Title: ptr("x"), Visibility: rooms.WorkspaceOnly},
		{Title: ptr("x"), Topics: []string{"a", "b", "c", "d", "e", "f"}},
		{Title: ptr("x"), ScheduledAt: ptr(d.Now.Add(-time.Hour))},
		{Title: ptr("x"), ScheduledAt: ptr(d.Now.Add(lim.MaxScheduleAhead + time.Hour))},
	}
	for i, in := range bad {
		if _, err := d.Do("u_host", rooms.CmdCreate, in, rooms.Access{}); err == nil {
			t.Errorf("case %d accepted", i)
		}
	}
	if _, err := d.Do("u_host", rooms.CmdCreate, rooms.Input{Title: ptr("x"), Workspace: "w_1"}, rooms.Access{}); errs.CodeOf(err) != errs.Forbidden {
		t.Errorf("workspace room by a non-member: %v", err)
	}
	if _, err := d.Do("u_host", rooms.CmdJoin, rooms.Input{}, rooms.Access{}); errs.CodeOf(err) != errs.NotFound {
		t.Errorf("join before create: %v", err)
	}
	if _, err := d.Do("u_host", rooms.CmdCreate, rooms.Input{Title: ptr("ok"), Visibility: rooms.WorkspaceOnly, Workspace: "w_1"}, rooms.Access{Member: true}); err != nil {
		t.Fatal(err)
	}
	if _, err := d.Do("u_host", rooms.CmdCreate, rooms.Input{Title: ptr("again")}, rooms.Access{}); errs.CodeOf(err) != errs.AlreadyExists {
		t.Errorf("second create: %v", err)
	}
	if _, err := d.Do("u_x", rooms.CmdJoin, rooms.Input{}, rooms.Access{}); errs.CodeOf(err) != errs.Forbidden {
		t.Errorf("non-member joined a workspace room: %v", err)
	}
	if _, err := d.Do("u_x", rooms.CmdJoin, rooms.Input{}, rooms.Access{Member: true}); err != nil {
		t.Errorf("member could not join: %v", err)
	}
}

func TestInviteOnly(t *testing.T) {
	d := roomstest.NewDriver(rooms.DefaultLimits())
	d.Do("u_host", rooms.CmdCreate, rooms.Input{Title: ptr("Private"), Visibility: rooms.InviteOnly}, rooms.Access{})
	if _, err := d.Do("u_x", rooms.CmdGet, rooms.Input{}, rooms.Access{}); errs.CodeOf(err) != errs.Forbidden {
		t.Fatalf("stranger sees an invite-only room: %v", err)
	}
	d.Do("u_host", rooms.CmdGuests, rooms.Input{Users: []core.UserID{"u_x"}}, rooms.Access{})
	if _, err := d.Do("u_x", rooms.CmdJoin, rooms.Input{}, rooms.Access{}); err != nil {
		t.Fatalf("guest cannot join: %v", err)
	}
}

// TestLargeRoom holds the seed's figures: 10,000 comments and 50,000
// reactions in one room, exact after a replay.
func TestLargeRoom(t *testing.T) {
	lim := rooms.DefaultLimits()
	lim.CommentRate, lim.CommentBurst = 1e6, 1e6
	lim.ReactionRate, lim.ReactionBurst = 1e9, 1e9
	r := newRoom(t, lim)
	const users = 200
	for i := 0; i < users; i++ {
		r.join(core.UserID("u_" + itoa(i)))
	}
	var reactions int64
	for i := 0; i < 10000; i++ {
		u := core.UserID("u_" + itoa(i%users))
		r.ok(u, rooms.CmdComment, rooms.Input{Text: "comment " + itoa(i)})
		for j := 0; j < 5; j++ {
			r.ok(u, rooms.CmdReact, rooms.Input{Emoji: lim.Reactions[j%len(lim.Reactions)]})
			reactions++
		}
		if i%100 == 0 {
			r.d.Advance(lim.ReactionInterval)
		}
	}
	r.d.Advance(time.Second)
	b := r.d.Replay(lim)
	for _, beh := range []*rooms.Behavior{r.d.B, b} {
		var total int64
		for _, n := range stateOf(t, beh).Snapshot.Reactions {
			total += n
		}
		if total != reactions || reactions != 50000 {
			t.Fatalf("reactions %d, want %d", total, reactions)
		}
		if stateOf(t, beh).Comments != 10000 {
			t.Fatalf("comments %d", stateOf(t, beh).Comments)
		}
	}
	if n := len(r.d.Events(rooms.EvReactions)); n > 200 {
		t.Fatalf("%d reaction events", n)
	}
}

type stateView struct {
	Snapshot rooms.Snapshot `json:"snapshot"`
	Comments int64          `json:"comments"`
}

func stateOf(t *testing.T, b *rooms.Behavior) stateView {
	var s stateView
	if err := json.Unmarshal([]byte(roomstest.JSON(b.State())), &s); err != nil {
		t.Fatal(err)
	}
	return s
}
