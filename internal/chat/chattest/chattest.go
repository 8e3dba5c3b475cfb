package chattest

import (
	"bytes"
	"context"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/parleyhq/parley/internal/chat"
	"github.com/parleyhq/parley/internal/core"
	"github.com/parleyhq/parley/internal/errs"
	"github.com/parleyhq/parley/internal/eventlog"
)

// Run runs the contract suite against stores made by open, which must
// return a new, empty store for each call.
func Run(t *testing.T, open func(t *testing.T) chat.Store) {
	tests := []struct {
		name string
		fn   func(t *testing.T, st chat.Store)
	}{
		{"CheckpointsGapsAndReplays", testCheckpoints},
		{"HistoryPages", testHistory},
		{"EditsDeletesReactionsPins", testMessageChanges},
		{"Threads", testThreads},
		{"Members", testMembers},
		{"MentionsInbox", testMentions},
		{"MarkerAt", testMarkerAt},
		{"Search", testSearch},
		{"SearchFilters", testSearchFilters},
		{"SearchWidensItsRankWindow", testSearchWindow},
		{"RebuildEqualsLive", testRebuild},
		{"Uploads", testUploads},
		{"BotTokens", testBotTokens},
		{"Webhooks", testWebhooks},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { tc.fn(t, open(t)) })
	}
}

func ctxOf(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	t.Cleanup(cancel)
	return ctx
}

// Apply projects events and fails the test on error or gap.
func Apply(t testing.TB, st chat.Projector, evs []eventlog.Event) {
	t.Helper()
	res, err := st.ApplyBatch(context.Background(), evs)
	if err != nil {
		t.Fatalf("ApplyBatch: %v", err)
	}
	for _, r := range res {
		if r.Gap {
			t.Fatalf("ApplyBatch: gap in %s at checkpoint %d", r.Stream, r.Checkpoint)
		}
	}
}

// byStream reorders events so that each stream's are consecutive, keeping
// their order, as the projector batches them.
func byStream(evs []eventlog.Event) []eventlog.Event {
	var order []core.StreamID
	groups := map[core.StreamID][]eventlog.Event{}
	for _, e := range evs {
		if groups[e.Stream] == nil {
			order = append(order, e.Stream)
		}
		groups[e.Stream] = append(groups[e.Stream], e)
	}
	var out []eventlog.Event
	for _, s := range order {
		out = append(out, groups[s]...)
	}
	return out
}

func testCheckpoints(t *testing.T, st chat.Store) {
	ctx := ctxOf(t)
	s := NewScript(t)
	gen := s.Workspace("w1", "ann", "bob")
	s.Take()
	for i := 0; i < 5; i++ {
		s.Post(gen, "ann", chat.MessagePosted{Text: fmt.Sprint("m", i)})
	}
	all := s.Events
	// A batch that starts past the checkpoint is a gap and applies nothing.
	res, err := st.ApplyBatch(ctx, all[2:])
	if err != nil || len(res) != 1 || !res[0].Gap || res[0].Checkpoint != 0 {
		t.Fatalf("gap: %+v %v", res, err)
	}
	s2 := NewScript(t)
	s2.Workspace("w1", "ann", "bob")
	Apply(t, st, byStream(s2.Events))
	Apply(t, st, all[:3])
	// Replaying events already projected skips them; the rest apply.
	Apply(t, st, all)
	Apply(t, st, all)
	h, err := st.History(ctx, gen, chat.HistoryQuery{Limit: 10})
	if err != nil || len(h.Messages) != 5 {
		t.Fatalf("history after replays: %d %v", len(h.Messages), err)
	}
	cps, err := st.Checkpoints(ctx, "", 0)
	if err != nil {
		t.Fatal(err)
	}
	got := map[core.StreamID]uint64{}
	for _, c := range cps {
		got[c.Stream] = c.Last
	}
	if got[gen.Stream()] != all[len(all)-1].Seq || got["workspace:w1"] == 0 {
		t.Fatalf("checkpoints %v", got)
	}
	if cp, err := st.Checkpoint(ctx, gen.Stream()); err != nil || cp != all[len(all)-1].Seq {
		t.Fatalf("checkpoint %d %v", cp, err)
	}
	if cp, err := st.Checkpoint(ctx, "channel:nope"); err != nil || cp != 0 {
		t.Fatalf("unknown checkpoint %d %v", cp, err)
	}
	page, _ := st.Checkpoints(ctx, "channel:", 1)
	if len(page) != 1 || page[0].Stream != gen.Stream() {
		t.Fatalf("paged checkpoints %v", page)
	}
}

