package app_test

import (
	"strings"
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
