package app_test

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/parleyhq/parley/internal/actor"
	"github.com/parleyhq/parley/internal/app/apptest"
	"github.com/parleyhq/parley/internal/config"
	"github.com/parleyhq/parley/internal/core"
	"github.com/parleyhq/parley/internal/testutil/natstest"
	"github.com/parleyhq/parley/internal/testutil/pgtest"
)

// TestOneOwnerPerStreamAcrossNodes: two nodes on one NATS and PostgreSQL
// take commands for the same stream; one node owns it and the other
// forwards, so one actor exists and the log stays contiguous. When the
// owner's bus connection dies, its lease expires and the other node takes
// the stream over.
func TestOneOwnerPerStreamAcrossNodes(t *testing.T) {
	ns := natstest.Start(t)
	db := pgtest.NewDatabase(t)
	ext := apptest.WithConfig(func(c *config.Config) {
		c.NATS.URL = ns.URL()
		c.Database.URL = db
		c.Cluster.LeaseTTL = 3 * time.Second
	})
	a := apptest.Start(t, ext)
	b := apptest.Start(t, ext)
	const stream = core.StreamID("topic:owned")
	publish := func(n *apptest.Node, i int) error {
		data, _ := json.Marshal(map[string]any{"data": i})
		c, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		_, err := n.Actors().Do(c, stream, actor.Command{Name: "publish", Actor: "u_x", Data: data, Key: fmt.Sprintf("k%d", i)})
		return err
	}
	var wg sync.WaitGroup
	errc := make(chan error, 200)
	for i := 0; i < 100; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			n := a
			if i%2 == 1 {
				n = b
			}
			errc <- publish(n, i)
		}(i)
	}
	wg.Wait()
	close(errc)
	for err := range errc {
		if err != nil {
			t.Fatal(err)
		}
	}
	if got := a.Actors().Active() + b.Actors().Active(); got != 1 {
		t.Fatalf("%d actors for one stream across two nodes", got)
	}
	_, last, err := a.Log().Bounds(ctx(t), stream)
	if err != nil || last != 100 {
		t.Fatalf("log has %d events (%v)", last, err)
	}
	owner, other := a, b
	if b.Actors().Active() == 1 {
		owner, other = b, a
	}
	// The owner loses the bus, as if it crashed: its lease is not renewed.
	owner.Bus().Close()
	start := time.Now()
	if err := publish(other, 100); err != nil {
		t.Fatalf("after the owner died: %v", err)
	}
	took := time.Since(start)
	if took > 3*3*time.Second {
		t.Fatalf("failover took %s", took)
	}
	t.Logf("failover took %s with a 3s lease", took.Round(time.Millisecond))
	_, last, _ = other.Log().Bounds(ctx(t), stream)
	if last != 101 || other.Actors().Active() != 1 {
		t.Fatalf("after failover: last %d, %d actors", last, other.Actors().Active())
	}
}
