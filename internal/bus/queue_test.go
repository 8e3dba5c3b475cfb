package bus

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/parleyhq/parley/internal/errs"
)

func newQueue(t *testing.T, b *Bus, cfg QueueConfig) *Queue {
	t.Helper()
	q, err := b.Queue(ctxT(t), cfg)
	if err != nil {
		t.Fatalf("queue %s: %v", cfg.Name, err)
	}
	return q
}

func consume(t *testing.T, q *Queue, durable string, concurrency int, fn func(context.Context, Job) error) func() {
	t.Helper()
	stop, err := q.Consume(ctxT(t), durable, concurrency, fn)
	if err != nil {
		t.Fatalf("consume %s: %v", q.Name(), err)
	}
	t.Cleanup(stop)
	return stop
}

func waitDepth(t *testing.T, q *Queue, want uint64) {
	t.Helper()
	var got uint64
	deadline := time.Now().Add(10 * time.Second)
	for {
		d, err := q.Depth(ctxT(t))
		mustNoErr(t, err)
		if got = d; got == want {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("queue %s: depth %d, want %d", q.Name(), got, want)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestQueueAck(t *testing.T) {
	backends(t, func(t *testing.T, e *env) {
		ctx := ctxT(t)
		q := newQueue(t, e.b, QueueConfig{Name: "dumps", AckWait: 5 * time.Second})
		// Opening it again is idempotent.
		newQueue(t, e.b, QueueConfig{Name: "dumps", AckWait: 5 * time.Second})
		const n = 20
		for i := range n {
			mustNoErr(t, q.Enqueue(ctx, fmt.Sprintf("job-%d", i), fmt.Appendf(nil, "data-%d", i)))
		}
		waitDepth(t, q, n)

		var mu sync.Mutex
		seen := map[string]int{}
		done := make(chan struct{}, n)
		consume(t, q, "workers", 4, func(_ context.Context, j Job) error {
			if j.Attempt != 1 || j.Enqueued.IsZero() || string(j.Data) != "data-"+j.ID[len("job-"):] {
				return Permanent(fmt.Errorf("bad job %+v", j))
			}
			mu.Lock()
			seen[j.ID]++
			mu.Unlock()
			done <- struct{}{}
			return nil
		})
		for range n {
			receive(t, done, 10*time.Second, "job")
		}
		waitDepth(t, q, 0)
		quiet(t, done, 200*time.Millisecond, "a job processed twice")
		mu.Lock()
		defer mu.Unlock()
		if len(seen) != n {
			t.Fatalf("processed %d distinct jobs, want %d", len(seen), n)
		}
		dls, err := q.DeadLetters(ctx, 10)
		mustNoErr(t, err)
		if len(dls) != 0 {
			t.Fatalf("dead letters %+v", dls)
		}
	})
}

func TestQueueNakRedelivery(t *testing.T) {
	backends(t, func(t *testing.T, e *env) {
		ctx := ctxT(t)
		const backoff = 300 * time.Millisecond
		q := newQueue(t, e.b, QueueConfig{Name: "notify", AckWait: 5 * time.Second, MaxDeliver: 5, Backoff: []time.Duration{backoff}})
		type try struct {
			attempt int
			at      time.Time
		}
		tries := make(chan try, 10)
		consume(t, q, "workers", 1, func(_ context.Context, j Job) error {
			tries <- try{j.Attempt, time.Now()}
			if j.Attempt < 3 {
				return fmt.Errorf("transient failure %d", j.Attempt)
			}
			return nil
		})
		mustNoErr(t, q.Enqueue(ctx, "n1", []byte("x")))
		var prev time.Time
		for want := 1; want <= 3; want++ {
			tr := receive(t, tries, 10*time.Second, "delivery")
			if tr.attempt != want {
				t.Fatalf("attempt %d, want %d", tr.attempt, want)
			}
			if want > 1 && tr.at.Sub(prev) < backoff-50*time.Millisecond {
				t.Fatalf("redelivered after %v, before the %v backoff", tr.at.Sub(prev), backoff)
			}
			prev = tr.at
		}
		waitDepth(t, q, 0)
		quiet(t, tries, 200*time.Millisecond, "a delivery after success")
	})
}

// TestQueueAckWaitRedelivery has a worker take a job and die without
// acknowledging it: the job goes to another worker once AckWait passes.
func TestQueueAckWaitRedelivery(t *testing.T) {
	backends(t, func(t *testing.T, e *env) {
		ctx := ctxT(t)
		const ackWait = time.Second
		cfg := QueueConfig{Name: "precompute", AckWait: ackWait, MaxDeliver: 3, Backoff: []time.Duration{50 * time.Millisecond}}
		worker := e.client(t)
		wq := newQueue(t, worker, cfg)
		taken := make(chan time.Time, 1)
		release := make(chan struct{})
		stopCrashed := consume(t, wq, "workers", 1, func(context.Context, Job) error {
			taken <- time.Now()
			<-release
			return nil // too late: its connection is gone
		})
		q := newQueue(t, e.b, cfg)
		mustNoErr(t, q.Enqueue(ctx, "p1", []byte("x")))
		first := receive(t, taken, 10*time.Second, "first delivery")
		crash(worker)
		close(release)
		stopCrashed()

		attempts := make(chan int, 4)
		consume(t, q, "workers", 1, func(_ context.Context, j Job) error {
			attempts <- j.Attempt
			return nil
		})
		if a := receive(t, attempts, 10*time.Second, "redelivery"); a != 2 {
			t.Fatalf("redelivered as attempt %d, want 2", a)
		}
		if waited := time.Since(first); waited < ackWait-100*time.Millisecond {
			t.Fatalf("redelivered after %v, before AckWait %v", waited, ackWait)
		}
		waitDepth(t, q, 0)
	})
}

// TestQueueInProgress checks that a worker that reports progress keeps its
// job past AckWait, and that its context follows the extended deadline.
func TestQueueInProgress(t *testing.T) {
	backends(t, func(t *testing.T, e *env) {
		ctx := ctxT(t)
		const ackWait = time.Second
		q := newQueue(t, e.b, QueueConfig{Name: "slow", AckWait: ackWait})
		attempts := make(chan int, 4)
		results := make(chan error, 4)
		consume(t, q, "workers", 2, func(ctx context.Context, j Job) error {
			attempts <- j.Attempt
			if j.Attempt > 1 {
				return nil
			}
			for range 6 { // 1.8 s in all, nearly two AckWaits
				select {
				case <-ctx.Done():
					results <- ctx.Err()
					return ctx.Err()
				case <-time.After(300 * time.Millisecond):
				}
				if err := j.InProgress(); err != nil {
					results <- err
					return err
				}
			}
			results <- nil
			// Now stop reporting: the context ends with the deadline.
			<-ctx.Done()
			results <- ctx.Err()
			return nil
		})
		mustNoErr(t, q.Enqueue(ctx, "s1", nil))
		if a := receive(t, attempts, 10*time.Second, "delivery"); a != 1 {
			t.Fatalf("attempt %d", a)
		}
		mustNoErr(t, receive(t, results, 10*time.Second, "progress"))
		if len(attempts) != 0 {
			t.Fatal("the job was redelivered while its worker reported progress")
		}
		if err := receive(t, results, 10*time.Second, "deadline"); !errors.Is(err, context.Canceled) {
			t.Fatalf("context ended with %v", err)
		}
		waitDepth(t, q, 0)
		quiet(t, attempts, 2*ackWait, "a redelivery of an acknowledged job")

		var zero Job
		wantCode(t, zero.InProgress(), errs.InvalidArgument)
	})
}

func TestQueueDeadLetter(t *testing.T) {
	backends(t, func(t *testing.T, e *env) {
		ctx := ctxT(t)
		q := newQueue(t, e.b, QueueConfig{Name: "webhooks", AckWait: 5 * time.Second, MaxDeliver: 3, Backoff: []time.Duration{20 * time.Millisecond, 50 * time.Millisecond}})
		calls := make(chan string, 32)
		consume(t, q, "workers", 2, func(_ context.Context, j Job) error {
			calls <- j.ID
			switch j.ID {
			case "bad-request":
				return Permanent(fmt.Errorf("endpoint said 400 on attempt %d", j.Attempt))
			case "broken":
				return fmt.Errorf("endpoint down on attempt %d\nsecond line", j.Attempt)
			case "panics":
				panic("handler bug")
			}
			return nil
		})
		start := time.Now()
		for _, id := range []string{"broken", "bad-request", "panics", "fine"} {
			mustNoErr(t, q.Enqueue(ctx, id, []byte("payload-"+id)))
		}
		var dls []DeadLetter
		eventually(t, 10*time.Second, "three dead letters", func() bool {
			var err error
			dls, err = q.DeadLetters(ctx, 10)
			mustNoErr(t, err)
			return len(dls) == 3
		})
		waitDepth(t, q, 0)
		byID := map[string]DeadLetter{}
		for _, dl := range dls {
			byID[dl.JobID] = dl
		}
		for id, want := range map[string]struct {
			attempts int
			err      string
		}{
			"broken":      {3, "endpoint down on attempt 3 second line"},
			"bad-request": {1, "endpoint said 400 on attempt 1"},
			"panics":      {3, "panic: handler bug"},
		} {
			dl, ok := byID[id]
			if !ok {
				t.Fatalf("%s not dead-lettered: %+v", id, dls)
			}
			if dl.Attempts != want.attempts || dl.Error != want.err || string(dl.Data) != "payload-"+id {
				t.Errorf("%s: %+v, want %d attempts and error %q", id, dl, want.attempts, want.err)
			}
			if dl.Enqueued.Before(start.Add(-time.Second)) || dl.Failed.Before(dl.Enqueued) || dl.Seq == 0 {
				t.Errorf("%s: times %v / %v", id, dl.Enqueued, dl.Failed)
			}
		}
		// 3 + 1 + 3 failed calls and one success, and no more.
		perJob := map[string]int{}
		for range 8 {
			perJob[receive(t, calls, 5*time.Second, "handler call")]++
		}
		quiet(t, calls, 200*time.Millisecond, "a handler call after dead-lettering")
		if perJob["broken"] != 3 || perJob["bad-request"] != 1 || perJob["panics"] != 3 || perJob["fine"] != 1 {
			t.Fatalf("handler calls per job %v", perJob)
		}
		if dls, err := q.DeadLetters(ctx, 2); err != nil || len(dls) != 2 {
			t.Fatalf("limit 2: %d, %v", len(dls), err)
		}
		all, err := q.DeadLetters(ctx, 100)
		mustNoErr(t, err)
		if n, err := q.DeadLetterDepth(ctx); err != nil || n != uint64(len(all)) || n == 0 {
			t.Fatalf("dead letter depth %d (%v), listed %d", n, err, len(all))
		}
		if dls, err := q.DeadLetters(ctx, 0); err != nil || len(dls) != 0 {
			t.Fatalf("limit 0: %d, %v", len(dls), err)
		}
	})
}

// TestQueueDeadLetterAfterTimeouts: a job whose every delivery ends
// without a result (the worker dies) is dead-lettered, not left in the
// stream forever.
func TestQueueDeadLetterAfterTimeouts(t *testing.T) {
	backends(t, func(t *testing.T, e *env) {
		ctx := ctxT(t)
		cfg := QueueConfig{Name: "analytics", AckWait: 500 * time.Millisecond, MaxDeliver: 1}
		worker := e.client(t)
		wq := newQueue(t, worker, cfg)
		taken := make(chan struct{}, 1)
		release := make(chan struct{})
		stopCrashed := consume(t, wq, "workers", 1, func(context.Context, Job) error {
			taken <- struct{}{}
			<-release
			return nil
		})
		q := newQueue(t, e.b, cfg)
		mustNoErr(t, q.Enqueue(ctx, "a1", []byte("x")))
		receive(t, taken, 10*time.Second, "delivery")
		crash(worker)
		close(release)
		stopCrashed()

		var calls atomic.Int32
		consume(t, q, "workers", 1, func(context.Context, Job) error {
			calls.Add(1)
			return nil
		})
		var dls []DeadLetter
		eventually(t, 10*time.Second, "dead letter", func() bool {
			var err error
			dls, err = q.DeadLetters(ctx, 10)
			mustNoErr(t, err)
			return len(dls) == 1
		})
		waitDepth(t, q, 0)
		if dls[0].JobID != "a1" || dls[0].Attempts != 2 || dls[0].Error == "" {
			t.Fatalf("dead letter %+v", dls[0])
		}
		if calls.Load() != 0 {
			t.Fatalf("the handler ran on a delivery past MaxDeliver")
		}
	})
}

func TestQueueDedup(t *testing.T) {
	backends(t, func(t *testing.T, e *env) {
		ctx := ctxT(t)
		q := newQueue(t, e.b, QueueConfig{Name: "dedup", AckWait: 5 * time.Second})
		for range 3 {
			mustNoErr(t, q.Enqueue(ctx, "same-id", []byte("first")))
		}
		mustNoErr(t, q.Enqueue(ctx, "other-id", nil))
		// Jobs without an id are never deduplicated.
		mustNoErr(t, q.Enqueue(ctx, "", nil))
		mustNoErr(t, q.Enqueue(ctx, "", nil))
		waitDepth(t, q, 4)
		err := q.Enqueue(ctx, "bad\nid", nil)
		wantCode(t, err, errs.InvalidArgument)

		ids := make(chan string, 10)
		consume(t, q, "workers", 2, func(_ context.Context, j Job) error {
			ids <- j.ID
			return nil
		})
		got := map[string]int{}
		for range 4 {
			got[receive(t, ids, 10*time.Second, "job")]++
		}
		quiet(t, ids, 200*time.Millisecond, "a duplicate job")
		if got["same-id"] != 1 || got["other-id"] != 1 || len(got) != 4 {
			t.Fatalf("jobs %v", got)
		}
		waitDepth(t, q, 0)
		// Still within the window after processing: not stored again.
		mustNoErr(t, q.Enqueue(ctx, "same-id", nil))
		quiet(t, ids, 200*time.Millisecond, "a re-enqueued duplicate")
	})
}

// TestQueueSharedDurable runs two workers (two connections, as on two
// nodes) on one durable consumer: every job runs exactly once, and both
// take part.
func TestQueueSharedDurable(t *testing.T) {
	backends(t, func(t *testing.T, e *env) {
		ctx := ctxT(t)
		cfg := QueueConfig{Name: "shared", AckWait: 5 * time.Second}
		q := newQueue(t, e.b, cfg)
		const n = 40
		for i := range n {
			mustNoErr(t, q.Enqueue(ctx, fmt.Sprintf("j%d", i), nil))
		}
		var mu sync.Mutex
		runs := map[string]int{}
		perWorker := [2]int{}
		done := make(chan struct{}, 2*n)
		for w, b := range []*Bus{e.b, e.client(t)} {
			wq := newQueue(t, b, cfg)
			consume(t, wq, "workers", 2, func(_ context.Context, j Job) error {
				time.Sleep(5 * time.Millisecond) // some work, so both workers get jobs
				mu.Lock()
				runs[j.ID]++
				perWorker[w]++
				mu.Unlock()
				done <- struct{}{}
				return nil
			})
		}
		for range n {
			receive(t, done, 10*time.Second, "job")
		}
		waitDepth(t, q, 0)
		quiet(t, done, 300*time.Millisecond, "a job run twice")
		mu.Lock()
		defer mu.Unlock()
		if len(runs) != n {
			t.Fatalf("%d distinct jobs ran, want %d", len(runs), n)
		}
		if perWorker[0] == 0 || perWorker[1] == 0 {
			t.Fatalf("jobs per worker %v: one worker got none", perWorker)
		}
	})
}

func TestQueueConfigErrors(t *testing.T) {
	backends(t, func(t *testing.T, e *env) {
		ctx := ctxT(t)
		_, err := e.b.Queue(ctx, QueueConfig{Name: "bad.name"})
		wantCode(t, err, errs.InvalidArgument)
		_, err = e.b.Queue(ctx, QueueConfig{Name: "q", AckWait: -time.Second})
		wantCode(t, err, errs.InvalidArgument)
		q := newQueue(t, e.b, QueueConfig{Name: "q"})
		_, err = q.Consume(ctx, "bad name", 1, func(context.Context, Job) error { return nil })
		wantCode(t, err, errs.InvalidArgument)
		// A work queue admits one consumer: a second durable is refused.
		consume(t, q, "workers", 1, func(context.Context, Job) error { return nil })
		_, err = q.Consume(ctx, "others", 1, func(context.Context, Job) error { return nil })
		if err == nil {
			t.Fatal("a second durable on a work queue was accepted")
		}
		if !IsPermanent(Permanent(errors.New("x"))) || IsPermanent(errors.New("x")) || Permanent(nil) != nil {
			t.Fatal("Permanent/IsPermanent")
		}
		if !IsPermanent(fmt.Errorf("wrapped: %w", Permanent(errors.New("x")))) {
			t.Fatal("IsPermanent does not see through wrapping")
		}
	})
}

// TestCloseStopsConsumers checks that Close ends watches and consumers and
// waits for a job in progress to finish and be acknowledged.
func TestCloseStopsConsumers(t *testing.T) {
	backends(t, func(t *testing.T, e *env) {
		ctx := ctxT(t)
		b := e.client(t)
		q := newQueue(t, b, QueueConfig{Name: "closing", AckWait: 5 * time.Second})
		kv := newKV(t, b, KVConfig{Name: "closing"})
		_, err := kv.Watch(ctx, ">", func(Entry) {})
		mustNoErr(t, err)
		started := make(chan struct{})
		var finished atomic.Bool
		_, err = q.Consume(ctx, "workers", 1, func(context.Context, Job) error {
			close(started)
			time.Sleep(200 * time.Millisecond)
			finished.Store(true)
			return nil
		})
		mustNoErr(t, err)
		mustNoErr(t, q.Enqueue(ctx, "c1", nil))
		receive(t, started, 10*time.Second, "job start")
		mustNoErr(t, b.Close())
		if !finished.Load() {
			t.Fatal("Close returned before the running job finished")
		}
		waitDepth(t, newQueue(t, e.b, QueueConfig{Name: "closing", AckWait: 5 * time.Second}), 0)
		_, err = q.Consume(ctx, "workers", 1, func(context.Context, Job) error { return nil })
		if err == nil {
			t.Fatal("Consume on a closed bus succeeded")
		}
	})
}