func testHistory(t *testing.T, st chat.Store) {
	ctx := ctxOf(t)
	s := NewScript(t)
	gen := s.Workspace("w1", "ann", "bob")
	var seqs []uint64
	for i := 1; i <= 30; i++ {
		_, seq := s.Post(gen, "ann", chat.MessagePosted{Text: fmt.Sprint("message ", i)})
		seqs = append(seqs, seq)
		if i == 10 {
			s.Post(gen, "bob", chat.MessagePosted{Text: "a reply", Thread: "m10"})
		}
	}
	Apply(t, st, byStream(s.Events))
	texts := func(h chat.History) string {
		var out []string
		for _, m := range h.Messages {
			out = append(out, strings.TrimPrefix(m.Text, "message "))
		}
		return strings.Join(out, ",")
	}
	h, err := st.History(ctx, gen, chat.HistoryQuery{Limit: 5})
	if err != nil || texts(h) != "26,27,28,29,30" || !h.MoreBefore || h.MoreAfter {
		t.Fatalf("latest: %s %+v %v", texts(h), h, err)
	}
	h, _ = st.History(ctx, gen, chat.HistoryQuery{Before: h.Messages[0].Seq, Limit: 5})
	if texts(h) != "21,22,23,24,25" || !h.MoreBefore || !h.MoreAfter {
		t.Fatalf("before: %s", texts(h))
	}
	h, _ = st.History(ctx, gen, chat.HistoryQuery{After: seqs[1], Limit: 3})
	if texts(h) != "3,4,5" || !h.MoreBefore || !h.MoreAfter {
		t.Fatalf("after: %s %+v", texts(h), h)
	}
	h, _ = st.History(ctx, gen, chat.HistoryQuery{Before: seqs[2], Limit: 5})
	if texts(h) != "1,2" || h.MoreBefore {
		t.Fatalf("first page: %s", texts(h))
	}
	h, _ = st.History(ctx, gen, chat.HistoryQuery{Around: "m16", Limit: 4}) // m16 is "message 15" (m11 is the reply)
	if texts(h) != "13,14,15,16" || !h.MoreBefore || !h.MoreAfter {
		t.Fatalf("around: %s", texts(h))
	}
	m, err := st.Message(ctx, gen, "m10")
	if err != nil || m.Replies != 1 || m.LastReplyAt == nil || m.Top != 10 || m.Author != "ann" {
		t.Fatalf("root: %+v %v", m, err)
	}
	if _, err := st.Message(ctx, gen, "m999"); !errs.Is(err, errs.NotFound) {
		t.Fatalf("missing message: %v", err)
	}
	if _, err := st.History(ctx, gen, chat.HistoryQuery{Around: "m11"}); !errs.Is(err, errs.InvalidArgument) {
		t.Fatalf("around a reply in the timeline: %v", err)
	}
}

