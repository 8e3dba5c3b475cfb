package bus

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/parleyhq/parley/internal/errs"
)

func newKV(t *testing.T, b *Bus, cfg KVConfig) *KV {
	t.Helper()
	kv, err := b.KV(ctxT(t), cfg)
	if err != nil {
		t.Fatalf("KV %s: %v", cfg.Name, err)
	}
	return kv
}

func TestKVBasics(t *testing.T) {
	backends(t, func(t *testing.T, e *env) {
		ctx := ctxT(t)
		kv := newKV(t, e.b, KVConfig{Name: "basics", LimitMarkerTTL: time.Second})
		// Opening the same bucket again is idempotent.
		newKV(t, e.b, KVConfig{Name: "basics", LimitMarkerTTL: time.Second})

		_, err := kv.Get(ctx, "missing")
		wantCode(t, err, errs.NotFound)

		r1, err := kv.Put(ctx, "user.u1", []byte("a"))
		mustNoErr(t, err)
		got, err := kv.Get(ctx, "user.u1")
		mustNoErr(t, err)
		if string(got.Value) != "a" || got.Revision != r1 || got.Op != OpPut || got.Key != "user.u1" || got.Created.IsZero() {
			t.Fatalf("got %+v, want value a at revision %d", got, r1)
		}

		_, err = kv.Create(ctx, "user.u1", []byte("b"), 0)
		wantCode(t, err, errs.AlreadyExists)

		r2, err := kv.Update(ctx, "user.u1", []byte("b"), r1, 0)
		mustNoErr(t, err)
		if r2 <= r1 {
			t.Fatalf("revision went from %d to %d", r1, r2)
		}
		_, err = kv.Update(ctx, "user.u1", []byte("c"), r1, 0)
		wantCode(t, err, errs.Conflict)
		_, err = kv.Update(ctx, "user.u1", []byte("c"), 0, 0)
		wantCode(t, err, errs.InvalidArgument)

		err = kv.DeleteRevision(ctx, "user.u1", r1)
		wantCode(t, err, errs.Conflict)
		if got, err := kv.Get(ctx, "user.u1"); err != nil || string(got.Value) != "b" {
			t.Fatalf("after a refused delete: %+v, %v", got, err)
		}
		mustNoErr(t, kv.DeleteRevision(ctx, "user.u1", r2))
		_, err = kv.Get(ctx, "user.u1")
		wantCode(t, err, errs.NotFound)
		// A deleted key can be created again, and updating from its old
		// revision conflicts.
		_, err = kv.Update(ctx, "user.u1", []byte("d"), r2, 0)
		wantCode(t, err, errs.Conflict)
		r3, err := kv.Create(ctx, "user.u1", []byte("e"), 0)
		mustNoErr(t, err)
		mustNoErr(t, kv.Delete(ctx, "user.u1"))
		mustNoErr(t, kv.Delete(ctx, "user.u1")) // deleting twice is fine
		mustNoErr(t, kv.Delete(ctx, "never.written"))
		_, err = kv.Update(ctx, "user.u1", []byte("f"), r3, 0)
		wantCode(t, err, errs.Conflict)

		for _, k := range []string{"user.u2.c1", "user.u2.c2", "user.u3.c1", "room.r1"} {
			_, err := kv.Put(ctx, k, []byte(k))
			mustNoErr(t, err)
		}
		mustNoErr(t, kv.Delete(ctx, "user.u3.c1"))
		for filter, want := range map[string][]string{
			"":           {"room.r1", "user.u2.c1", "user.u2.c2"},
			">":          {"room.r1", "user.u2.c1", "user.u2.c2"},
			"user.>":     {"user.u2.c1", "user.u2.c2"},
			"user.*.c1":  {"user.u2.c1"},
			"room.*":     {"room.r1"},
			"nothing.>":  nil,
			"user.u2.c2": {"user.u2.c2"},
		} {
			keys, err := kv.Keys(ctx, filter)
			mustNoErr(t, err)
			if !slices.Equal(keys, want) {
				t.Errorf("Keys(%q) = %q, want %q", filter, keys, want)
			}
		}

		for _, bad := range []string{"", ".a", "a.", "a..b", "a b", "a*", "a>"} {
			_, err := kv.Put(ctx, bad, nil)
			wantCode(t, err, errs.InvalidArgument)
			_, err = kv.PutTTL(ctx, bad, nil, time.Second)
			wantCode(t, err, errs.InvalidArgument)
		}
		_, err = kv.PutTTL(ctx, "k", nil, 0)
		wantCode(t, err, errs.InvalidArgument)

		_, err = e.b.KV(ctx, KVConfig{Name: "bad.name"})
		wantCode(t, err, errs.InvalidArgument)

		plain := newKV(t, e.b, KVConfig{Name: "plain", Storage: MemoryStorage, History: 3})
		_, err = plain.PutTTL(ctx, "k", nil, time.Second)
		wantCode(t, err, errs.InvalidArgument)
		_, err = plain.Create(ctx, "k", nil, time.Second)
		wantCode(t, err, errs.InvalidArgument)
		_, err = plain.Put(ctx, "k", []byte("v"))
		mustNoErr(t, err)
	})
}

