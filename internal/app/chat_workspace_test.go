package app_test

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/parleyhq/parley/internal/app/apptest"
	"github.com/parleyhq/parley/internal/config"
	"github.com/parleyhq/parley/internal/core"
)

// TestChatWorkspaceLifecycle: invites by code and by e-mail, roles, DMs
// and group DMs, channel settings, archive, leaving, removal, and a
// profile change reaching member lists and autocomplete.
func TestChatWorkspaceLifecycle(t *testing.T) {
	n := apptest.Start(t, apptest.WithConfig(chatConfig))
	ann, bob, cat, dan := newPerson(t, n, "Ann"), newPerson(t, n, "Bob"), newPerson(t, n, "Cat"), newPerson(t, n, "Dan")
	ws := createWorkspace(t, ann, "Acme")
	if _, err := ann.c.Subscribe(ctx(t), "workspace:"+ws.ID, nil); err != nil {
		t.Fatal(err)
	}
	// By e-mail: the code is sent, and works only for that address.
	code := invite(t, ann, ws, map[string]any{"email": cat.Email, "role": "admin"})
	var sent bool
	for _, m := range n.Sender.Messages() {
		if m.To == cat.Email && strings.Contains(m.Body, code) {
			sent = true
		}
	}
	if !sent {
		t.Fatal("no invitation e-mail")
	}
	if c := bob.try("chat.workspace.join", map[string]any{"code": code}, nil); c != "forbidden" {
		t.Fatalf("someone else's e-mail invite: %q", c)
	}
	var joined struct {
		Role string `json:"role"`
	}
	cat.req(t, "chat.workspace.join", map[string]any{"code": code}, &joined)
	if joined.Role != "admin" {
		t.Fatalf("joined as %q", joined.Role)
	}
	if c := bob.try("chat.workspace.join", map[string]any{"code": "w_x.nope"}, nil); c != "not_found" {
		t.Fatalf("bad code: %q", c)
	}
	join(t, cat, ws, bob, dan)
	if c := bob.try("chat.member.role", map[string]any{"workspace": ws.ID, "user": dan.ID, "role": "admin"}, nil); c != "forbidden" {
		t.Fatalf("a member grants admin: %q", c)
	}
	ann.req(t, "chat.member.role", map[string]any{"workspace": ws.ID, "user": bob.ID, "role": "admin"}, nil)

	// DMs: the same people always get the same conversation.
	var dm1, dm2, group struct {
		ID   string `json:"id"`
		Kind string `json:"kind"`
	}
	ann.req(t, "chat.dm.open", map[string]any{"workspace": ws.ID, "users": []string{bob.ID}}, &dm1)
	bob.req(t, "chat.dm.open", map[string]any{"workspace": ws.ID, "users": []string{ann.ID}}, &dm2)
	ann.req(t, "chat.dm.open", map[string]any{"workspace": ws.ID, "users": []string{bob.ID, cat.ID}}, &group)
	if dm1.ID != dm2.ID || dm1.Kind != "dm" || group.Kind != "group" {
		t.Fatalf("dms %+v %+v %+v", dm1, dm2, group)
	}
	many := []string{}
	for i := 0; i < 8; i++ {
		many = append(many, newPerson(t, n, "Extra").ID)
	}
	if c := ann.try("chat.dm.open", map[string]any{"workspace": ws.ID, "users": many}, nil); c != "limit_exceeded" {
		t.Fatalf("a 9-person group DM: %q", c)
	}
	ann.post(t, dm1.ID, "psst")
	if h := bob.history(t, dm1.ID, ""); texts(h) != "psst" {
		t.Fatalf("dm %q", texts(h))
	}
	if c := dan.get(t, "/v1/chat/channels/"+dm1.ID+"/messages", nil); c != "not_found" {
		t.Fatalf("dan reads ann and bob's DM: %q", c)
	}

	// Channel settings and archive.
	proj := createChannel(t, bob, ws, "proj", false)
	dan.req(t, "chat.channel.join", map[string]any{"channel": proj}, nil)
	dan.req(t, "chat.channel.update", map[string]any{"channel": proj, "topic": "Q3 launch", "purpose": "ship it"}, nil)
	if c := dan.try("chat.channel.rename", map[string]any{"channel": proj, "name": "general"}, nil); c != "already_exists" {
		t.Fatalf("rename onto #general: %q", c)
	}
	dan.req(t, "chat.channel.rename", map[string]any{"channel": proj, "name": "project-x"}, nil)
	var info struct {
		Name  string `json:"name"`
		Topic string `json:"topic"`
	}
	dan.get(t, "/v1/chat/channels/"+proj, &info)
	if info.Name != "project-x" || info.Topic != "Q3 launch" {
		t.Fatalf("channel %+v", info)
	}
	if c := dan.try("chat.channel.archive", map[string]any{"channel": proj}, nil); c != "forbidden" {
		t.Fatalf("a member archives someone's channel: %q", c)
	}
	bob.req(t, "chat.channel.archive", map[string]any{"channel": proj}, nil)
	if c := dan.try("chat.post", map[string]any{"channel": proj, "text": "x"}, nil); c != "closed" {
		t.Fatalf("post in an archived channel: %q", c)
	}
	var dir struct {
		Channels []struct {
			Name     string `json:"name"`
			Archived bool   `json:"archived"`
		} `json:"channels"`
	}
	dan.get(t, "/v1/chat/workspaces/"+ws.ID+"/channels", &dir)
	if len(dir.Channels) != 2 || dir.Channels[1].Name != "project-x" || !dir.Channels[1].Archived {
		t.Fatalf("directory %+v", dir)
	}

	// A profile change reaches the workspace.
	var me map[string]any
	if err := n.API.Do(ctx(t), http.MethodPatch, "/v1/me", dan.token(t), map[string]string{"handle": "daniel", "display_name": "Daniel Q"}, &me); err != nil {
		t.Fatal(err)
	}
	apptest.Wait(t, 5*time.Second, "the new handle in autocomplete", func() bool {
		var s struct {
			Users []struct {
				User string `json:"user"`
			} `json:"users"`
		}
		ann.req(t, "chat.autocomplete", map[string]any{"workspace": ws.ID, "prefix": "dani"}, &s)
		return len(s.Users) == 1 && s.Users[0].User == dan.ID
	})
	var members struct {
		Members []struct {
			User    string `json:"user"`
			Role    string `json:"role"`
			Profile struct {
				Handle string `json:"handle"`
			} `json:"profile"`
		} `json:"members"`
	}
	ann.get(t, "/v1/chat/workspaces/"+ws.ID+"/members?limit=2", &members)
	if len(members.Members) != 2 {
		t.Fatalf("first page %+v", members)
	}
	after := members.Members[1].Profile.Handle
	ann.get(t, "/v1/chat/workspaces/"+ws.ID+"/members?limit=10&after="+after, &members)
	if len(members.Members) != 2 {
		t.Fatalf("second page %+v", members)
	}

	// Dan leaves: out of every channel; removed members lose access.
	dan.req(t, "chat.workspace.leave", map[string]any{"workspace": ws.ID}, nil)
	if c := dan.get(t, "/v1/chat/channels/"+ws.General+"/messages", nil); c != "forbidden" {
		t.Fatalf("dan after leaving: %q", c)
	}
	var gen struct {
		Members []struct {
			User string `json:"user"`
		} `json:"members"`
	}
	ann.get(t, "/v1/chat/channels/"+ws.General+"/members", &gen)
	for _, m := range gen.Members {
		if m.User == dan.ID {
			t.Fatal("dan is still in #general")
		}
	}
	if c := ann.try("chat.member.remove", map[string]any{"workspace": ws.ID, "user": ann.ID}, nil); c != "conflict" {
		t.Fatalf("the last owner removes herself: %q", c)
	}
	ann.req(t, "chat.member.remove", map[string]any{"workspace": ws.ID, "user": bob.ID}, nil)
	if c := bob.get(t, "/v1/chat/channels/"+dm1.ID+"/messages", nil); c != "not_found" {
		t.Fatalf("removed bob reads the DM: %q", c)
	}
	apptest.Wait(t, 5*time.Second, "workspace events", func() bool { return len(ann.ev.Of("workspace:"+ws.ID, "member.removed")) == 1 })
}