func testMessageChanges(t *testing.T, st chat.Store) {
	ctx := ctxOf(t)
	s := NewScript(t)
	gen := s.Workspace("w1", "ann", "bob", "cat")
	id, seq := s.Post(gen, "ann", chat.MessagePosted{Text: "first draft", Attachments: []chat.Attachment{{ID: "f1", Name: "a.png", Size: 3, ContentType: "image/png"}}})
	edit := func(text string) uint64 {
		evs := s.Do(gen.Stream(), chat.CmdEdit, "ann", chat.EditMessage{MessageEdited: chat.MessageEdited{ID: id, Text: text}})
		return evs[0].Seq
	}
	e1 := edit("second draft")
	e2 := edit("final")
	for _, u := range []core.UserID{"bob", "cat", "bob"} {
		s.Do(gen.Stream(), chat.CmdReact, u, chat.MessageRef{ID: id, Emoji: "wave"})
	}
	s.Do(gen.Stream(), chat.CmdReact, "bob", chat.MessageRef{ID: id, Emoji: "+1"})
	s.Do(gen.Stream(), chat.CmdUnreact, "cat", chat.MessageRef{ID: id, Emoji: "wave"})
	id2, _ := s.Post(gen, "bob", chat.MessagePosted{Text: "pin me too"})
	s.Do(gen.Stream(), chat.CmdPin, "bob", chat.MessageRef{ID: id})
	s.Do(gen.Stream(), chat.CmdPin, "bob", chat.MessageRef{ID: id2})
	Apply(t, st, byStream(s.Take()))

	m, err := st.Message(ctx, gen, id)
	if err != nil {
		t.Fatal(err)
	}
	want := []chat.ReactionCount{{Emoji: "+1", Count: 1, Users: []core.UserID{"bob"}}, {Emoji: "wave", Count: 1, Users: []core.UserID{"bob"}}}
	if m.Text != "final" || m.EditedAt == nil || !m.Pinned || !reflect.DeepEqual(m.Reactions, want) || len(m.Attachments) != 1 {
		t.Fatalf("message %+v", m)
	}
	edits, err := st.Edits(ctx, gen, id)
	if err != nil || len(edits) != 2 || edits[0].Text != "first draft" || edits[0].Seq != seq || edits[0].Replaced != e1 ||
		edits[1].Text != "second draft" || edits[1].Seq != e1 || edits[1].Replaced != e2 {
		t.Fatalf("edits %+v %v", edits, err)
	}
	rs, _ := st.Reactions(ctx, gen, id)
	if !reflect.DeepEqual(rs, want) {
		t.Fatalf("reactions %+v", rs)
	}
	pins, _ := st.Pins(ctx, gen)
	if len(pins) != 2 || pins[0].ID != id2 || pins[1].ID != id {
		t.Fatalf("pins %+v", pins)
	}
	// A deletion leaves a tombstone without text, edits, reactions or pin.
	s.Do(gen.Stream(), chat.CmdDelete, "ann", chat.MessageRef{ID: id})
	Apply(t, st, s.Take())
	m, _ = st.Message(ctx, gen, id)
	if !m.Deleted || m.Text != "" || m.Pinned || len(m.Reactions) != 0 || len(m.Attachments) != 0 {
		t.Fatalf("tombstone %+v", m)
	}
	if edits, _ := st.Edits(ctx, gen, id); len(edits) != 0 {
		t.Fatalf("edits of a deleted message: %+v", edits)
	}
	if pins, _ := st.Pins(ctx, gen); len(pins) != 1 {
		t.Fatalf("pins after delete: %+v", pins)
	}
	h, _ := st.History(ctx, gen, chat.HistoryQuery{})
	if len(h.Messages) != 2 || !h.Messages[0].Deleted {
		t.Fatalf("history keeps the tombstone in place: %+v", h.Messages)
	}
}

func testThreads(t *testing.T, st chat.Store) {
	ctx := ctxOf(t)
	s := NewScript(t)
	gen := s.Workspace("w1", "ann", "bob")
	root, _ := s.Post(gen, "ann", chat.MessagePosted{Text: "root"})
	var replies []chat.MessageID
	for i := 0; i < 6; i++ {
		r, _ := s.Post(gen, "bob", chat.MessagePosted{Text: fmt.Sprint("reply ", i), Thread: root})
		replies = append(replies, r)
	}
	s.Do(gen.Stream(), chat.CmdDelete, "bob", chat.MessageRef{ID: replies[5]})
	s.Do(gen.Stream(), chat.CmdReact, "bob", chat.MessageRef{ID: root, Emoji: "wave"})
	Apply(t, st, byStream(s.Take()))
	h, err := st.History(ctx, gen, chat.HistoryQuery{Thread: root, Limit: 3})
	if err != nil || len(h.Messages) != 4 || h.Messages[0].ID != root || h.Messages[1].Text != "reply 0" || !h.MoreAfter {
		t.Fatalf("thread first page %+v %v", h, err)
	}
	// The root's reactions are counted once, not once per lookup.
	if want := []chat.ReactionCount{{Emoji: "wave", Count: 1, Users: []core.UserID{"bob"}}}; !reflect.DeepEqual(h.Messages[0].Reactions, want) {
		t.Fatalf("thread root reactions %+v", h.Messages[0].Reactions)
	}
	h, _ = st.History(ctx, gen, chat.HistoryQuery{Thread: root, After: h.Messages[3].Seq, Limit: 3})
	if len(h.Messages) != 3 || h.Messages[0].Text != "reply 3" || !h.Messages[2].Deleted || h.MoreAfter {
		t.Fatalf("thread second page %+v", h)
	}
	m, _ := st.Message(ctx, gen, root)
	if m.Replies != 5 {
		t.Fatalf("reply count %d after a deleted reply", m.Replies)
	}
	tl, _ := st.History(ctx, gen, chat.HistoryQuery{})
	if len(tl.Messages) != 1 {
		t.Fatalf("replies in the timeline: %d", len(tl.Messages))
	}
	if _, err := st.History(ctx, gen, chat.HistoryQuery{Thread: replies[0]}); !errs.Is(err, errs.InvalidArgument) {
		t.Fatalf("thread of a reply: %v", err)
	}
}

