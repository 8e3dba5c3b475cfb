package bus

import (
	"context"
	"testing"
	"time"

	"github.com/parleyhq/parley/internal/errs"
	"github.com/parleyhq/parley/internal/testutil/natstest"
)

// TestReconnectAfterServerRestart kills the external server under a client
// with a watch and a consumer running, restarts it on the same port and
// store, and checks that the client carries on by itself: stored data is
// back, the watch and the consumer resume. (Only the external deployment
// can lose its server while the client lives.)
func TestReconnectAfterServerRestart(t *testing.T) {
	srv := natstest.Start(t)
	b := openBus(t, Config{URL: srv.URL(), Name: "survivor"})
	ctx := ctxT(t)

	kv := newKV(t, b, KVConfig{Name: "state", LimitMarkerTTL: time.Second})
	_, err := kv.Put(ctx, "k", []byte("v1"))
	mustNoErr(t, err)
	entries := make(chan Entry, 16)
	stopWatch, err := kv.Watch(ctx, ">", func(e Entry) { entries <- e })
	mustNoErr(t, err)
	defer stopWatch()
	receive(t, entries, 5*time.Second, "initial entry")

	q := newQueue(t, b, QueueConfig{Name: "jobs", AckWait: 5 * time.Second})
	jobs := make(chan string, 16)
	consume(t, q, "workers", 2, func(_ context.Context, j Job) error {
		jobs <- j.ID
		return nil
	})
	mustNoErr(t, q.Enqueue(ctx, "before", nil))
	if id := receive(t, jobs, 5*time.Second, "job"); id != "before" {
		t.Fatalf("job %q", id)
	}
	// Its ack is in; otherwise the restart would (rightly) deliver it again.
	waitDepth(t, q, 0)

	srv.Kill()
	opCtx, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
	_, err = kv.Get(opCtx, "k")
	cancel()
	wantCode(t, err, errs.Unavailable)
	srv.Restart(t)

	// Retry as a caller would until the client has reconnected.
	eventually(t, 20*time.Second, "KV read after restart", func() bool {
		opCtx, cancel := context.WithTimeout(ctx, time.Second)
		defer cancel()
		got, err := kv.Get(opCtx, "k")
		return err == nil && string(got.Value) == "v1"
	})
	_, err = kv.Put(ctx, "k", []byte("v2"))
	mustNoErr(t, err)
	deadline := time.Now().Add(20 * time.Second)
	for {
		e := receive(t, entries, time.Until(deadline), "watch entry after restart")
		if string(e.Value) == "v2" {
			break
		}
	}

	mustNoErr(t, q.Enqueue(ctx, "after", nil))
	if id := receive(t, jobs, 20*time.Second, "job after restart"); id != "after" {
		t.Fatalf("job %q", id)
	}
	waitDepth(t, q, 0)
}

// TestReplicatedKVAndQueue runs the KV and the work queue on a three-node
// cluster with three replicas: revision conflicts are reported under
// another server error code there, and a node may die under the client.
func TestReplicatedKVAndQueue(t *testing.T) {
	c := natstest.StartCluster(t)
	b := openBus(t, Config{URL: c.URL(), Name: "clustered"})
	ctx := ctxT(t)

	kv := newKV(t, b, KVConfig{Name: "leases", Replicas: 3, LimitMarkerTTL: time.Second})
	rev, err := kv.Create(ctx, "room.r1", []byte("a"), 5*time.Second)
	mustNoErr(t, err)
	_, err = kv.Create(ctx, "room.r1", []byte("b"), 5*time.Second)
	wantCode(t, err, errs.AlreadyExists)
	rev2, err := kv.Update(ctx, "room.r1", []byte("a"), rev, 5*time.Second)
	mustNoErr(t, err)
	_, err = kv.Update(ctx, "room.r1", []byte("b"), rev, 5*time.Second)
	wantCode(t, err, errs.Conflict)
	err = kv.DeleteRevision(ctx, "room.r1", rev)
	wantCode(t, err, errs.Conflict)
	mustNoErr(t, kv.DeleteRevision(ctx, "room.r1", rev2))

	q := newQueue(t, b, QueueConfig{Name: "jobs", Replicas: 3, AckWait: 5 * time.Second})
	jobs := make(chan string, 16)
	consume(t, q, "workers", 1, func(_ context.Context, j Job) error {
		jobs <- j.ID
		return nil
	})
	mustNoErr(t, q.Enqueue(ctx, "j1", nil))
	receive(t, jobs, 10*time.Second, "job")
	waitDepth(t, q, 0) // acknowledged, so not delivered again below

	// One node dies: the two others keep a quorum.
	c.Servers[0].Kill()
	eventually(t, 30*time.Second, "a write with one node down", func() bool {
		opCtx, cancel := context.WithTimeout(ctx, 2*time.Second)
		defer cancel()
		_, err := kv.Put(opCtx, "room.r2", []byte("x"))
		return err == nil
	})
	eventually(t, 30*time.Second, "an enqueue with one node down", func() bool {
		opCtx, cancel := context.WithTimeout(ctx, 2*time.Second)
		defer cancel()
		return q.Enqueue(opCtx, "j2", nil) == nil
	})
	if id := receive(t, jobs, 30*time.Second, "job with one node down"); id != "j2" {
		t.Fatalf("job %q", id)
	}
}
