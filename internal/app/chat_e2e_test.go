package app_test

import (
	"strings"
	"sync"

	"github.com/parleyhq/parley/client"
	"testing"
	"time"

	"github.com/parleyhq/parley/internal/app/apptest"
)

// TestChatBasics walks the first minutes of a team: create a workspace,
// invite by code, post in #general, see it live and in history.
func TestChatBasics(t *testing.T) {
	n := apptest.Start(t, apptest.WithConfig(chatConfig))
	ann := newPerson(t, n, "Ann")
	bob := newPerson(t, n, "Bob")
	ws := createWorkspace(t, ann, "Acme")
	join(t, ann, ws, bob)
	if _, err := bob.c.Subscribe(ctx(t), "channel:"+ws.General, nil); err != nil {
		t.Fatal(err)
	}
	res := ann.post(t, ws.General, "hello @"+bob.Handle)
	if res.ID != "m1" || res.Seq == 0 {
		t.Fatalf("post: %+v", res)
	}
	apptest.Wait(t, 5*time.Second, "the post live", func() bool { return len(bob.ev.Of("channel:"+ws.General, "message.posted")) == 1 })
	ev := bob.ev.Of("channel:"+ws.General, "message.posted")[0]
	if !strings.Contains(string(ev.Data), `"users":{"`+ann.ID) && !strings.Contains(string(ev.Data), bob.Handle) {
		t.Fatalf("the event carries no profile of the mentioned user: %s", ev.Data)
	}
	h := bob.history(t, ws.General, "")
	if texts(h) != "hello @"+bob.Handle {
		t.Fatalf("history %q", texts(h))
	}
	apptest.Wait(t, 5*time.Second, "a mention push", func() bool { return len(pushesOf(bob.ev, "chat.mention")) == 1 })
	apptest.Wait(t, 5*time.Second, "counts", func() bool {
		c, ok := lastCounts(bob.ev, ws.General)
		return ok && c.Unread == 1 && c.Mentions == 1
	})
}