// TestChatTypingAndPresence: typing is ephemeral (never logged, rate
// limited, with an expiry for clients); members of a workspace see each
// other's presence.
func TestChatTypingAndPresence(t *testing.T) {
	n := apptest.Start(t, apptest.WithConfig(chatConfig))
	ann, bob := newPerson(t, n, "Ann"), newPerson(t, n, "Bob")
	ws := createWorkspace(t, ann, "Acme")
	join(t, ann, ws, bob)
	if _, err := bob.c.Subscribe(ctx(t), "channel:"+ws.General, nil); err != nil {
		t.Fatal(err)
	}
	var sent struct {
		Sent bool `json:"sent"`
	}
	ann.req(t, "chat.typing", map[string]any{"channel": ws.General}, &sent)
	if !sent.Sent {
		t.Fatal("typing not sent")
	}
	ann.req(t, "chat.typing", map[string]any{"channel": ws.General}, &sent)
	if sent.Sent {
		t.Fatal("a second typing event within the interval was sent")
	}
	apptest.Wait(t, 5*time.Second, "typing", func() bool { return len(bob.ev.Of("channel:"+ws.General, "typing")) == 1 })
	ev := bob.ev.Of("channel:" + ws.General)[0]
	var data struct {
		User      string `json:"user"`
		ExpiresMS int64  `json:"expires_ms"`
	}
	_ = json.Unmarshal(ev.Data, &data)
	if ev.Seq != 0 || data.User != ann.ID || data.ExpiresMS != 5000 {
		t.Fatalf("typing event %+v %s", ev, ev.Data)
	}
	if evs, _ := n.Log().Read(ctx(t), core.StreamID("channel:"+ws.General), 0, 1000); len(evs) == 0 || hasType(evs, "typing") {
		t.Fatal("typing was logged")
	}
	if _, err := bob.c.Subscribe(ctx(t), "presence:"+ann.ID, nil); err != nil {
		t.Fatal(err)
	}
	apptest.Wait(t, 5*time.Second, "ann online", func() bool { return lastPresence(t, bob.ev, "presence:"+ann.ID).Status == "online" })
}