func testMembers(t *testing.T, st chat.Store) {
	ctx := ctxOf(t)
	s := NewScript(t)
	var users []core.UserID
	for i := 0; i < 12; i++ {
		users = append(users, core.UserID(fmt.Sprintf("u%02d", i)))
	}
	gen := s.Workspace("w1", "owner", users...)
	s.Do("workspace:w1", chat.CmdMemberRole, "owner", chat.SetRole{User: "u03", Role: chat.RoleGuest})
	s.Do("workspace:w1", chat.CmdMemberRemove, "owner", chat.UserRef{User: "u05"})
	s.Do(gen.Stream(), chat.CmdChannelRemove, "owner", chat.ChannelUsers{User: "u05", As: chat.As{System: true}})
	s.Do("workspace:w1", chat.CmdMemberProfile, "u07", chat.MemberUpdated{User: "u07", Profile: chat.Profile{Handle: "aaa", DisplayName: "First"}})
	Apply(t, st, byStream(s.Take()))
	var got []string
	after := ""
	for {
		page, err := st.Members(ctx, "w1", after, 5)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range page {
			got = append(got, m.Profile.Handle)
			if m.User == "u03" && (m.Role != chat.RoleGuest || !m.Guest) {
				t.Fatalf("guest row %+v", m)
			}
		}
		if len(page) < 5 {
			break
		}
		after = page[len(page)-1].Profile.Handle
	}
	if len(got) != 12 || got[0] != "aaa" || strings.Contains(strings.Join(got, ","), "h_u05") {
		t.Fatalf("members %v", got)
	}
	cm, err := st.ChannelMembers(ctx, gen, "", 100)
	if err != nil || len(cm) != 12 {
		t.Fatalf("channel members %d %v", len(cm), err)
	}
}

func testMentions(t *testing.T, st chat.Store) {
	ctx := ctxOf(t)
	s := NewScript(t)
	gen := s.Workspace("w1", "ann", "bob", "cat")
	s.Do("workspace:w1", chat.CmdMemberAdd, "ann", chat.AddMember{User: "out", Profile: Profile("out")})
	s.Post(gen, "ann", chat.MessagePosted{Text: "@bob look", Mentions: []core.UserID{"bob", "out"}})
	s.Post(gen, "ann", chat.MessagePosted{Text: "@channel all", Channel: true})
	s.Post(gen, "ann", chat.MessagePosted{Text: "@here now", HereAll: true, Here: []core.UserID{"cat"}})
	del, _ := s.Post(gen, "cat", chat.MessagePosted{Text: "@bob oops", Mentions: []core.UserID{"bob"}})
	s.Do(gen.Stream(), chat.CmdDelete, "cat", chat.MessageRef{ID: del})
	Apply(t, st, byStream(s.Take()))
	rows, err := st.Mentions(ctx, "bob", chat.MentionPage{Limit: 10})
	if err != nil || len(rows) != 2 || rows[0].Kind != "channel" || rows[1].Kind != "user" || rows[1].Text != "@bob look" || rows[0].Workspace != "w1" {
		t.Fatalf("bob's mentions %+v %v", rows, err)
	}
	page, _ := st.Mentions(ctx, "bob", chat.MentionPage{Limit: 1, BeforeAt: rows[0].At, BeforeCh: rows[0].Channel, BeforeSeq: rows[0].Seq})
	if len(page) != 1 || page[0].Seq != rows[1].Seq {
		t.Fatalf("second page %+v", page)
	}
	if rows, _ := st.Mentions(ctx, "cat", chat.MentionPage{Limit: 10}); len(rows) != 2 || rows[0].Kind != "here" {
		t.Fatalf("cat's mentions %+v", rows)
	}
	if rows, _ := st.Mentions(ctx, "ann", chat.MentionPage{Limit: 10}); len(rows) != 0 {
		t.Fatalf("the author is mentioned by her own @channel: %+v", rows)
	}
	if rows, _ := st.Mentions(ctx, "out", chat.MentionPage{Limit: 10}); len(rows) != 0 {
		t.Fatalf("a non-member is in the mentions inbox: %+v", rows)
	}
	if rows, _ := st.Mentions(ctx, "bob", chat.MentionPage{Workspace: "w2", Limit: 10}); len(rows) != 0 {
		t.Fatalf("workspace filter: %+v", rows)
	}
}