// TestChatPermissionMatrix: a non-member cannot read, post, subscribe,
// search or download in a private channel; a guest sees only its channels;
// a member removed from a private channel stops receiving it at once.
func TestChatPermissionMatrix(t *testing.T) {
	n := apptest.Start(t, apptest.WithConfig(chatConfig))
	ann, bob, eve, gus := newPerson(t, n, "Ann"), newPerson(t, n, "Bob"), newPerson(t, n, "Eve"), newPerson(t, n, "Gus")
	ws := createWorkspace(t, ann, "Acme")
	join(t, ann, ws, bob, eve)
	secret := createChannel(t, ann, ws, "secret", true, bob)
	public := createChannel(t, ann, ws, "random", false)
	code := invite(t, ann, ws, map[string]any{"role": "guest", "channels": []string{secret}})
	gus.req(t, "chat.workspace.join", map[string]any{"code": code}, nil)
	msg := ann.post(t, secret, "the launch date is friday")
	ann.post(t, public, "public launch notes")
	fileID, code := ann.upload(t, secret, "plan.txt", []byte("launch plan"))
	if code != "" {
		t.Fatalf("upload: %s", code)
	}

	// Eve, a member of the workspace but not of #secret.
	path := "/v1/chat/channels/" + secret
	for _, p := range []string{path, path + "/messages", path + "/messages/" + msg.ID, path + "/pins", path + "/members", path + "/threads/" + msg.ID} {
		if code := eve.get(t, p, nil); code != "not_found" {
			t.Fatalf("eve GET %s: %q", p, code)
		}
	}
	if code := eve.try("chat.post", map[string]any{"channel": secret, "text": "hi"}, nil); code != "not_found" {
		t.Fatalf("eve posts: %q", code)
	}
	if code := eve.try("chat.history", map[string]any{"channel": secret}, nil); code != "not_found" {
		t.Fatalf("eve chat.history: %q", code)
	}
	if _, err := eve.c.Subscribe(ctx(t), "channel:"+secret, nil); codeOf(err) != "not_found" {
		t.Fatalf("eve subscribes: %v", err)
	}
	if _, _, code := eve.download(t, fileID); code != "not_found" {
		t.Fatalf("eve downloads: %q", code)
	}
	var found struct {
		Hits []struct {
			Message struct {
				Text string `json:"text"`
			} `json:"message"`
		} `json:"hits"`
	}
	eve.req(t, "chat.search", map[string]any{"workspace": ws.ID, "query": "launch"}, &found)
	if len(found.Hits) != 1 || found.Hits[0].Message.Text != "public launch notes" {
		t.Fatalf("eve's search: %+v", found.Hits)
	}
	if code := eve.try("chat.search", map[string]any{"workspace": ws.ID, "query": "launch in:secret"}, &found); code != "" || len(found.Hits) != 0 {
		t.Fatalf("eve's search in:secret: %q %+v", code, found.Hits)
	}
	// A stranger sees nothing of the workspace.
	stranger := newPerson(t, n, "Stranger")
	if code := stranger.get(t, "/v1/chat/channels/"+public+"/messages", nil); code != "forbidden" {
		t.Fatalf("stranger reads a public channel: %q", code)
	}
	if _, err := stranger.c.Subscribe(ctx(t), "workspace:"+ws.ID, nil); codeOf(err) != "not_found" {
		t.Fatalf("stranger subscribes to the workspace: %v", err)
	}
	if code := stranger.try("presence.get", map[string]any{"users": []string{ann.ID}}, nil); code != "forbidden" {
		t.Fatalf("stranger sees ann's presence: %q", code)
	}

	// Gus, a guest added to #secret only.
	if code := gus.get(t, "/v1/chat/channels/"+public+"/messages", nil); code != "forbidden" {
		t.Fatalf("guest reads a public channel: %q", code)
	}
	if code := gus.get(t, "/v1/chat/channels/"+ws.General+"/messages", nil); code != "forbidden" {
		t.Fatalf("guest reads #general: %q", code)
	}
	if code := gus.get(t, "/v1/chat/workspaces/"+ws.ID+"/members", nil); code != "forbidden" {
		t.Fatalf("guest lists members: %q", code)
	}
	if _, err := gus.c.Subscribe(ctx(t), "workspace:"+ws.ID, nil); codeOf(err) != "forbidden" {
		t.Fatalf("guest subscribes to the workspace: %v", err)
	}
	if code := gus.try("chat.channel.join", map[string]any{"channel": public}, nil); code != "forbidden" {
		t.Fatalf("guest joins a public channel: %q", code)
	}
	if h := gus.history(t, secret, ""); texts(h) != "the launch date is friday" {
		t.Fatalf("guest's channel: %q", texts(h))
	}
	gus.req(t, "chat.search", map[string]any{"workspace": ws.ID, "query": "launch"}, &found)
	if len(found.Hits) != 1 || found.Hits[0].Message.Text != "the launch date is friday" {
		t.Fatalf("guest's search: %+v", found.Hits)
	}
	var boot struct {
		Channels []struct {
			ID string `json:"id"`
		} `json:"channels"`
	}
	gus.req(t, "chat.boot", map[string]any{}, &boot)
	if len(boot.Channels) != 1 || boot.Channels[0].ID != secret {
		t.Fatalf("guest's boot: %+v", boot.Channels)
	}
	if body, hdr, code := gus.download(t, fileID); code != "" || string(body) != "launch plan" || hdr.Get("X-Content-Type-Options") != "nosniff" {
		t.Fatalf("guest downloads: %q %q %v", code, body, hdr)
	}

	// Bob is removed from #secret while subscribed: he gets the removal,
	// an unsubscribed frame, and nothing after.
	var unsubMu sync.Mutex
	var bobUnsub []string
	unsubs := func() []string {
		unsubMu.Lock()
		defer unsubMu.Unlock()
		return append([]string(nil), bobUnsub...)
	}
	var gone apptest.Events
	opts := gone.Options()
	opts.OnUnsubscribed = func(stream string, err error) {
		unsubMu.Lock()
		bobUnsub = append(bobUnsub, stream+" "+codeOf(err))
		unsubMu.Unlock()
	}
	bc := n.Dial(t, bob.User, opts)
	if _, err := bc.Subscribe(ctx(t), "channel:"+secret, nil); err != nil {
		t.Fatal(err)
	}
	ann.req(t, "chat.channel.remove", map[string]any{"channel": secret, "user": bob.ID}, nil)
	ann.post(t, secret, "bob is gone")
	apptest.Wait(t, 5*time.Second, "bob unsubscribed", func() bool { return len(unsubs()) == 1 })
	if u := unsubs(); u[0] != "channel:"+secret+" forbidden" {
		t.Fatalf("unsubscribed %v", u)
	}
	for _, e := range gone.Of("channel:" + secret) {
		if e.Type == "message.posted" {
			t.Fatalf("bob got a message after his removal: %s", e.Data)
		}
	}
	if code := bob.get(t, path+"/messages", nil); code != "not_found" {
		t.Fatalf("removed bob reads: %q", code)
	}
	if _, _, code := bob.download(t, fileID); code != "not_found" {
		t.Fatalf("removed bob downloads: %q", code)
	}
	// Resuming from before the removal stops at it too.
	after := uint64(0)
	var again apptest.Events
	rc := n.Dial(t, bob.User, again.Options())
	if _, err := rc.Subscribe(ctx(t), "channel:"+secret, &after); codeOf(err) != "not_found" {
		t.Fatalf("resubscribe after removal: %v", err)
	}
}