// TestChatLimits: the message length limit, upload size limit and content
// sniffing, all configurable.
func TestChatLimits(t *testing.T) {
	n := apptest.Start(t, apptest.WithConfig(chatConfig), apptest.WithConfig(func(c *config.Config) {
		c.Chat.MaxMessageChars = 10
		c.Chat.MaxUploadBytes = 2048
	}))
	ann := newPerson(t, n, "Ann")
	ws := createWorkspace(t, ann, "Acme")
	if c := ann.try("chat.post", map[string]any{"channel": ws.General, "text": "ééééééééééé"}, nil); c != "limit_exceeded" {
		t.Fatalf("11 characters: %q", c)
	}
	ann.post(t, ws.General, "éééééééééé")
	if _, c := ann.upload(t, ws.General, "big.bin", make([]byte, 2049)); c != "frame_too_large" {
		t.Fatalf("a 2049-byte upload: %q", c)
	}
	png := append([]byte("\x89PNG\r\n\x1a\n"), make([]byte, 100)...)
	id, c := ann.upload(t, ws.General, "pic.png", png)
	if c != "" {
		t.Fatal(c)
	}
	html := []byte("<!DOCTYPE html><script>alert(1)</script>")
	hid, _ := ann.upload(t, ws.General, "page.html", html)
	res := ann.post(t, ws.General, "", "attachments", []string{id})
	var m struct {
		Attachments []struct {
			ContentType string `json:"content_type"`
		} `json:"attachments"`
	}
	ann.get(t, "/v1/chat/channels/"+ws.General+"/messages/"+res.ID, &m)
	if len(m.Attachments) != 1 || m.Attachments[0].ContentType != "image/png" {
		t.Fatalf("attachment %+v", m)
	}
	body, hdr, _ := ann.download(t, id)
	if !bytes.Equal(body, png) || hdr.Get("Content-Type") != "image/png" || !strings.HasPrefix(hdr.Get("Content-Disposition"), "inline") {
		t.Fatalf("png served as %v", hdr)
	}
	_, hdr, _ = ann.download(t, hid)
	if !strings.HasPrefix(hdr.Get("Content-Disposition"), "attachment") || !strings.Contains(hdr.Get("Content-Security-Policy"), "sandbox") {
		t.Fatalf("html served as %v", hdr)
	}
	if c := ann.try("chat.post", map[string]any{"channel": ws.General, "text": "x", "attachments": []string{"f_nope"}}, nil); c != "not_found" {
		t.Fatalf("unknown attachment: %q", c)
	}
}

// TestChatSearchAndMentionsOverHTTP: ranked, highlighted, paged search
// with filters, and the mentions inbox.
func TestChatSearchAndMentionsOverHTTP(t *testing.T) {
	n := apptest.Start(t, apptest.WithConfig(chatConfig))
	ann, bob := newPerson(t, n, "Ann"), newPerson(t, n, "Bob")
	ws := createWorkspace(t, ann, "Acme")
	join(t, ann, ws, bob)
	ops := createChannel(t, ann, ws, "ops", false, bob)
	ann.post(t, ws.General, "the deploy failed")
	bob.post(t, ops, "deploy deploy deploy, finally green")
	ann.post(t, ops, "@"+bob.Handle+" thanks for the deploy")
	var res struct {
		Hits []struct {
			Message struct {
				Channel string `json:"channel"`
				Text    string `json:"text"`
			} `json:"message"`
			Snippet string `json:"snippet"`
		} `json:"hits"`
		HasMore bool `json:"has_more"`
	}
	ann.get(t, "/v1/chat/workspaces/"+ws.ID+"/search?q=deploy&limit=2", &res)
	if len(res.Hits) != 2 || !res.HasMore || !strings.Contains(res.Hits[0].Snippet, "\x02deploy\x03") {
		t.Fatalf("search %+v", res)
	}
	ann.get(t, "/v1/chat/workspaces/"+ws.ID+"/search?q=deploy+in:%23ops+from:@"+bob.Handle, &res)
	if len(res.Hits) != 1 || res.Hits[0].Message.Text != "deploy deploy deploy, finally green" {
		t.Fatalf("filtered %+v", res)
	}
	if c := ann.get(t, "/v1/chat/workspaces/"+ws.ID+"/search?q=before:someday", nil); c != "invalid_argument" {
		t.Fatalf("bad filter: %q", c)
	}
	var inbox struct {
		Mentions []struct {
			Channel string `json:"channel"`
			Text    string `json:"text"`
			By      string `json:"by"`
		} `json:"mentions"`
	}
	bob.get(t, "/v1/chat/mentions", &inbox)
	if len(inbox.Mentions) != 1 || inbox.Mentions[0].By != ann.ID || inbox.Mentions[0].Channel != ops {
		t.Fatalf("inbox %+v", inbox)
	}
}