func testMarkerAt(t *testing.T, st chat.Store) {
	ctx := ctxOf(t)
	s := NewScript(t)
	gen := s.Workspace("w1", "ann")
	_, s1 := s.Post(gen, "ann", chat.MessagePosted{Text: "1"})
	root, _ := s.Post(gen, "ann", chat.MessagePosted{Text: "2"})
	_, r := s.Post(gen, "ann", chat.MessagePosted{Text: "r", Thread: root})
	Apply(t, st, byStream(s.Take()))
	for _, c := range []struct {
		seq uint64
		top uint32
	}{{0, 0}, {s1, 1}, {r, 2}, {r + 10, 2}} {
		mk, err := st.MarkerAt(ctx, gen, c.seq)
		if err != nil || mk.Top != c.top || mk.Seq != c.seq {
			t.Fatalf("MarkerAt(%d) = %+v %v, want top %d", c.seq, mk, err, c.top)
		}
	}
}

func search(t *testing.T, st chat.Store, r chat.SearchRequest) []string {
	t.Helper()
	if r.Limit == 0 {
		r.Limit = 20
	}
	res, err := st.Search(context.Background(), r)
	if err != nil {
		t.Fatalf("search %+v: %v", r, err)
	}
	var out []string
	for _, h := range res.Hits {
		out = append(out, h.Message.Text)
	}
	return out
}

func testSearch(t *testing.T, st chat.Store) {
	s := NewScript(t)
	gen := s.Workspace("w1", "ann", "bob")
	s.Channel("w1", "c_secret", "secret", chat.Private, "ann", chat.ChannelMember{User: "ann"})
	s.Post(gen, "ann", chat.MessagePosted{Text: "deploying the release today"})
	s.Post(gen, "bob", chat.MessagePosted{Text: "the release notes are ready"})
	s.Post(gen, "bob", chat.MessagePosted{Text: "release release release party"})
	s.Post("c_secret", "ann", chat.MessagePosted{Text: "secret release plan"})
	id, _ := s.Post(gen, "ann", chat.MessagePosted{Text: "old wording about kittens"})
	s.Do(gen.Stream(), chat.CmdEdit, "ann", chat.EditMessage{MessageEdited: chat.MessageEdited{ID: id, Text: "new wording about puppies"}})
	gone, _ := s.Post(gen, "bob", chat.MessagePosted{Text: "release the hounds"})
	s.Do(gen.Stream(), chat.CmdDelete, "bob", chat.MessageRef{ID: gone})
	Apply(t, st, byStream(s.Take()))

	pub := []chat.ChannelID{gen}
	got := search(t, st, chat.SearchRequest{Channels: pub, Terms: []string{"release"}})
	if len(got) != 3 || got[0] != "release release release party" {
		t.Fatalf("release in general: %q", got)
	}
	for _, g := range got {
		if strings.Contains(g, "secret") || strings.Contains(g, "hounds") {
			t.Fatalf("private or deleted message found: %q", got)
		}
	}
	if got := search(t, st, chat.SearchRequest{Channels: []chat.ChannelID{gen, "c_secret"}, Terms: []string{"release"}}); len(got) != 4 {
		t.Fatalf("with the private channel in scope: %q", got)
	}
	// Stemming: "deploy" finds "deploying".
	if got := search(t, st, chat.SearchRequest{Channels: pub, Terms: []string{"deploy"}}); len(got) != 1 {
		t.Fatalf("stemmed: %q", got)
	}
	if got := search(t, st, chat.SearchRequest{Channels: pub, Phrases: [][]string{{"release", "notes"}}}); len(got) != 1 {
		t.Fatalf("phrase: %q", got)
	}
	if got := search(t, st, chat.SearchRequest{Channels: pub, Phrases: [][]string{{"notes", "release"}}}); len(got) != 0 {
		t.Fatalf("phrase out of order: %q", got)
	}
	if got := search(t, st, chat.SearchRequest{Channels: pub, Terms: []string{"kittens"}}); len(got) != 0 {
		t.Fatalf("edited-away word: %q", got)
	}
	if got := search(t, st, chat.SearchRequest{Channels: pub, Terms: []string{"puppies"}}); len(got) != 1 {
		t.Fatalf("edited-in word: %q", got)
	}
	res, err := st.Search(context.Background(), chat.SearchRequest{Channels: pub, Terms: []string{"notes"}, Limit: 5})
	if err != nil || len(res.Hits) != 1 || !strings.Contains(res.Hits[0].Snippet, chat.HighlightStart+"notes"+chat.HighlightEnd) {
		t.Fatalf("snippet %+v %v", res, err)
	}
	// Paging.
	res, _ = st.Search(context.Background(), chat.SearchRequest{Channels: pub, Terms: []string{"release"}, Limit: 2})
	next, _ := st.Search(context.Background(), chat.SearchRequest{Channels: pub, Terms: []string{"release"}, Limit: 2, Offset: 2})
	if len(res.Hits) != 2 || !res.HasMore || len(next.Hits) != 1 || next.HasMore || next.Hits[0].Message.ID == res.Hits[1].Message.ID {
		t.Fatalf("pages %+v / %+v", res, next)
	}
}