// TestChatCountsAgreeAcrossDevices: two devices of one user see the same
// unread and mention counts, live, through posts, mentions, mark read and
// mark unread on either device.
func TestChatCountsAgreeAcrossDevices(t *testing.T) {
	n := apptest.Start(t, apptest.WithConfig(chatConfig))
	ann, bob := newPerson(t, n, "Ann"), newPerson(t, n, "Bob")
	ws := createWorkspace(t, ann, "Acme")
	join(t, ann, ws, bob)
	phoneEv, phone := bob.device(t)
	laptopEv, laptop := bob.ev, bob.c
	// Both devices follow Bob's inbox (read markers).
	for _, c := range []*client.Client{phone, laptop} {
		if _, err := c.Subscribe(ctx(t), "inbox:"+bob.ID, nil); err != nil {
			t.Fatal(err)
		}
	}
	agree := func(what string, unread, mentions int) {
		t.Helper()
		apptest.Wait(t, 5*time.Second, what, func() bool {
			a, okA := lastCounts(phoneEv, ws.General)
			b, okB := lastCounts(laptopEv, ws.General)
			return okA && okB && a == b && a.Unread == unread && a.Mentions == mentions
		})
	}
	var posts []postResult
	for i := 0; i < 5; i++ {
		posts = append(posts, ann.post(t, ws.General, "update "+string(rune('a'+i))))
	}
	agree("5 unread on both devices", 5, 0)
	ann.post(t, ws.General, "@"+bob.Handle+" please look")
	ann.post(t, ws.General, "@channel standup in 5")
	agree("7 unread, 2 mentions", 7, 2)
	// Reading on the phone clears the laptop too.
	var counts countsPush
	apptest.Request(t, phone, "chat.mark_read", map[string]any{"channel": ws.General}, &counts)
	if counts.Unread != 0 || counts.Mentions != 0 {
		t.Fatalf("mark_read answered %+v", counts)
	}
	agree("all read on both", 0, 0)
	apptest.Wait(t, 5*time.Second, "the marker event on the laptop", func() bool { return len(laptopEv.Of("inbox:"+bob.ID, "read.marked")) == 1 })
	// Marking unread from the third message on the laptop.
	apptest.Request(t, laptop, "chat.mark_unread", map[string]any{"channel": ws.General, "id": posts[2].ID}, &counts)
	if counts.Unread != 5 || counts.Mentions != 2 {
		t.Fatalf("mark_unread answered %+v", counts)
	}
	agree("5 unread again", 5, 2)
	// Bob posting reads the channel up to his own message, everywhere.
	bob.post(t, ws.General, "on it")
	agree("own post reads the channel", 0, 0)
	// The boot of a third device agrees.
	var boot struct {
		Channels []struct {
			ID     string `json:"id"`
			Unread int    `json:"unread"`
		} `json:"channels"`
	}
	apptest.Request(t, phone, "chat.boot", map[string]any{"workspace": ws.ID}, &boot)
	if len(boot.Channels) != 1 || boot.Channels[0].Unread != 0 {
		t.Fatalf("boot %+v", boot)
	}
}

