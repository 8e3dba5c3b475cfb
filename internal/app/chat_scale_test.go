package app_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/parleyhq/parley/internal/actor"
	"github.com/parleyhq/parley/internal/app"
	"github.com/parleyhq/parley/internal/app/apptest"
	"github.com/parleyhq/parley/internal/chat"
	"github.com/parleyhq/parley/internal/config"
	"github.com/parleyhq/parley/internal/core"
	"github.com/parleyhq/parley/internal/postgres"
	"github.com/parleyhq/parley/internal/sqlite"
	"github.com/parleyhq/parley/internal/testutil/pgtest"
)

// bulkMembers adds count members (without accounts) to ws and #general
// through the workspace and channel writers directly: the fast path for
// big workspaces in tests and benchmarks.
func bulkMembers(t testing.TB, n *apptest.Node, owner string, ws workspace, count int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	var wg sync.WaitGroup
	errc := make(chan error, 64)
	sem := make(chan struct{}, 64)
	for i := 0; i < count; i++ {
		wg.Add(1)
		sem <- struct{}{}
		go func(i int) {
			defer wg.Done()
			defer func() { <-sem }()
			u := core.UserID(fmt.Sprintf("u_bulk%06d", i))
			data, _ := json.Marshal(chat.AddMember{User: u, Role: chat.RoleMember, Profile: chat.Profile{Handle: fmt.Sprintf("bulk%06d", i), DisplayName: fmt.Sprintf("Bulk Person %d", i)}})
			if _, err := n.Actors().Do(ctx, core.StreamID("workspace:"+ws.ID), actor.Command{Name: chat.CmdMemberAdd, Actor: core.UserID(owner), Data: data}); err != nil {
				select {
				case errc <- err:
				default:
				}
			}
		}(i)
	}
	wg.Wait()
	select {
	case err := <-errc:
		t.Fatal(err)
	default:
	}
	for i := 0; i < count; i += 1000 {
		var ms []chat.ChannelMember
		for j := i; j < min(count, i+1000); j++ {
			ms = append(ms, chat.ChannelMember{User: core.UserID(fmt.Sprintf("u_bulk%06d", j))})
		}
		data, _ := json.Marshal(chat.ChannelUsers{As: chat.As{System: true}, Users: ms})
		if _, err := n.Actors().Do(ctx, core.StreamID("channel:"+ws.General), actor.Command{Name: chat.CmdChannelInvite, Actor: core.UserID(owner), Data: data}); err != nil {
			t.Fatal(err)
		}
	}
	if err := n.ChatCaughtUp(ctx); err != nil {
		t.Fatal(err)
	}
}

// TestChatBootSizeDoesNotGrowWithTheWorkspace: the boot payload of a
// member of #general and one DM is the same size, but for the digits of a
// few numbers, in a workspace of 100 members and one of 10,000, and stays
// under 2 KiB: no member list, no history.
func TestChatBootSizeDoesNotGrowWithTheWorkspace(t *testing.T) {
	n := apptest.Start(t, apptest.WithConfig(chatConfig))
	sizes := map[int]int{}
	for _, members := range []int{100, 10000} {
		ann, bob := newPerson(t, n, "Ann"), newPerson(t, n, "Bob")
		ws := createWorkspace(t, ann, "Acme")
		join(t, ann, ws, bob)
		bulkMembers(t, n, ann.ID, ws, members-2)
		ann.post(t, ws.General, "welcome")
		var dm struct {
			ID string `json:"id"`
		}
		ann.req(t, "chat.dm.open", map[string]any{"workspace": ws.ID, "users": []string{bob.ID}}, &dm)
		ann.post(t, dm.ID, "hi bob")
		var raw json.RawMessage
		bob.req(t, "chat.boot", map[string]any{"workspace": ws.ID}, &raw)
		var boot struct {
			Channels []struct {
				Members int `json:"member_count"`
				Unread  int `json:"unread"`
			} `json:"channels"`
			DMs      []struct{ Unread int }    `json:"dms"`
			Presence []struct{ Status string } `json:"presence"`
		}
		if err := json.Unmarshal(raw, &boot); err != nil {
			t.Fatal(err)
		}
		if len(boot.Channels) != 1 || boot.Channels[0].Members != members || boot.Channels[0].Unread != 1 || len(boot.DMs) != 1 || boot.DMs[0].Unread != 1 || len(boot.Presence) != 1 {
			t.Fatalf("boot for %d members: %s", members, raw)
		}
		// HTTP serves the same payload (the presence timestamps aside).
		var viaHTTP json.RawMessage
		if code := bob.get(t, "/v1/chat/boot?workspace="+ws.ID, &viaHTTP); code != "" || !bytes.Equal(viaHTTP[:bytes.Index(viaHTTP, []byte(`"presence"`))], raw[:bytes.Index(raw, []byte(`"presence"`))]) {
			t.Fatalf("HTTP boot: %q\n%s\n%s", code, viaHTTP, raw)
		}
		sizes[members] = len(raw)
	}
	t.Logf("boot payload: %d bytes with 100 members, %d bytes with 10,000", sizes[100], sizes[10000])
	// Only numbers may grow: a member count and sequences of more digits
	// (in JSON and in the cursor), and timestamps of varying precision.
	if d := sizes[10000] - sizes[100]; d < -16 || d > 32 || sizes[10000] > 2048 {
		t.Fatalf("boot payload %d bytes with 100 members, %d with 10,000", sizes[100], sizes[10000])
	}
}