// TestKVCreateRace checks that of many concurrent Creates of one key, and
// then of many Updates from one revision, exactly one wins: the property
// leases rely on.
func TestKVCreateRace(t *testing.T) {
	backends(t, func(t *testing.T, e *env) {
		ctx := ctxT(t)
		kv := newKV(t, e.b, KVConfig{Name: "leases", LimitMarkerTTL: time.Second})
		other := newKV(t, e.client(t), KVConfig{Name: "leases", LimitMarkerTTL: time.Second})
		const n = 8
		race := func(op func(i int) error) (wins int) {
			var wg sync.WaitGroup
			results := make(chan error, n)
			for i := range n {
				wg.Go(func() { results <- op(i) })
			}
			wg.Wait()
			close(results)
			for err := range results {
				switch {
				case err == nil:
					wins++
				case errs.Is(err, errs.AlreadyExists), errs.Is(err, errs.Conflict):
				default:
					t.Errorf("unexpected error: %v", err)
				}
			}
			return wins
		}
		wins := race(func(i int) error {
			k := kv
			if i%2 == 1 {
				k = other
			}
			_, err := k.Create(ctx, "room.r1", fmt.Appendf(nil, "node%d", i), 5*time.Second)
			return err
		})
		if wins != 1 {
			t.Fatalf("%d creates won, want 1", wins)
		}
		cur, err := kv.Get(ctx, "room.r1")
		mustNoErr(t, err)
		wins = race(func(i int) error {
			_, err := other.Update(ctx, "room.r1", fmt.Appendf(nil, "node%d", i), cur.Revision, 5*time.Second)
			return err
		})
		if wins != 1 {
			t.Fatalf("%d updates won, want 1", wins)
		}
	})
}

func TestKVTTLExpiry(t *testing.T) {
	backends(t, func(t *testing.T, e *env) {
		ctx := ctxT(t)
		kv := newKV(t, e.b, KVConfig{Name: "presence", Storage: MemoryStorage, LimitMarkerTTL: time.Second})
		watcher := newKV(t, e.client(t), KVConfig{Name: "presence", Storage: MemoryStorage, LimitMarkerTTL: time.Second})

		entries := make(chan Entry, 64)
		stop, err := watcher.Watch(ctx, "user.>", func(en Entry) { entries <- en })
		mustNoErr(t, err)
		defer stop()

		start := time.Now()
		rev, err := kv.PutTTL(ctx, "user.u1.c1", []byte("node-a"), time.Second)
		mustNoErr(t, err)
		_, err = kv.Put(ctx, "user.u2.c1", []byte("no ttl"))
		mustNoErr(t, err)

		en := receive(t, entries, 5*time.Second, "put")
		if en.Op != OpPut || en.Key != "user.u1.c1" || string(en.Value) != "node-a" || en.Revision != rev {
			t.Fatalf("first entry %+v", en)
		}
		if en := receive(t, entries, 5*time.Second, "put"); en.Key != "user.u2.c1" {
			t.Fatalf("second entry %+v", en)
		}
		if got, err := kv.Get(ctx, "user.u1.c1"); err != nil || string(got.Value) != "node-a" {
			t.Fatalf("before expiry: %+v, %v", got, err)
		}

		en = receive(t, entries, 10*time.Second, "expiry")
		if en.Op != OpExpired || en.Key != "user.u1.c1" || en.Value != nil || en.Revision <= rev {
			t.Fatalf("expiry entry %+v", en)
		}
		if took := time.Since(start); took < 900*time.Millisecond {
			t.Fatalf("key expired after %v, before its 1s TTL", took)
		}
		_, err = kv.Get(ctx, "user.u1.c1")
		wantCode(t, err, errs.NotFound)
		keys, err := kv.Keys(ctx, "user.>")
		mustNoErr(t, err)
		if !slices.Equal(keys, []string{"user.u2.c1"}) {
			t.Fatalf("keys after expiry %q", keys)
		}
		// The key without a TTL stays.
		if _, err := kv.Get(ctx, "user.u2.c1"); err != nil {
			t.Fatal(err)
		}
		// An expired key can be created again.
		_, err = kv.Create(ctx, "user.u1.c1", []byte("node-b"), 0)
		mustNoErr(t, err)
		if en := receive(t, entries, 5*time.Second, "re-create"); en.Op != OpPut || string(en.Value) != "node-b" {
			t.Fatalf("re-create entry %+v", en)
		}
	})
}

