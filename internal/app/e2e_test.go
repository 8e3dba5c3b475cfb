package app_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/parleyhq/parley/client"
	"github.com/parleyhq/parley/internal/app/apptest"
	"github.com/parleyhq/parley/internal/config"
)

func ctx(t testing.TB) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return c
}

// TestSignUpConnectSubscribeReceive walks the basic path: sign up, sign in,
// connect, subscribe, publish, receive in order.
func TestSignUpConnectSubscribeReceive(t *testing.T) {
	n := apptest.Start(t)
	alice := n.SignUp(t, "Alice")
	bob := n.SignUp(t, "Bob")
	// Bob signs in again with his password: a second sign-in session.
	tok, err := n.API.SignIn(ctx(t), bob.Email, bob.Password)
	if err != nil {
		t.Fatal(err)
	}
	if tok.User.ID != bob.ID || tok.AccessToken == "" || tok.RefreshToken == "" {
		t.Fatalf("sign in: %+v", tok)
	}
	var got apptest.Events
	bc := n.Dial(t, &apptest.User{Session: client.NewSession(n.API, tok)}, got.Options())
	if h := bc.Hello(); h.User != bob.ID || h.V != 1 || h.Session == "" || h.HeartbeatMS <= 0 {
		t.Fatalf("hello: %+v", h)
	}
	ac := n.Dial(t, alice, nil)
	const stream = "topic:news"
	if seq, err := bc.Subscribe(ctx(t), stream, nil); err != nil || seq != 0 {
		t.Fatalf("subscribe: %d %v", seq, err)
	}
	last := apptest.Publish(t, ac, stream, 10)
	if last != 10 {
		t.Fatalf("last seq %d", last)
	}
	apptest.Wait(t, 5*time.Second, "10 events", func() bool { return len(got.Of(stream)) == 10 })
	for i, ev := range got.Of(stream) {
		if ev.Seq != uint64(i+1) || ev.Type != "topic.published" || ev.Actor != alice.ID {
			t.Fatalf("event %d: %+v", i, ev)
		}
		var d struct {
			Data struct{ I int } `json:"data"`
		}
		apptest.Data(t, ev, &d)
		if d.Data.I != i {
			t.Fatalf("event %d carries %d", i, d.Data.I)
		}
	}
	// A late subscriber asks for history.
	var late apptest.Events
	lc := n.Dial(t, alice, late.Options())
	after := uint64(4)
	if _, err := lc.Subscribe(ctx(t), stream, &after); err != nil {
		t.Fatal(err)
	}
	apptest.Wait(t, 5*time.Second, "replayed history", func() bool { return len(late.Of(stream)) == 6 })
	if late.Of(stream)[0].Seq != 5 {
		t.Fatalf("history starts at %d", late.Of(stream)[0].Seq)
	}
}

// TestResumeAfterDroppedConnections kills a subscriber's connection again
// and again while events flow; the subscriber must end with every event
// exactly once, in order.
func TestResumeAfterDroppedConnections(t *testing.T) {
	n := apptest.Start(t)
	pub := n.Dial(t, n.SignUp(t, "Pub"), nil)
	var got apptest.Events
	sub := n.Dial(t, n.SignUp(t, "Sub"), got.Options())
	const stream = "topic:resume"
	if _, err := sub.Subscribe(ctx(t), stream, nil); err != nil {
		t.Fatal(err)
	}
	const total = 400
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := 0; i < 8; i++ {
			time.Sleep(40 * time.Millisecond)
			sub.Drop()
		}
	}()
	var res struct {
		Seq uint64 `json:"seq"`
	}
	for i := 0; i < total; i++ {
		key := fmt.Sprintf("k%d", i)
		for {
			err := pub.Request(ctx(t), "topic.publish", map[string]any{"stream": stream, "key": key, "data": i}, &res)
			if err == nil {
				break
			}
			if !errors.Is(err, client.ErrDisconnected) {
				t.Fatal(err)
			}
		}
	}
	<-done
	apptest.Wait(t, 15*time.Second, "all events after resumes", func() bool { return len(got.Of(stream)) >= total })
	evs := got.Of(stream)
	if len(evs) != total {
		t.Fatalf("got %d events, want %d", len(evs), total)
	}
	for i, ev := range evs {
		if ev.Seq != uint64(i+1) {
			t.Fatalf("event %d has seq %d", i, ev.Seq)
		}
	}
	st := sub.Stats()
	if st.Connects < 5 {
		t.Fatalf("only %d connects: the drops did not happen", st.Connects)
	}
	if st.Gaps != 0 {
		t.Fatalf("%d gaps", st.Gaps)
	}
}