// TestChatOfflineSyncReturnsCountsNotMessages: a client away while 1,000
// messages arrive gets, in one small answer, which channels changed and by
// how many messages and mentions, never the messages.
func TestChatOfflineSyncReturnsCountsNotMessages(t *testing.T) {
	n := apptest.Start(t, apptest.WithConfig(chatConfig))
	ann, bob := newPerson(t, n, "Ann"), newPerson(t, n, "Bob")
	ws := createWorkspace(t, ann, "Acme")
	join(t, ann, ws, bob)
	createChannel(t, ann, ws, "quiet", false, bob) // unchanged while bob is away
	var boot struct {
		Cursor string `json:"cursor"`
	}
	bob.req(t, "chat.boot", map[string]any{}, &boot)
	bob.c.Close() // away
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var wg sync.WaitGroup
	for w := 0; w < 8; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for i := w; i < 1000; i += 8 {
				p := chat.PostMessage{MessagePosted: chat.MessagePosted{Text: fmt.Sprintf("secret sauce %d", i)}}
				if i%100 == 0 {
					p.Mentions = []core.UserID{core.UserID(bob.ID)}
				}
				data, _ := json.Marshal(p)
				if _, err := n.Actors().Do(ctx, core.StreamID("channel:"+ws.General), actor.Command{Name: chat.CmdPost, Actor: core.UserID(ann.ID), Data: data}); err != nil {
					t.Error(err)
					return
				}
			}
		}(w)
	}
	wg.Wait()
	newer := createChannel(t, ann, ws, "newer", true, bob)
	if err := n.ChatCaughtUp(ctx); err != nil {
		t.Fatal(err)
	}
	var raw json.RawMessage
	if code := codeOf(n.API.Do(ctx, "POST", "/v1/chat/sync", bob.token(t), map[string]string{"cursor": boot.Cursor}, &raw)); code != "" {
		t.Fatal(code)
	}
	var s struct {
		Cursor   string `json:"cursor"`
		Channels []struct {
			ID          string `json:"id"`
			NewMessages int    `json:"new_messages"`
			NewMentions int    `json:"new_mentions"`
			Unread      int    `json:"unread"`
			Mentions    int    `json:"mentions"`
		} `json:"channels"`
		Joined []struct {
			ID string `json:"id"`
		} `json:"joined"`
		Mentions []struct {
			ID string `json:"id"`
		} `json:"mentions"`
	}
	if err := json.Unmarshal(raw, &s); err != nil {
		t.Fatal(err)
	}
	t.Logf("sync after 1,000 messages: %d bytes", len(raw))
	if len(s.Channels) != 1 || s.Channels[0].ID != ws.General || s.Channels[0].NewMessages != 1000 || s.Channels[0].NewMentions != 10 ||
		s.Channels[0].Unread != 1000 || s.Channels[0].Mentions != 10 {
		t.Fatalf("sync channels %+v", s.Channels)
	}
	if len(s.Joined) != 1 || s.Joined[0].ID != newer || len(s.Mentions) != 10 {
		t.Fatalf("sync %s", raw)
	}
	if strings.Contains(string(raw), "secret sauce") || len(raw) > 4096 {
		t.Fatalf("sync carries messages or is too big (%d bytes)", len(raw))
	}
	// Nothing changed since: an empty answer.
	if code := codeOf(n.API.Do(ctx, "POST", "/v1/chat/sync", bob.token(t), map[string]string{"cursor": s.Cursor}, &raw)); code != "" {
		t.Fatal(code)
	}
	if err := json.Unmarshal(raw, &s); err != nil || len(s.Channels) != 0 || len(s.Joined) != 0 {
		t.Fatalf("second sync %s", raw)
	}
	if code := codeOf(n.API.Do(ctx, "POST", "/v1/chat/sync", bob.token(t), map[string]string{"cursor": "garbage!"}, nil)); code != "invalid_argument" {
		t.Fatalf("bad cursor: %q", code)
	}
}

