package app_test

import (
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gobwas/ws"

	"github.com/parleyhq/parley/client"
	"github.com/parleyhq/parley/internal/app/apptest"
	"github.com/parleyhq/parley/internal/config"
)

// TestLimitViolations checks that every limit gets its error code and close
// code, while a bystander connection keeps working and loses nothing.
func TestLimitViolations(t *testing.T) {
	n := apptest.Start(t, apptest.WithConfig(func(c *config.Config) {
		c.Gateway.MaxFrameBytes = 4096
		c.Gateway.RatePerSecond = 20
		c.Gateway.RateBurst = 20
		c.Gateway.MaxConnsPerUser = 3
		c.Gateway.AuthTimeout = 300 * time.Millisecond
		c.Gateway.SendQueueFrames = 64
		c.Gateway.SendQueueBytes = 64 << 10
		c.HTTP.AllowedOrigins = []string{"https://chat.example.com"}
	}))
	u := n.SignUp(t, "Vic")
	tok := accessToken(t, u)

	// A bystander subscribed to a topic that keeps receiving throughout.
	var seen apptest.Events
	bystander := n.Dial(t, n.SignUp(t, "Bea"), seen.Options())
	if _, err := bystander.Subscribe(ctx(t), "topic:calm", nil); err != nil {
		t.Fatal(err)
	}
	pub := n.Dial(t, n.SignUp(t, "Pat"), nil)
	published := 0
	publish := func() {
		published++
		apptest.Publish(t, pub, "topic:calm", 1)
	}

	t.Run("frame too large", func(t *testing.T) {
		r := dialRaw(t, n.URL(), nil)
		r.auth(tok)
		r.sendFrame(ws.OpText, []byte(`{"type":"req","id":1,"method":"x","params":{"p":"`+strings.Repeat("a", 5000)+`"}}`))
		r.expectClose("frame_too_large", 1009)
		publish()
	})
	t.Run("bad frame", func(t *testing.T) {
		r := dialRaw(t, n.URL(), nil)
		r.auth(tok)
		r.sendFrame(ws.OpText, []byte(`not json`))
		r.expectClose("bad_frame", 4400)
		publish()
	})
	t.Run("first frame not auth", func(t *testing.T) {
		r := dialRaw(t, n.URL(), nil)
		r.send(map[string]any{"type": "req", "id": 1, "method": "subscribe", "params": map[string]any{"stream": "topic:x"}})
		r.expectClose("unauthenticated", 4401)
	})
	t.Run("invalid token", func(t *testing.T) {
		r := dialRaw(t, n.URL(), nil)
		r.send(map[string]any{"type": "auth", "token": tok[:len(tok)-4] + "AAAA"})
		r.expectClose("token_invalid", 4401)
	})
	t.Run("auth timeout", func(t *testing.T) {
		r := dialRaw(t, n.URL(), nil)
		start := time.Now()
		r.expectClose("auth_timeout", 4408)
		if d := time.Since(start); d > 2*time.Second {
			t.Fatalf("auth timeout took %s", d)
		}
	})
	t.Run("origin", func(t *testing.T) {
		r := dialRaw(t, n.URL(), http.Header{"Origin": {"https://evil.example"}})
		r.expectClose("origin_forbidden", 4403)
		ok := dialRaw(t, n.URL(), http.Header{"Origin": {"https://chat.example.com"}})
		ok.auth(tok)
		self := dialRaw(t, n.URL(), http.Header{"Origin": {n.URL()}})
		self.auth(tok)
	})
	t.Run("rate limit", func(t *testing.T) {
		r := dialRaw(t, n.URL(), nil)
		r.auth(tok)
		for i := 0; i < 60 && r.trySend(map[string]any{"type": "ping"}); i++ {
		}
		r.expectClose("rate_limited", 4430)
		publish()
	})
	t.Run("too many connections", func(t *testing.T) {
		v := n.SignUp(t, "Many")
		for i := 0; i < 3; i++ {
			n.Dial(t, v, nil)
		}
		_, err := client.Dial(ctx(t), client.Options{URL: n.URL(), Token: v.Session.Token})
		var ce *client.Error
		if !asErr(err, &ce) || ce.Code != "too_many_connections" || ce.CloseCode != 4429 {
			t.Fatalf("fourth connection: %v", err)
		}
	})
	t.Run("slow consumer", func(t *testing.T) {
		r := dialRaw(t, n.URL(), nil)
		r.auth(tok)
		r.send(map[string]any{"type": "req", "id": 1, "method": "subscribe", "params": map[string]any{"stream": "topic:flood"}})
		if m, _ := r.next(5 * time.Second); m["type"] != "res" {
			t.Fatalf("subscribe: %v", m)
		}
		// Stop reading and flood the stream with large events until the
		// node gives up on us: once the kernel's socket buffers are full
		// (a few MB on loopback), the send queue fills within a few events.
		drops := func() float64 { return counter(t, n, "parley_gateway_send_queue_drops_total") }
		before := drops()
		big := strings.Repeat("x", 30<<10)
		deadline := time.Now().Add(60 * time.Second)
		for drops() == before {
			if time.Now().After(deadline) {
				t.Fatal("send queue never overflowed")
			}
			n.PublishTopic(t, "topic:flood", big)
		}
		frames := r.expectClose("slow_consumer", 4431)
		if len(frames) == 0 {
			t.Fatal("no events before the close")
		}
		publish()
	})
	t.Run("heartbeat", func(t *testing.T) {
		hb := apptest.Start(t, apptest.WithConfig(func(c *config.Config) { c.Gateway.HeartbeatInterval = 200 * time.Millisecond }))
		hu := hb.SignUp(t, "Hal")
		r := dialRaw(t, hb.URL(), nil)
		r.auth(accessToken(t, hu))
		start := time.Now()
		r.expectClose("heartbeat_timeout", 4432) // we never answer pings
		if d := time.Since(start); d > 400*time.Millisecond+100*time.Millisecond {
			t.Fatalf("dead peer detected after %s, want within two intervals", d)
		}
		// The SDK answers pings, so it stays up.
		c := hb.Dial(t, hu, nil)
		time.Sleep(time.Second)
		if !c.Connected() || c.Stats().Connects != 1 {
			t.Fatalf("SDK connection did not survive heartbeats: %+v", c.Stats())
		}
	})

	apptest.Wait(t, 5*time.Second, "bystander got everything", func() bool { return len(seen.Of("topic:calm")) == published })
	if bystander.Stats().Connects != 1 {
		t.Fatalf("bystander reconnected %d times", bystander.Stats().Connects-1)
	}
}