// TestResumeTooFarBehindGetsReset checks the reset frames: a gap larger than
// gateway.resume_max_events, and a gap into truncated history.
func TestResumeTooFarBehindGetsReset(t *testing.T) {
	n := apptest.Start(t, apptest.WithConfig(func(c *config.Config) {
		c.Gateway.ResumeMaxEvents = 20
		c.Gateway.RecentEvents = 5
	}))
	u := n.SignUp(t, "Ann")
	pub := n.Dial(t, u, nil)
	apptest.Publish(t, pub, "topic:far", 50)
	var got apptest.Events
	c := n.Dial(t, u, got.Options())
	after := uint64(10)
	seq, err := c.Subscribe(ctx(t), "topic:far", &after)
	if err != nil {
		t.Fatal(err)
	}
	if seq != 50 || len(got.Of("topic:far")) != 0 {
		t.Fatalf("position %d, %d events replayed", seq, len(got.Of("topic:far")))
	}
	apptest.Wait(t, 5*time.Second, "reset", func() bool { return len(got.Resets()) == 1 })
	if r := got.Resets()[0]; r.Stream != "topic:far" || r.Seq != 50 || r.Reason != "too_far_behind" {
		t.Fatalf("reset %+v", r)
	}
	// Within the limit, the events are replayed from the log.
	after = 35
	var got2 apptest.Events
	c2 := n.Dial(t, u, got2.Options())
	if _, err := c2.Subscribe(ctx(t), "topic:far", &after); err != nil {
		t.Fatal(err)
	}
	apptest.Wait(t, 5*time.Second, "replay", func() bool { return len(got2.Of("topic:far")) == 15 })
	// History removed by retention: a reset, not a silent gap.
	if err := n.Log().Store().Truncate(ctx(t), "topic:far", 45); err != nil {
		t.Fatal(err)
	}
	var got3 apptest.Events
	c3 := n.Dial(t, u, got3.Options())
	after = 40
	if _, err := c3.Subscribe(ctx(t), "topic:far", &after); err != nil {
		t.Fatal(err)
	}
	apptest.Wait(t, 5*time.Second, "retention reset", func() bool { return len(got3.Resets()) == 1 })
	if r := got3.Resets()[0]; r.Reason != "beyond_retention" {
		t.Fatalf("reset %+v", r)
	}
}

// TestGracefulShutdownSendsReconnect stops a node: clients get a reconnect
// frame, and the node drains.
func TestGracefulShutdownSendsReconnect(t *testing.T) {
	n := apptest.Start(t)
	u := n.SignUp(t, "Sam")
	r := dialRaw(t, n.URL(), nil)
	r.auth(accessToken(t, u))
	var wg sync.WaitGroup
	wg.Add(1)
	var frame map[string]any
	go func() {
		defer wg.Done()
		frame, _ = r.next(10 * time.Second)
		r.nc.Close() // a client closes and reconnects elsewhere
	}()
	start := time.Now()
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	n.Shutdown(sctx)
	wg.Wait()
	if frame["type"] != "reconnect" || frame["reason"] != "shutdown" {
		t.Fatalf("got %v, want a reconnect frame", frame)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("drain took %s", d)
	}
	if n.Gateway().ConnCount() != 0 {
		t.Fatalf("%d connections left", n.Gateway().ConnCount())
	}
	// New connections are refused while draining.
	resp, err := http.Get(n.URL() + "/healthz")
	if err == nil {
		resp.Body.Close()
		t.Fatalf("node still accepts HTTP after shutdown")
	}
}

func accessToken(t testing.TB, u *apptest.User) string {
	t.Helper()
	tok, err := u.Session.Token(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// TestHealthReadyMetrics checks the operational endpoints.
func TestHealthReadyMetrics(t *testing.T) {
	n := apptest.Start(t)
	u := n.SignUp(t, "Obs")
	n.Dial(t, u, nil)
	for path, want := range map[string]string{
		"/healthz": `"status":"ok"`,
		"/readyz":  `"ready":true`,
		"/metrics": "parley_gateway_connections 1",
	} {
		resp, err := http.Get(n.URL() + path)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || !strings.Contains(string(body), want) {
			t.Fatalf("%s: %d %s", path, resp.StatusCode, body)
		}
	}
	resp, _ := http.Get(n.URL() + "/metrics")
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, name := range []string{"parley_gateway_frames_in_total", "parley_gateway_frames_out_total", "parley_gateway_send_queue_drops_total",
		"parley_auth_failures_total", "parley_eventlog_commit_seconds", "parley_bus_rtt_seconds", "process_resident_memory_bytes"} {
		if !strings.Contains(string(body), name) {
			t.Fatalf("/metrics lacks %s", name)
		}
	}
}