// chatScenario exercises every kind of chat event through the API.
func chatScenario(t *testing.T, n *apptest.Node) {
	t.Helper()
	ann, bob, cat := newPerson(t, n, "Ann"), newPerson(t, n, "Bob"), newPerson(t, n, "Cat")
	ws := createWorkspace(t, ann, "Acme")
	join(t, ann, ws, bob, cat)
	secret := createChannel(t, ann, ws, "secret", true, bob)
	for i := 0; i < 30; i++ {
		ch := ws.General
		if i%3 == 0 {
			ch = secret
		}
		p := ann.post(t, ch, fmt.Sprintf("note %d for @%s and @here", i, bob.Handle))
		if i%4 == 0 {
			bob.post(t, ch, "reply "+fmt.Sprint(i), "thread", p.ID)
			bob.req(t, "chat.react", map[string]any{"channel": ch, "id": p.ID, "emoji": "eyes"}, nil)
		}
		if i%5 == 0 {
			ann.req(t, "chat.edit", map[string]any{"channel": ch, "id": p.ID, "text": fmt.Sprintf("note %d, edited", i)}, nil)
			bob.req(t, "chat.pin", map[string]any{"channel": ch, "id": p.ID}, nil)
		}
		if i%7 == 0 {
			ann.req(t, "chat.delete", map[string]any{"channel": ch, "id": p.ID}, nil)
		}
	}
	bob.req(t, "chat.mark_read", map[string]any{"channel": ws.General}, nil)
	cat.req(t, "chat.mark_unread", map[string]any{"channel": ws.General, "id": "m2"}, nil)
	ann.req(t, "chat.channel.update", map[string]any{"channel": ws.General, "topic": "shipping"}, nil)
	ann.req(t, "chat.channel.rename", map[string]any{"channel": secret, "name": "hush"}, nil)
	ann.req(t, "chat.member.remove", map[string]any{"workspace": ws.ID, "user": cat.ID}, nil)
	ann.req(t, "chat.workspace.rename", map[string]any{"workspace": ws.ID, "name": "Acme Inc"}, nil)
}

// TestChatRebuildEqualsLive: read models rebuilt from the log equal the
// live ones, on SQLite and on PostgreSQL.
func TestChatRebuildEqualsLive(t *testing.T) {
	for _, backend := range []string{"sqlite", "postgres"} {
		t.Run(backend, func(t *testing.T) {
			opts := []apptest.Option{apptest.WithConfig(chatConfig)}
			var fresh chat.Store
			if backend == "postgres" {
				url := pgtest.NewDatabase(t)
				opts = append(opts, apptest.WithConfig(func(c *config.Config) { c.Database.URL = url }))
				db, err := postgres.Open(context.Background(), pgtest.NewDatabase(t), 4)
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { db.Close() })
				fresh = postgres.NewChatStore(db)
			} else {
				db, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), sqlite.AppFile), "app")
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { db.Close() })
				fresh = sqlite.NewChatStore(db)
			}
			n := apptest.Start(t, opts...)
			chatScenario(t, n)
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			if err := n.ChatCaughtUp(ctx); err != nil {
				t.Fatal(err)
			}
			live, err := n.ChatStore().Dump(ctx)
			if err != nil {
				t.Fatal(err)
			}
			st, err := app.RebuildChat(ctx, n.Log().Store().(app.ChatLog), fresh, 100)
			if err != nil {
				t.Fatal(err)
			}
			rebuilt, err := fresh.Dump(ctx)
			if err != nil {
				t.Fatal(err)
			}
			rows := 0
			for name := range live {
				rows += len(live[name])
				if !reflect.DeepEqual(live[name], rebuilt[name]) {
					t.Fatalf("%s differs:\nlive    %q\nrebuilt %q", name, live[name], rebuilt[name])
				}
			}
			if st.Events == 0 || len(live["messages"]) < 30 || len(live["mentions"]) == 0 || len(live["search"]) == 0 {
				t.Fatalf("scenario too small: %+v, %d rows", st, rows)
			}
			t.Logf("%d streams, %d events, %d rows equal", st.Streams, st.Events, rows)
		})
	}
}
