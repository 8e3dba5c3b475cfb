package bus

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/parleyhq/parley/internal/core"
	"github.com/parleyhq/parley/internal/errs"
)

func TestPublishSubscribe(t *testing.T) {
	backends(t, func(t *testing.T, e *env) {
		room := core.NewStreamID("room", "r1")
		other := e.client(t)
		got := make(chan string, 16)
		sub, err := other.Subscribe(StreamEvents(room), func(subject string, data []byte) {
			got <- subject + " " + string(data)
		})
		mustNoErr(t, err)
		wild := make(chan string, 16)
		wsub, err := other.Subscribe("parley.ev.room.*", func(subject string, data []byte) { wild <- string(data) })
		mustNoErr(t, err)
		defer wsub.Unsubscribe()
		mustNoErr(t, other.Flush(ctxT(t)))

		for i := range 3 {
			mustNoErr(t, e.b.Publish(StreamEvents(room), fmt.Appendf(nil, "e%d", i)))
		}
		for i := range 3 {
			want := fmt.Sprintf("%s e%d", StreamEvents(room), i)
			if v := receive(t, got, 5*time.Second, "event"); v != want {
				t.Fatalf("got %q, want %q (in order)", v, want)
			}
			if v := receive(t, wild, 5*time.Second, "wildcard event"); v != fmt.Sprintf("e%d", i) {
				t.Fatalf("wildcard got %q", v)
			}
		}

		mustNoErr(t, sub.Unsubscribe())
		mustNoErr(t, sub.Unsubscribe()) // twice is fine
		mustNoErr(t, other.Flush(ctxT(t)))
		mustNoErr(t, e.b.Publish(StreamEvents(room), []byte("late")))
		receive(t, wild, 5*time.Second, "event after unsubscribe on the other subscription")
		quiet(t, got, 100*time.Millisecond, "event after unsubscribe")
	})
}

func TestQueueSubscribeBalances(t *testing.T) {
	backends(t, func(t *testing.T, e *env) {
		got := make(chan int, 64)
		for i := range 2 {
			sub, err := e.b.QueueSubscribe("parley.test.work", "workers", func(string, []byte) { got <- i })
			mustNoErr(t, err)
			defer sub.Unsubscribe()
		}
		mustNoErr(t, e.b.Flush(ctxT(t)))
		for range 20 {
			mustNoErr(t, e.b.Publish("parley.test.work", nil))
		}
		for range 20 {
			receive(t, got, 5*time.Second, "queue message")
		}
		quiet(t, got, 100*time.Millisecond, "a message delivered to two members")
	})
}

func TestRequestReply(t *testing.T) {
	backends(t, func(t *testing.T, e *env) {
		room := core.NewStreamID("room", "r1")
		owner := e.client(t)
		sub, err := owner.Handle(StreamCommands(room), func(ctx context.Context, data []byte) []byte {
			if _, ok := ctx.Deadline(); !ok {
				return []byte("no deadline")
			}
			return append([]byte("ok:"), data...)
		})
		mustNoErr(t, err)
		mustNoErr(t, owner.Flush(ctxT(t)))

		reply, err := e.b.Request(ctxT(t), StreamCommands(room), []byte("comment"))
		mustNoErr(t, err)
		if string(reply) != "ok:comment" {
			t.Fatalf("reply %q", reply)
		}

		mustNoErr(t, sub.Unsubscribe())
		mustNoErr(t, owner.Flush(ctxT(t)))
		start := time.Now()
		_, err = e.b.Request(ctxT(t), StreamCommands(room), []byte("comment"))
		wantCode(t, err, errs.Unavailable)
		if time.Since(start) > 5*time.Second {
			t.Fatalf("no-responders took %v; it should fail fast", time.Since(start))
		}

		// A responder that never answers: the caller's deadline wins.
		_, err = owner.Subscribe("parley.test.silent", func(string, []byte) {})
		mustNoErr(t, err)
		mustNoErr(t, owner.Flush(ctxT(t)))
		ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
		defer cancel()
		_, err = e.b.Request(ctx, "parley.test.silent", nil)
		wantCode(t, err, errs.Unavailable)
	})
}

func TestPing(t *testing.T) {
	backends(t, func(t *testing.T, e *env) {
		mustNoErr(t, e.b.Ping(ctxT(t)))
		if e.b.Embedded() != (e.srv == nil) {
			t.Fatalf("Embedded() = %v", e.b.Embedded())
		}
	})
}

func TestFlushWithoutDeadline(t *testing.T) {
	backends(t, func(t *testing.T, e *env) {
		mustNoErr(t, e.b.Flush(context.Background()))
		mustNoErr(t, e.b.Ping(context.Background()))
	})
}