// TestChatChangesPropagateLiveAndSurviveResume: edits, deletions, thread
// replies, reactions (idempotent) and pins reach a subscriber live, and a
// subscriber that was away gets exactly the ones it missed on resume; the
// read models agree.
func TestChatChangesPropagateLiveAndSurviveResume(t *testing.T) {
	n := apptest.Start(t, apptest.WithConfig(chatConfig))
	ann, bob := newPerson(t, n, "Ann"), newPerson(t, n, "Bob")
	ws := createWorkspace(t, ann, "Acme")
	join(t, ann, ws, bob)
	stream := "channel:" + ws.General
	if _, err := bob.c.Subscribe(ctx(t), stream, nil); err != nil {
		t.Fatal(err)
	}
	root := ann.post(t, ws.General, "release at noon")
	ann.req(t, "chat.edit", map[string]any{"channel": ws.General, "id": root.ID, "text": "release at 2pm"}, nil)
	for i := 0; i < 3; i++ { // reacting three times is one reaction
		bob.req(t, "chat.react", map[string]any{"channel": ws.General, "id": root.ID, "emoji": ":+1:"}, nil)
	}
	bob.post(t, ws.General, "ok!", "thread", root.ID)
	ann.req(t, "chat.pin", map[string]any{"channel": ws.General, "id": root.ID}, nil)
	oops := ann.post(t, ws.General, "wrong channel, sorry")
	ann.req(t, "chat.delete", map[string]any{"channel": ws.General, "id": oops.ID}, nil)
	live := []string{"message.posted", "message.edited", "reaction.added", "message.posted", "message.pinned", "message.posted", "message.deleted"}
	apptest.Wait(t, 5*time.Second, "live changes", func() bool { return len(bob.ev.Of(stream)) >= len(live) })
	var got []string
	for _, e := range bob.ev.Of(stream) {
		got = append(got, e.Type)
	}
	if strings.Join(got, ",") != strings.Join(live, ",") {
		t.Fatalf("live events %v", got)
	}
	apptest.Wait(t, 5*time.Second, "a thread reply push for ann", func() bool { return len(pushesOf(ann.ev, "chat.thread_reply")) == 1 })

	// Bob's connection drops; more changes happen; he resumes.
	pos := bob.c.Position(stream)
	bob.c.Drop()
	ann.req(t, "chat.unpin", map[string]any{"channel": ws.General, "id": root.ID}, nil)
	ann.req(t, "chat.react", map[string]any{"channel": ws.General, "id": root.ID, "emoji": "tada"}, nil)
	ann.req(t, "chat.unreact", map[string]any{"channel": ws.General, "id": root.ID, "emoji": "tada"}, nil)
	ann.req(t, "chat.edit", map[string]any{"channel": ws.General, "id": root.ID, "text": "release at 3pm"}, nil)
	ann.post(t, ws.General, "second reply", "thread", root.ID)
	if err := bob.c.WaitConnected(ctx(t)); err != nil {
		t.Fatal(err)
	}
	apptest.Wait(t, 5*time.Second, "resumed changes", func() bool { return len(bob.ev.Of(stream)) == len(live)+5 })
	evs := bob.ev.Of(stream)
	for i, e := range evs {
		if e.Seq != evs[0].Seq+uint64(i) {
			t.Fatalf("event %d has seq %d: a gap or a duplicate", i, e.Seq)
		}
	}
	if evs[len(live)].Seq != pos+1 {
		t.Fatalf("resume started at %d, want %d", evs[len(live)].Seq, pos+1)
	}
	// The read models tell the same story.
	var m message
	if code := bob.get(t, "/v1/chat/channels/"+ws.General+"/messages/"+root.ID, &m); code != "" {
		t.Fatal(code)
	}
	if m.Text != "release at 3pm" || m.Pinned || m.Replies != 2 || len(m.Reactions) != 1 || m.Reactions[0].Emoji != "+1" || m.Reactions[0].Count != 1 {
		t.Fatalf("message %+v", m)
	}
	var edits struct {
		Edits []struct {
			Text string `json:"text"`
		} `json:"edits"`
	}
	bob.get(t, "/v1/chat/channels/"+ws.General+"/messages/"+root.ID+"/edits", &edits)
	if len(edits.Edits) != 2 || edits.Edits[0].Text != "release at noon" {
		t.Fatalf("edits %+v", edits)
	}
	var th history
	bob.get(t, "/v1/chat/channels/"+ws.General+"/threads/"+root.ID, &th)
	if texts(th) != "release at 3pm|ok!|second reply" {
		t.Fatalf("thread %q", texts(th))
	}
	h := bob.history(t, ws.General, "")
	if len(h.Messages) != 2 || !h.Messages[1].Deleted || h.Messages[1].Text != "" {
		t.Fatalf("timeline %+v", h.Messages)
	}
	var pins struct {
		Pins []message `json:"pins"`
	}
	bob.get(t, "/v1/chat/channels/"+ws.General+"/pins", &pins)
	if len(pins.Pins) != 0 {
		t.Fatalf("pins %+v", pins)
	}
}
