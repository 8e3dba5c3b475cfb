package actor_test

import (
	"context"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/parleyhq/parley/internal/actor"
	"github.com/parleyhq/parley/internal/core"
	"github.com/parleyhq/parley/internal/eventlog"
	"github.com/parleyhq/parley/internal/sqlite"
)

// TestObserveAndTell: Tell queues commands in order without waiting, and
// the kind's observer sees every committed event once, in order.
func TestObserveAndTell(t *testing.T) {
	st, err := sqlite.OpenEventLog(context.Background(), filepath.Join(t.TempDir(), "ev.db"))
	if err != nil {
		t.Fatal(err)
	}
	log := eventlog.NewLog(st, eventlog.Options{})
	h := actor.NewHost(actor.Options{Log: log, Publisher: &recorder{evs: map[core.StreamID][]uint64{}}})
	h.Register("c", func(core.StreamID) actor.Behavior { return &counter{limit: 1 << 30} })
	var mu sync.Mutex
	var seen []uint64
	h.Observe("c", func(s core.StreamID, evs []eventlog.Event) {
		mu.Lock()
		defer mu.Unlock()
		for _, e := range evs {
			seen = append(seen, e.Seq)
		}
	})
	t.Cleanup(func() { h.Close(); log.Close(); st.Close() })
	ctx := context.Background()
	for i := 0; i < 300; i++ {
		if err := h.Tell(ctx, "c:obs", add(1, "")); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := h.Do(ctx, "c:obs", add(1, "")); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(seen) != 301 {
		t.Fatalf("observed %d events", len(seen))
	}
	for i, s := range seen {
		if s != uint64(i+1) {
			t.Fatalf("observed %d at %d", s, i)
		}
	}
	if err := h.Tell(ctx, "nope:x", add(1, "")); err == nil {
		t.Fatal("Tell to an unknown kind succeeded")
	}
}

// ticking records the times its ticks were given.
type ticking struct {
	counter
	mu    sync.Mutex
	times []time.Time
}

func (b *ticking) TickInterval() time.Duration { return 5 * time.Millisecond }
func (b *ticking) Busy() bool                  { return true }
func (b *ticking) Tick(now time.Time) (actor.Decision, bool) {
	b.mu.Lock()
	b.times = append(b.times, now)
	b.mu.Unlock()
	return actor.Decision{}, false
}

type fixedClock struct{ t time.Time }

func (c fixedClock) Now() time.Time { return c.t }

// TestTickUsesHostClock: ticks get the host clock's time, so an injected
// clock moves deadlines.
func TestTickUsesHostClock(t *testing.T) {
	st, err := sqlite.OpenEventLog(context.Background(), filepath.Join(t.TempDir(), "ev.db"))
	if err != nil {
		t.Fatal(err)
	}
	log := eventlog.NewLog(st, eventlog.Options{})
	at := time.Date(2040, 1, 1, 0, 0, 0, 0, time.UTC)
	b := &ticking{counter: counter{limit: 10}}
	h := actor.NewHost(actor.Options{Log: log, Publisher: &recorder{evs: map[core.StreamID][]uint64{}}, Clock: fixedClock{at}})
	h.Register("t", func(core.StreamID) actor.Behavior { return b })
	t.Cleanup(func() { h.Close(); log.Close(); st.Close() })
	if _, err := h.Do(context.Background(), "t:1", add(1, "")); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		b.mu.Lock()
		n := len(b.times)
		var first time.Time
		if n > 0 {
			first = b.times[0]
		}
		b.mu.Unlock()
		if n > 0 {
			if !first.Equal(at) {
				t.Fatalf("tick at %v, want the host clock's %v", first, at)
			}
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("no tick")
		}
		time.Sleep(time.Millisecond)
	}
}

// flushing holds one unlogged count until Flush.
type flushing struct{ counter }

func (b *flushing) Flush(time.Time) (actor.Decision, bool) {
	return actor.Decision{Events: []eventlog.Draft{{Type: "added", Data: []byte(`{"N":7}`)}}}, true
}

// TestCloseFlushes: a graceful Close commits what a Flusher holds.
func TestCloseFlushes(t *testing.T) {
	st, err := sqlite.OpenEventLog(context.Background(), filepath.Join(t.TempDir(), "ev.db"))
	if err != nil {
		t.Fatal(err)
	}
	log := eventlog.NewLog(st, eventlog.Options{})
	defer func() { log.Close(); st.Close() }()
	h := actor.NewHost(actor.Options{Log: log, Publisher: &recorder{evs: map[core.StreamID][]uint64{}}})
	h.Register("f", func(core.StreamID) actor.Behavior { return &flushing{counter{limit: 100}} })
	if _, err := h.Do(context.Background(), "f:1", add(1, "")); err != nil {
		t.Fatal(err)
	}
	h.Close()
	evs, err := log.Read(context.Background(), "f:1", 0, 10)
	if err != nil || len(evs) != 2 || string(evs[1].Data) != `{"N":7}` {
		t.Fatalf("after close: %v %v", evs, err)
	}
}

// gatedLog lets one append through per token.
type gatedLog struct {
	actor.Log
	gate chan struct{}
}

func (l *gatedLog) AppendMany(ctx context.Context, reqs []eventlog.AppendRequest) ([]eventlog.AppendResult, []error) {
	<-l.gate
	return l.Log.AppendMany(ctx, reqs)
}

// early answers its "peek" command early, without events.
type early struct{ counter }

func (b *early) Decide(cmd *actor.Command) (actor.Decision, error) {
	if cmd.Name == "peek" {
		return actor.Decision{Reply: "ok", Early: true}, nil
	}
	return b.counter.Decide(cmd)
}

// TestEarlyAnswer: a decision marked Early is answered while the commit of
// the batch it was decided in still runs.
func TestEarlyAnswer(t *testing.T) {
	st, err := sqlite.OpenEventLog(context.Background(), filepath.Join(t.TempDir(), "ev.db"))
	if err != nil {
		t.Fatal(err)
	}
	log := eventlog.NewLog(st, eventlog.Options{})
	gl := &gatedLog{Log: log, gate: make(chan struct{}, 8)}
	h := actor.NewHost(actor.Options{Log: gl, Publisher: &recorder{evs: map[core.StreamID][]uint64{}}})
	h.Register("e", func(core.StreamID) actor.Behavior { return &early{counter{limit: 100}} })
	defer func() { h.Close(); log.Close(); st.Close() }()
	ctx := context.Background()
	wrote := make(chan error, 2)
	go func() { _, err := h.Do(ctx, "e:1", add(1, "")); wrote <- err }() // A: its commit waits
	time.Sleep(50 * time.Millisecond)
	go func() { _, err := h.Do(ctx, "e:1", add(1, "")); wrote <- err }() // B and the peek queue behind A
	peeked := make(chan any, 1)
	time.Sleep(20 * time.Millisecond)
	go func() {
		res, _ := h.Do(ctx, "e:1", actor.Command{Name: "peek"})
		peeked <- res.Reply
	}()
	time.Sleep(50 * time.Millisecond)
	gl.gate <- struct{}{} // A commits; B and the peek are decided together
	if err := <-wrote; err != nil {
		t.Fatal(err)
	}
	select {
	case r := <-peeked:
		if r != "ok" {
			t.Fatalf("peek answered %v", r)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the early answer waited for the batch's commit")
	}
	select {
	case <-wrote:
		t.Fatal("B finished while its commit was held")
	default:
	}
	gl.gate <- struct{}{}
	if err := <-wrote; err != nil {
		t.Fatal(err)
	}
}