// TestKVLease walks a lease through create, renewals past its first
// deadline, lapse and takeover by another node.
func TestKVLease(t *testing.T) {
	backends(t, func(t *testing.T, e *env) {
		ctx := ctxT(t)
		a := newKV(t, e.b, KVConfig{Name: "leases", LimitMarkerTTL: time.Second})
		b := newKV(t, e.client(t), KVConfig{Name: "leases", LimitMarkerTTL: time.Second})
		const ttl = time.Second

		rev, err := a.Create(ctx, "room.r1", []byte("node-a"), ttl)
		mustNoErr(t, err)
		_, err = b.Create(ctx, "room.r1", []byte("node-b"), ttl)
		wantCode(t, err, errs.AlreadyExists)

		// Renew every 400 ms for 2.5 s: the lease outlives its first TTL.
		renewUntil := time.Now().Add(2500 * time.Millisecond)
		for time.Now().Before(renewUntil) {
			next := time.Now().Add(400 * time.Millisecond)
			rev, err = a.Update(ctx, "room.r1", []byte("node-a"), rev, ttl)
			mustNoErr(t, err)
			for time.Now().Before(next) {
				time.Sleep(20 * time.Millisecond)
			}
		}
		if got, err := b.Get(ctx, "room.r1"); err != nil || string(got.Value) != "node-a" {
			t.Fatalf("renewed lease: %+v, %v", got, err)
		}

		// Node a stops renewing; node b takes over once the lease lapses.
		var takeover uint64
		eventually(t, 10*time.Second, "takeover", func() bool {
			r, err := b.Create(ctx, "room.r1", []byte("node-b"), ttl)
			if errs.Is(err, errs.AlreadyExists) {
				return false
			}
			mustNoErr(t, err)
			takeover = r
			return true
		})
		_, err = a.Update(ctx, "room.r1", []byte("node-a"), rev, ttl)
		wantCode(t, err, errs.Conflict)
		err = a.DeleteRevision(ctx, "room.r1", rev)
		wantCode(t, err, errs.Conflict)
		mustNoErr(t, b.DeleteRevision(ctx, "room.r1", takeover))
	})
}

func TestKVWatch(t *testing.T) {
	backends(t, func(t *testing.T, e *env) {
		ctx := ctxT(t)
		kv := newKV(t, e.b, KVConfig{Name: "watch", History: 5, LimitMarkerTTL: time.Second})
		_, err := kv.Put(ctx, "a.1", []byte("old"))
		mustNoErr(t, err)
		_, err = kv.Put(ctx, "a.1", []byte("current"))
		mustNoErr(t, err)
		_, err = kv.Put(ctx, "b.1", []byte("other"))
		mustNoErr(t, err)

		entries := make(chan Entry, 64)
		wctx, cancel := context.WithCancel(ctx)
		defer cancel()
		stop, err := kv.Watch(wctx, "a.*", func(en Entry) { entries <- en })
		mustNoErr(t, err)

		// The latest value of each matching key first, not its history.
		if en := receive(t, entries, 5*time.Second, "initial value"); en.Key != "a.1" || string(en.Value) != "current" {
			t.Fatalf("initial entry %+v", en)
		}
		quiet(t, entries, 100*time.Millisecond, "an entry for history or a non-matching key")

		_, err = kv.Put(ctx, "a.2", []byte("x"))
		mustNoErr(t, err)
		_, err = kv.Put(ctx, "b.2", []byte("not watched"))
		mustNoErr(t, err)
		mustNoErr(t, kv.Delete(ctx, "a.1"))
		var last uint64
		for i, want := range []struct {
			key string
			op  Op
		}{{"a.2", OpPut}, {"a.1", OpDelete}} {
			en := receive(t, entries, 5*time.Second, "update")
			if en.Key != want.key || en.Op != want.op || en.Revision <= last {
				t.Fatalf("update %d: %+v, want %s %v after revision %d", i, en, want.key, want.op, last)
			}
			last = en.Revision
		}
		if _, err := kv.Get(ctx, "a.1"); !errs.Is(err, errs.NotFound) {
			t.Fatalf("history survived a delete: %v", err)
		}

		// Cancelling the context ends the watch.
		cancel()
		stop() // and stop after that is harmless
		stop()
		_, err = kv.Put(ctx, "a.3", nil)
		mustNoErr(t, err)
		quiet(t, entries, 200*time.Millisecond, "entry after the watch ended")

		// A stop on a live watch ends it too.
		stop2, err := kv.Watch(ctx, "a.3", func(en Entry) { entries <- en })
		mustNoErr(t, err)
		receive(t, entries, 5*time.Second, "initial value")
		stop2()
		_, err = kv.Put(ctx, "a.3", nil)
		mustNoErr(t, err)
		quiet(t, entries, 200*time.Millisecond, "entry after stop")
	})
}

func TestOpString(t *testing.T) {
	for op, want := range map[Op]string{OpPut: "put", OpDelete: "delete", OpExpired: "expired", Op(0): "unknown"} {
		if op.String() != want {
			t.Errorf("%d.String() = %q, want %q", op, op.String(), want)
		}
	}
	for in, want := range map[time.Duration]time.Duration{
		0: time.Second, time.Millisecond: time.Second, time.Second: time.Second,
		1500 * time.Millisecond: 2 * time.Second, 3 * time.Second: 3 * time.Second,
	} {
		if got := wholeSeconds(in); got != want {
			t.Errorf("wholeSeconds(%v) = %v, want %v", in, got, want)
		}
	}
}