func testSearchFilters(t *testing.T, st chat.Store) {
	s := NewScript(t)
	gen := s.Workspace("w1", "ann", "bob")
	s.Channel("w1", "c_ops", "ops", chat.Public, "ann", chat.ChannelMember{User: "ann"}, chat.ChannelMember{User: "bob"})
	s.Post(gen, "ann", chat.MessagePosted{Text: "backup done"})
	t1 := s.Now
	s.Now = s.Now.Add(24 * time.Hour)
	s.Post(gen, "bob", chat.MessagePosted{Text: "backup failed"})
	s.Post("c_ops", "bob", chat.MessagePosted{Text: "backup retried"})
	Apply(t, st, byStream(s.Take()))
	both := []chat.ChannelID{gen, "c_ops"}
	if got := search(t, st, chat.SearchRequest{Channels: both, Terms: []string{"backup"}, Author: "bob"}); len(got) != 2 {
		t.Fatalf("from bob: %q", got)
	}
	if got := search(t, st, chat.SearchRequest{Channels: []chat.ChannelID{"c_ops"}, Terms: []string{"backup"}}); len(got) != 1 {
		t.Fatalf("in ops: %q", got)
	}
	if got := search(t, st, chat.SearchRequest{Channels: both, Terms: []string{"backup"}, Before: t1.Add(time.Second)}); len(got) != 1 || got[0] != "backup done" {
		t.Fatalf("before: %q", got)
	}
	if got := search(t, st, chat.SearchRequest{Channels: both, Terms: []string{"backup"}, After: t1.Add(time.Second)}); len(got) != 2 {
		t.Fatalf("after: %q", got)
	}
	// Filters alone list newest first.
	if got := search(t, st, chat.SearchRequest{Channels: both, Author: "bob"}); len(got) != 2 || got[0] != "backup retried" {
		t.Fatalf("from only: %q", got)
	}
}

