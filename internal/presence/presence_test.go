package presence_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/parleyhq/parley/internal/bus"
	"github.com/parleyhq/parley/internal/core"
	"github.com/parleyhq/parley/internal/errs"
	"github.com/parleyhq/parley/internal/presence"
)

type kv struct{ kv *bus.KV }

func (k kv) PutTTL(ctx context.Context, key string, v []byte, ttl time.Duration) error {
	_, err := k.kv.PutTTL(ctx, key, v, ttl)
	return err
}
func (k kv) Delete(ctx context.Context, key string) error {
	if err := k.kv.Delete(ctx, key); err != nil && !errs.Is(err, errs.NotFound) {
		return err
	}
	return nil
}
func (k kv) Watch(ctx context.Context, fn func(string, []byte, bool)) (func(), error) {
	return k.kv.Watch(ctx, ">", func(e bus.Entry) { fn(e.Key, e.Value, e.Op != bus.OpPut) })
}

type changes struct {
	mu   sync.Mutex
	last map[core.UserID]presence.Status
}

func (c *changes) on(p presence.Presence) {
	c.mu.Lock()
	c.last[p.User] = p.Status
	c.mu.Unlock()
}

func (c *changes) status(u core.UserID) presence.Status {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.last[u]
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func setup(t *testing.T) *bus.KV {
	t.Helper()
	ctx := context.Background()
	b, err := bus.Open(ctx, bus.Config{StoreDir: t.TempDir(), Name: "test"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	k, err := b.KV(ctx, bus.KVConfig{Name: "presence", Storage: bus.MemoryStorage, LimitMarkerTTL: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func start(t *testing.T, k *bus.KV, node string, ttl time.Duration, ch *changes) *presence.Directory {
	t.Helper()
	d := presence.New(presence.Options{Node: core.NodeID(node), KV: kv{k}, TTL: ttl, FlushInterval: 5 * time.Millisecond, OnChange: ch.on})
	if err := d.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(d.Close)
	return d
}

// TestPresenceAcrossNodes: two nodes share the directory; a user connected
// to both is online while either holds an active connection, away when all
// are idle, and every node sees the same.
func TestPresenceAcrossNodes(t *testing.T) {
	k := setup(t)
	ch1 := &changes{last: map[core.UserID]presence.Status{}}
	ch2 := &changes{last: map[core.UserID]presence.Status{}}
	n1 := start(t, k, "n1", time.Minute, ch1)
	n2 := start(t, k, "n2", time.Minute, ch2)
	u := core.UserID("u_1")
	n1.Connected(u, "c1")
	waitFor(t, "online on n2", func() bool { return ch2.status(u) == presence.Online })
	n2.Connected(u, "c2")
	waitFor(t, "two nodes", func() bool { return len(n1.Nodes(u)) == 2 })
	n1.SetAway(u, "c1", true)
	time.Sleep(100 * time.Millisecond)
	if s := n2.Get(context.Background(), u).Status; s != presence.Online {
		t.Fatalf("one active device left, status %s", s)
	}
	n2.SetAway(u, "c2", true)
	waitFor(t, "away", func() bool { return ch1.status(u) == presence.Away && ch2.status(u) == presence.Away })
	n1.Disconnected(u, "c1")
	n2.Disconnected(u, "c2")
	waitFor(t, "offline", func() bool { return ch1.status(u) == presence.Offline && ch2.status(u) == presence.Offline })
	if p := n1.Get(context.Background(), u); p.LastSeen.IsZero() {
		t.Fatalf("no last-seen time: %+v", p)
	}
}

// TestCrashedNodeEntriesExpire: a node that stops renewing (it crashed)
// loses its users after the TTL.
func TestCrashedNodeEntriesExpire(t *testing.T) {
	k := setup(t)
	watch := &changes{last: map[core.UserID]presence.Status{}}
	observer := start(t, k, "obs", time.Minute, watch)
	crashed := presence.New(presence.Options{Node: "dead", KV: kv{k}, TTL: 2 * time.Second, FlushInterval: 5 * time.Millisecond})
	if err := crashed.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	u := core.UserID("u_2")
	crashed.Connected(u, "c1")
	waitFor(t, "online", func() bool { return watch.status(u) == presence.Online })
	// Simulate a crash: the directory stops without deleting its entries.
	crashed.Abandon()
	start := time.Now()
	waitFor(t, "offline after expiry", func() bool { return watch.status(u) == presence.Offline })
	if d := time.Since(start); d < time.Second {
		t.Fatalf("went offline after %s, before the TTL", d)
	}
	if len(observer.Nodes(u)) != 0 {
		t.Fatal("expired node still listed")
	}
}
