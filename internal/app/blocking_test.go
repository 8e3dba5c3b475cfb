package app_test

import (
	"testing"
	"time"

	"github.com/parleyhq/parley/internal/app/apptest"
	"github.com/parleyhq/parley/internal/config"
)

// TestBlockingReaderMode runs the core paths with gateway.netpoll off (one
// reading goroutine per connection, as on systems without epoll): receive,
// resume after drops, and the read-side violations.
func TestBlockingReaderMode(t *testing.T) {
	n := apptest.Start(t, apptest.WithConfig(func(c *config.Config) {
		c.Gateway.Netpoll = false
		c.Gateway.AuthTimeout = 300 * time.Millisecond
		c.Gateway.HeartbeatInterval = 300 * time.Millisecond
		c.Gateway.RateBurst = 10
	}))
	u := n.SignUp(t, "Blo")
	var got apptest.Events
	sub := n.Dial(t, u, got.Options())
	if _, err := sub.Subscribe(ctx(t), "topic:b", nil); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 5; i++ {
		for j := 0; j < 20; j++ {
			n.PublishTopic(t, "topic:b", j)
		}
		sub.Drop()
	}
	apptest.Wait(t, 10*time.Second, "100 events", func() bool { return len(got.Of("topic:b")) == 100 })
	for i, ev := range got.Of("topic:b") {
		if ev.Seq != uint64(i+1) {
			t.Fatalf("event %d has seq %d", i, ev.Seq)
		}
	}
	dialRaw(t, n.URL(), nil).expectClose("auth_timeout", 4408)
	r := dialRaw(t, n.URL(), nil)
	r.auth(accessToken(t, u))
	r.expectClose("heartbeat_timeout", 4432)
	r = dialRaw(t, n.URL(), nil)
	r.auth(accessToken(t, u))
	for i := 0; i < 30 && r.trySend(map[string]any{"type": "ping"}); i++ {
	}
	r.expectClose("rate_limited", 4430)
}