// testRebuild projects a mixed history live (in many small batches
// interleaving streams), then resets and projects it again stream by
// stream, and requires identical dumps.
func testRebuild(t *testing.T, st chat.Store) {
	ctx := ctxOf(t)
	s := NewScript(t)
	gen := s.Workspace("w1", "ann", "bob", "cat")
	Apply(t, st, byStream(s.Take()))
	s.Channel("w1", "c_p", "p", chat.Private, "ann", chat.ChannelMember{User: "ann"}, chat.ChannelMember{User: "bob"})
	Apply(t, st, s.Take())
	for i := 0; i < 20; i++ {
		ch := gen
		if i%3 == 0 {
			ch = "c_p"
		}
		id, _ := s.Post(ch, "ann", chat.MessagePosted{Text: fmt.Sprintf("hello @bob number %d", i), Mentions: []core.UserID{"bob"}})
		if i%4 == 0 {
			s.Post(ch, "bob", chat.MessagePosted{Text: "reply", Thread: id})
			s.Do(ch.Stream(), chat.CmdReact, "bob", chat.MessageRef{ID: id, Emoji: "eyes"})
		}
		if i%5 == 0 {
			s.Do(ch.Stream(), chat.CmdEdit, "ann", chat.EditMessage{MessageEdited: chat.MessageEdited{ID: id, Text: "edited"}})
			s.Do(ch.Stream(), chat.CmdPin, "ann", chat.MessageRef{ID: id})
		}
		if i%7 == 0 {
			s.Do(ch.Stream(), chat.CmdDelete, "ann", chat.MessageRef{ID: id})
		}
		s.Do(chat.InboxStream("bob"), chat.CmdMarkRead, "bob", chat.MarkRead{Channel: ch, Marker: chat.Marker{Seq: uint64(i + 1), Top: uint32(i)}})
		Apply(t, st, byStream(s.Take()))
	}
	s.Do("workspace:w1", chat.CmdWorkspaceRename, "ann", chat.CreateWorkspace{Name: "Renamed"})
	s.Do(gen.Stream(), chat.CmdChannelUpdate, "ann", chat.UpdateChannel{Topic: ptr("topic")})
	s.Do(gen.Stream(), chat.CmdChannelArchive, "ann", chat.As{})
	Apply(t, st, byStream(s.Take()))
	live, err := st.Dump(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(live["messages"]) == 0 || len(live["search"]) == 0 {
		t.Fatalf("dump is empty: %v", live)
	}
	// Rebuild from "the log": every stream's events, stream by stream.
	if err := st.Reset(ctx); err != nil {
		t.Fatal(err)
	}
	empty, _ := st.Dump(ctx)
	for name, rows := range empty {
		if len(rows) != 0 {
			t.Fatalf("after Reset %s has %d rows", name, len(rows))
		}
	}
	Apply(t, st, byStream(s.All()))
	rebuilt, err := st.Dump(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for name := range live {
		if !reflect.DeepEqual(live[name], rebuilt[name]) {
			t.Fatalf("%s differs after rebuild:\nlive    %q\nrebuilt %q", name, live[name], rebuilt[name])
		}
	}
}

func ptr[T any](v T) *T { return &v }

func testUploads(t *testing.T, st chat.Store) {
	ctx := ctxOf(t)
	u := chat.Upload{ID: "f_1", Workspace: "w1", Channel: "c1", User: "ann", Name: "a.txt", Size: 5, ContentType: "text/plain; charset=utf-8", SHA256: "ab", CreatedAt: time.Unix(100, 0).UTC()}
	if err := st.CreateUpload(ctx, u); err != nil {
		t.Fatal(err)
	}
	if err := st.CreateUpload(ctx, u); !errs.Is(err, errs.AlreadyExists) {
		t.Fatalf("twice: %v", err)
	}
	got, err := st.Upload(ctx, "f_1")
	if err != nil || got != u {
		t.Fatalf("got %+v %v", got, err)
	}
	if _, err := st.Upload(ctx, "f_2"); !errs.Is(err, errs.NotFound) {
		t.Fatalf("missing: %v", err)
	}
}

func testBotTokens(t *testing.T, st chat.Store) {
	ctx := ctxOf(t)
	at := time.Unix(100, 0).UTC()
	for _, id := range []string{"t1", "t2"} {
		if err := st.PutBotToken(ctx, chat.BotToken{ID: id, Bot: "b_1", Workspace: "w1", Hash: []byte("hash-" + id), CreatedBy: "ann", CreatedAt: at}); err != nil {
			t.Fatal(err)
		}
	}
	tok, err := st.BotToken(ctx, "t1")
	if err != nil || tok.Bot != "b_1" || !bytes.Equal(tok.Hash, []byte("hash-t1")) || !tok.RevokedAt.IsZero() {
		t.Fatalf("token %+v %v", tok, err)
	}
	ids, err := st.RevokeBotTokens(ctx, "b_1", at.Add(time.Hour))
	if err != nil || len(ids) != 2 {
		t.Fatalf("revoked %v %v", ids, err)
	}
	if ids, _ := st.RevokeBotTokens(ctx, "b_1", at.Add(2*time.Hour)); len(ids) != 0 {
		t.Fatalf("revoked twice: %v", ids)
	}
	tok, _ = st.BotToken(ctx, "t2")
	if !tok.RevokedAt.Equal(at.Add(time.Hour)) {
		t.Fatalf("revoked at %v", tok.RevokedAt)
	}
	if _, err := st.BotToken(ctx, "t9"); !errs.Is(err, errs.NotFound) {
		t.Fatalf("missing: %v", err)
	}
}

func testWebhooks(t *testing.T, st chat.Store) {
	ctx := ctxOf(t)
	at := time.Unix(100, 0).UTC()
	in := chat.Webhook{ID: "h1", Workspace: "w1", Name: "ci", Channel: "c1", Bot: "b_1", Hash: []byte{1, 2}, CreatedBy: "ann", CreatedAt: at}
	out := chat.Webhook{ID: "h2", Workspace: "w1", Outgoing: true, Name: "audit", URL: "https://example.com/hook", Secret: "s3cret",
		Events: []string{"message.posted"}, Channels: []chat.ChannelID{"c1"}, CreatedBy: "ann", CreatedAt: at}
	other := chat.Webhook{ID: "h3", Workspace: "w2", Name: "x", CreatedBy: "ann", CreatedAt: at}
	for _, h := range []chat.Webhook{in, out, other} {
		if err := st.PutWebhook(ctx, h); err != nil {
			t.Fatal(err)
		}
	}
	hs, err := st.Webhooks(ctx, "w1")
	in.Events, in.Channels = []string{}, []chat.ChannelID{}
	if err != nil || len(hs) != 2 || !reflect.DeepEqual(hs[0], in) || !reflect.DeepEqual(hs[1], out) {
		t.Fatalf("webhooks %+v %v", hs, err)
	}
	if all, _ := st.Webhooks(ctx, ""); len(all) != 3 {
		t.Fatalf("all webhooks: %d", len(all))
	}
	if err := st.DeleteWebhook(ctx, "w2", "h1"); !errs.Is(err, errs.NotFound) {
		t.Fatalf("delete in another workspace: %v", err)
	}
	if err := st.DeleteWebhook(ctx, "w1", "h1"); err != nil {
		t.Fatal(err)
	}
	if hs, _ := st.Webhooks(ctx, "w1"); len(hs) != 1 {
		t.Fatalf("after delete: %+v", hs)
	}
}

// RunShared runs the tests of several projectors sharing one database, as
// several nodes share one PostgreSQL: open returns two stores over the
// same new, empty database.
func RunShared(t *testing.T, open func(t *testing.T) (chat.Store, chat.Store)) {
	t.Run("ConcurrentProjectorsApplyEachEventOnce", func(t *testing.T) {
		a, b := open(t)
		s := NewScript(t)
		gen := s.Workspace("w1", "ann", "bob")
		for i := 0; i < 60; i++ {
			id, _ := s.Post(gen, "ann", chat.MessagePosted{Text: fmt.Sprintf("hello @bob %d", i), Mentions: []core.UserID{"bob"}})
			s.Do(gen.Stream(), chat.CmdReact, "bob", chat.MessageRef{ID: id, Emoji: "ok"})
			if i%10 == 0 {
				s.Post(gen, "bob", chat.MessagePosted{Text: "reply", Thread: id})
			}
		}
		evs := byStream(s.All())
		// Both projectors get every event, in overlapping batches.
		errc := make(chan error, 2)
		for _, st := range []chat.Store{a, b} {
			go func(st chat.Store) {
				for i := 0; i < len(evs); i += 7 {
					end := min(len(evs), i+13)
					res, err := st.ApplyBatch(context.Background(), evs[i:end])
					if err != nil {
						errc <- err
						return
					}
					for _, r := range res {
						if r.Gap {
							// The other projector is behind: its own batches fill the gap later.
							_, err := st.ApplyBatch(context.Background(), evs[:end])
							if err != nil {
								errc <- err
								return
							}
						}
					}
				}
				errc <- nil
			}(st)
		}
		for i := 0; i < 2; i++ {
			if err := <-errc; err != nil {
				t.Fatal(err)
			}
		}
		shared, err := a.Dump(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if err := a.Reset(context.Background()); err != nil {
			t.Fatal(err)
		}
		Apply(t, a, evs)
		single, _ := a.Dump(context.Background())
		for name := range single {
			if !reflect.DeepEqual(shared[name], single[name]) {
				t.Fatalf("%s differs between two concurrent projectors and one:\nshared %q\nsingle %q", name, shared[name], single[name])
			}
		}
		if m, _ := a.Message(context.Background(), gen, "m1"); m.Replies != 1 || len(m.Reactions) != 1 || m.Reactions[0].Count != 1 {
			t.Fatalf("m1 %+v", m)
		}
	})
}

// testSearchWindow runs searches whose matches exceed a tiny rank window,
// with a scope that leaves the window short of a page: the window widens
// until the page fills, and paging visits every hit once.
func testSearchWindow(t *testing.T, st chat.Store) {
	w, ok := st.(interface{ SetRankWindow(int) })
	if !ok {
		t.Fatalf("%T has no SetRankWindow", st)
	}
	w.SetRankWindow(3)
	s := NewScript(t)
	gen := s.Workspace("w1", "ann")
	s.Channel("w1", "c_other", "other", chat.Public, "ann", chat.ChannelMember{User: "ann"})
	for i := 0; i < 40; i++ {
		ch := gen
		if i%4 != 0 {
			ch = "c_other" // most recent matches are out of the scope below
		}
		s.Post(ch, "ann", chat.MessagePosted{Text: "common word"})
	}
	Apply(t, st, byStream(s.All()))
	seen := map[chat.MessageID]bool{}
	for off := 0; ; off += 4 {
		res, err := st.Search(context.Background(), chat.SearchRequest{Channels: []chat.ChannelID{gen}, Terms: []string{"common"}, Limit: 4, Offset: off})
		if err != nil {
			t.Fatal(err)
		}
		for _, h := range res.Hits {
			if seen[h.Message.ID] || h.Message.Channel != gen {
				t.Fatalf("hit %+v twice or out of scope", h.Message)
			}
			seen[h.Message.ID] = true
		}
		if !res.HasMore {
			break
		}
	}
	if len(seen) != 10 {
		t.Fatalf("found %d of 10", len(seen))
	}
}