// TestRateLimitedClientResumesWithoutLoss: a client closed for flooding
// reconnects and resumes; nothing the server acknowledged is lost.
func TestRateLimitedClientResumesWithoutLoss(t *testing.T) {
	n := apptest.Start(t, apptest.WithConfig(func(c *config.Config) {
		c.Gateway.RatePerSecond = 50
		c.Gateway.RateBurst = 10
	}))
	u := n.SignUp(t, "Flo")
	var got apptest.Events
	c := n.Dial(t, u, got.Options())
	if _, err := c.Subscribe(ctx(t), "topic:f", nil); err != nil {
		t.Fatal(err)
	}
	pub := n.Dial(t, n.SignUp(t, "P"), nil)
	apptest.Publish(t, pub, "topic:f", 5)
	apptest.Wait(t, 5*time.Second, "5 events", func() bool { return len(got.Of("topic:f")) == 5 })
	// Flood: the node closes the connection with rate_limited.
	nc := c.Conn()
	for i := 0; i < 30; i++ {
		_ = c.WriteRaw(nc, ws.OpText, []byte(`{"type":"ping"}`))
	}
	apptest.Publish(t, pub, "topic:f", 5)
	apptest.Wait(t, 5*time.Second, "reconnect", func() bool { return c.Stats().Connects >= 2 })
	apptest.Wait(t, 5*time.Second, "10 events after resume", func() bool { return len(got.Of("topic:f")) == 10 })
	for i, ev := range got.Of("topic:f") {
		if ev.Seq != uint64(i+1) {
			t.Fatalf("event %d has seq %d", i, ev.Seq)
		}
	}
}

func asErr(err error, target **client.Error) bool {
	e, ok := err.(*client.Error)
	if ok {
		*target = e
	}
	return ok
}

// TestSlowConsumerResumes: a client that stops reading is closed with
// slow_consumer, reconnects, and resumes with every event exactly once.
func TestSlowConsumerResumes(t *testing.T) {
	n := apptest.Start(t, apptest.WithConfig(func(c *config.Config) {
		c.Gateway.SendQueueFrames = 32
		c.Gateway.SendQueueBytes = 256 << 10
	}))
	u := n.SignUp(t, "Sly")
	release := make(chan struct{})
	var once sync.Once
	var got apptest.Events
	opts := got.Options()
	inner := opts.OnEvent
	opts.OnEvent = func(e client.Event) {
		<-release // the application stalls, so the SDK stops reading
		inner(e)
	}
	c := n.Dial(t, u, opts)
	if _, err := c.Subscribe(ctx(t), "topic:slow", nil); err != nil {
		t.Fatal(err)
	}
	drops := func() float64 { return counter(t, n, "parley_gateway_send_queue_drops_total") }
	big := strings.Repeat("y", 30<<10)
	published := 0
	deadline := time.Now().Add(60 * time.Second)
	for drops() == 0 {
		if time.Now().After(deadline) {
			t.Fatal("send queue never overflowed")
		}
		n.PublishTopic(t, "topic:slow", big)
		published++
	}
	once.Do(func() { close(release) })
	apptest.Wait(t, 30*time.Second, "resume after slow_consumer", func() bool { return len(got.Of("topic:slow")) == published })
	for i, ev := range got.Of("topic:slow") {
		if ev.Seq != uint64(i+1) {
			t.Fatalf("event %d has seq %d", i, ev.Seq)
		}
	}
	if c.Stats().Connects < 2 {
		t.Fatalf("client did not reconnect: %+v", c.Stats())
	}
}
