package app_test

import (
	"testing"
	"time"

	"github.com/parleyhq/parley/internal/app/apptest"
	"github.com/parleyhq/parley/internal/config"
	"github.com/parleyhq/parley/internal/testutil/natstest"
	"github.com/parleyhq/parley/internal/testutil/pgtest"
)

// TestChatAcrossTwoNodes runs chat on two nodes sharing a real nats-server
// and PostgreSQL: commands on either node reach the streams' owners, the
// other node's View follows over the bus (counts, boot, permissions), and
// the read models are shared.
func TestChatAcrossTwoNodes(t *testing.T) {
	ns := natstest.Start(t)
	db := pgtest.NewDatabase(t)
	ext := apptest.WithConfig(func(c *config.Config) {
		chatConfig(c)
		c.NATS.URL = ns.URL()
		c.Database.URL = db
	})
	a := apptest.Start(t, ext)
	b := apptest.Start(t, ext)
	ann := newPerson(t, a, "Ann")
	bobUser := a.SignUp(t, "Bob")
	bob := &person{User: bobUser, n: b}
	bob.ev, bob.c = bob.device(t) // Bob is connected to node b
	ws := createWorkspace(t, ann, "Acme")
	join(t, ann, ws, bob)
	secret := createChannel(t, ann, ws, "secret", true, bob)
	if _, err := bob.c.Subscribe(ctx(t), "channel:"+secret, nil); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 5; i++ {
		ann.post(t, secret, "across nodes")
	}
	apptest.Wait(t, 10*time.Second, "events on node b", func() bool { return len(bob.ev.Of("channel:"+secret, "message.posted")) == 5 })
	apptest.Wait(t, 10*time.Second, "counts on node b", func() bool {
		c, ok := lastCounts(bob.ev, secret)
		return ok && c.Unread == 5
	})
	// Bob reads and writes through node b.
	var h history
	bob.req(t, "chat.history", map[string]any{"channel": secret, "min_seq": bob.c.Position("channel:" + secret)}, &h)
	if len(h.Messages) != 5 {
		t.Fatalf("history on node b: %d", len(h.Messages))
	}
	bob.post(t, secret, "reply from b")
	bob.req(t, "chat.mark_read", map[string]any{"channel": secret}, nil)
	var boot struct {
		Channels []struct {
			ID     string `json:"id"`
			Unread int    `json:"unread"`
		} `json:"channels"`
	}
	apptest.Wait(t, 10*time.Second, "ann's boot on node a sees bob's message", func() bool {
		ann.req(t, "chat.boot", map[string]any{"workspace": ws.ID}, &boot)
		for _, c := range boot.Channels {
			if c.ID == secret {
				return c.Unread == 1
			}
		}
		return false
	})
	// Removal on node a ends bob's subscription on node b.
	ann.req(t, "chat.channel.remove", map[string]any{"channel": secret, "user": bob.ID}, nil)
	apptest.Wait(t, 10*time.Second, "bob loses access on node b", func() bool {
		return bob.get(t, "/v1/chat/channels/"+secret+"/messages", nil) == "not_found"
	})
}
