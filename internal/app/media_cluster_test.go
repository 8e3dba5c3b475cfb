package app_test

import (
	"strings"
	"testing"
	"time"

	cmedia "github.com/parleyhq/parley/client/media"
	"github.com/parleyhq/parley/internal/app"
	"github.com/parleyhq/parley/internal/app/apptest"
	"github.com/parleyhq/parley/internal/config"
	"github.com/parleyhq/parley/internal/core"
	"github.com/parleyhq/parley/internal/media"
	"github.com/parleyhq/parley/internal/testutil/natstest"
	"github.com/parleyhq/parley/internal/testutil/pgtest"
)

// TestMediaSessionSpansNodes: two nodes share NATS and PostgreSQL; people of
// one session connected to either node all land on the session's home
// media server, hear each other, and the policy set on the other node is
// enforced there.
func TestMediaSessionSpansNodes(t *testing.T) {
	ns := natstest.Start(t)
	db := pgtest.NewDatabase(t)
	rules := &stageRules{}
	opts := []apptest.Option{
		apptest.WithConfig(func(c *config.Config) {
			c.NATS.URL = ns.URL()
			c.Database.URL = db
			c.Cluster.LeaseTTL = 3 * time.Second
		}),
		func(m *app.Main) { m.RegisterMediaKind("stage", rules, true) },
	}
	a := apptest.Start(t, opts...)
	b := apptest.Start(t, opts...)
	const room = "stage:wide"
	host := connect(t, a, "Host")
	far := connect(t, b, "Far")     // same session, other node
	rogue := connect(t, b, "Rogue") // a speaker on the other node that ignores mutes
	rules.set(host.u.ID, media.Policy{CanSend: true})
	rules.set(rogue.u.ID, media.Policy{CanSend: true})
	host.join(t, room, cmedia.PeerOptions{Publish: true})
	far.join(t, room, cmedia.PeerOptions{})
	rogue.join(t, room, cmedia.PeerOptions{Publish: true, IgnorePolicy: true})
	apptest.Wait(t, 15*time.Second, "everyone hears across nodes", func() bool {
		return far.heard(host) > 10 && far.heard(rogue) > 10 && host.heard(rogue) > 10 && rogue.heard(host) > 10
	})
	if _, p := a.MediaServer().Sessions(); p != 3 {
		t.Fatalf("the home node has %d participants, want 3", p)
	}
	if s, _ := b.MediaServer().Sessions(); s != 0 {
		t.Fatalf("the other node hosts %d sessions", s)
	}

	// A mute decided on node b reaches the home node's forwarding.
	if err := b.SetMediaPolicy(room, core.UserID(rogue.u.ID), media.Policy{CanSend: true, Muted: true, Version: 2}); err != nil {
		t.Fatal(err)
	}
	apptest.Wait(t, 5*time.Second, "the policy push through node b", func() bool { return rogue.sess.Policy().Muted })
	time.Sleep(60 * time.Millisecond)
	before, sent := far.heard(rogue), rogue.sess.Peer().Sent()
	apptest.Wait(t, 5*time.Second, "the rogue keeps sending", func() bool { return rogue.sess.Peer().Sent() > sent+25 })
	if got := far.heard(rogue); got != before {
		t.Fatalf("muted speaker heard across nodes: %d -> %d", before, got)
	}

	// Stats through node b; then far's connection drops and the home
	// removes it.
	var res app.MediaStatsResult
	apptest.Request(t, far.c, "media.stats", map[string]string{"session": room}, &res)
	if len(res.Participants) != 3 {
		t.Fatalf("stats through node b: %+v", res)
	}
	far.c.Close()
	apptest.Wait(t, 10*time.Second, "far removed from the home", func() bool {
		_, p := a.MediaServer().Sessions()
		return p == 2
	})
	apptest.Wait(t, 5*time.Second, "the domain told on node b", func() bool {
		return strings.Contains(strings.Join(rules.leftLog(), ","), far.u.ID+" disconnected")
	})
}
