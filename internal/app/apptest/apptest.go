// Package apptest runs whole Parley nodes inside tests: a real app.Main on
// port 0 with SQLite in a temporary directory and embedded NATS (or the
// PostgreSQL and external NATS a test passes in), driven over real HTTP and
// WebSocket connections with the Go client SDK.
package apptest

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/parleyhq/parley/client"
	"github.com/parleyhq/parley/internal/actor"
	"github.com/parleyhq/parley/internal/app"
	"github.com/parleyhq/parley/internal/auth/authtest"
	"github.com/parleyhq/parley/internal/config"
	"github.com/parleyhq/parley/internal/core"
)

// Node is a running Parley node.
type Node struct {
	*app.Main
	API    *client.API
	Sender *authtest.Sender
	t      testing.TB
	n      atomic.Int64
}

// Option changes a node's configuration or Main before it starts.
type Option func(*app.Main)

// WithConfig edits the configuration.
func WithConfig(f func(*config.Config)) Option { return func(m *app.Main) { f(&m.Config) } }

// WithClock sets the node's clock.
func WithClock(c core.Clock) Option { return func(m *app.Main) { m.Clock = c } }

// WithDataDir sets the data directory (to restart a node on the same data).
func WithDataDir(dir string) Option { return func(m *app.Main) { m.Config.DataDir = dir } }

// Start runs a node and stops it when the test ends.
func Start(t testing.TB, opts ...Option) *Node {
	t.Helper()
	cfg := config.Default()
	cfg.DataDir = t.TempDir()
	cfg.HTTP.Addr = "127.0.0.1:0"
	cfg.Media.UDPAddr = "127.0.0.1:0"
	cfg.Auth.SignInPerIP = 100000
	cfg.Auth.SignInPerAccount = 1000
	cfg.Log.Level = "warn"
	sender := &authtest.Sender{}
	m := &app.Main{Config: cfg, Sender: sender, Logger: logger(t)}
	for _, o := range opts {
		o(m)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := m.Run(ctx); err != nil {
		t.Fatalf("apptest: start node: %v", err)
	}
	t.Cleanup(func() {
		if err := m.Close(); err != nil {
			t.Logf("apptest: close node: %v", err)
		}
	})
	return &Node{Main: m, API: &client.API{Base: m.URL()}, Sender: sender, t: t}
}

// logger writes node logs to the test log when PARLEY_TEST_LOG is set, and
// discards them otherwise.
func logger(t testing.TB) *slog.Logger {
	if os.Getenv("PARLEY_TEST_LOG") == "" {
		return slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	return slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

type testWriter struct{ t testing.TB }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// User is a signed-up account with its tokens.
type User struct {
	ID       string
	Email    string
	Password string
	Handle   string
	Session  *client.Session
}

// SignUp creates an account named after name (made unique) and returns it.
func (n *Node) SignUp(t testing.TB, name string) *User {
	t.Helper()
	i := n.n.Add(1)
	handle := fmt.Sprintf("%s%d", strings.ToLower(name), i)
	u := &User{Email: handle + "@example.test", Password: "correct horse " + handle, Handle: handle}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	tok, err := n.API.SignUp(ctx, u.Email, u.Password, handle, name)
	if err != nil {
		t.Fatalf("apptest: sign up %s: %v", handle, err)
	}
	u.ID = tok.User.ID
	u.Session = client.NewSession(n.API, tok)
	return u
}

// Dial connects u with the Go client; the connection is closed when the
// test ends. opts may be nil.
func (n *Node) Dial(t testing.TB, u *User, opts *client.Options) *client.Client {
	t.Helper()
	var o client.Options
	if opts != nil {
		o = *opts
	}
	o.URL = n.URL()
	if o.Token == nil {
		o.Token = u.Session.Token
	}
	if o.BackoffMin == 0 {
		o.BackoffMin = 20 * time.Millisecond
		o.BackoffMax = 200 * time.Millisecond
	}
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	c, err := client.Dial(ctx, o)
	if err != nil {
		t.Fatalf("apptest: dial as %s: %v", u.Handle, err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// Events collects events from client callbacks. It is safe for concurrent
// use.
type Events struct {
	mu     sync.Mutex
	events []client.Event
	resets []client.Reset
	pushes []client.Push
}

// Options returns client options whose callbacks feed e.
func (e *Events) Options() *client.Options {
	return &client.Options{
		OnEvent: e.add,
		OnReset: func(r client.Reset) { e.mu.Lock(); e.resets = append(e.resets, r); e.mu.Unlock() },
		OnPush:  func(p client.Push) { e.mu.Lock(); e.pushes = append(e.pushes, p); e.mu.Unlock() },
	}
}

func (e *Events) add(ev client.Event) {
	e.mu.Lock()
	e.events = append(e.events, ev)
	e.mu.Unlock()
}

// Of returns the events of stream received so far, optionally only of the
// given event type.
func (e *Events) Of(stream string, typ ...string) []client.Event {
	e.mu.Lock()
	defer e.mu.Unlock()
	var out []client.Event
	for _, ev := range e.events {
		if ev.Stream == stream && (len(typ) == 0 || ev.Type == typ[0]) {
			out = append(out, ev)
		}
	}
	return out
}

// Resets returns the resets received so far.
func (e *Events) Resets() []client.Reset {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]client.Reset(nil), e.resets...)
}

// Pushes returns the pushes received so far.
func (e *Events) Pushes() []client.Push {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]client.Push(nil), e.pushes...)
}

// Wait polls until cond holds or the deadline passes, then fails the test
// with msg.
func Wait(t testing.TB, d time.Duration, msg string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", d, msg)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// Request calls method on c and fails the test on error.
func Request(t testing.TB, c *client.Client, method string, params any, result any) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	if err := c.Request(ctx, method, params, result); err != nil {
		t.Fatalf("%s: %v", method, err)
	}
}

// Data decodes an event's data into v.
func Data(t testing.TB, ev client.Event, v any) {
	t.Helper()
	if err := json.Unmarshal(ev.Data, v); err != nil {
		t.Fatalf("event %s data: %v", ev.Type, err)
	}
}

// PublishTopic publishes data on a topic from inside the node, without a
// connection and its rate limit.
func (n *Node) PublishTopic(t testing.TB, stream string, data any) uint64 {
	t.Helper()
	b, _ := json.Marshal(map[string]any{"data": data})
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	res, err := n.Actors().Do(ctx, core.StreamID(stream), actor.Command{Name: "publish", Actor: "u_test", Data: b})
	if err != nil {
		t.Fatalf("publish on %s: %v", stream, err)
	}
	return res.Events[len(res.Events)-1].Seq
}

// Publish publishes n messages on topic stream through c and returns the
// sequence of the last one.
func Publish(t testing.TB, c *client.Client, stream string, n int) uint64 {
	t.Helper()
	var last uint64
	for i := 0; i < n; i++ {
		var res struct {
			Seq uint64 `json:"seq"`
		}
		Request(t, c, "topic.publish", map[string]any{"stream": stream, "data": map[string]int{"i": i}}, &res)
		last = res.Seq
	}
	return last
}
