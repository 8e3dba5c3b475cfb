package actor_test

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/parleyhq/parley/internal/actor"
	"github.com/parleyhq/parley/internal/core"
	"github.com/parleyhq/parley/internal/errs"
	"github.com/parleyhq/parley/internal/eventlog"
	"github.com/parleyhq/parley/internal/sqlite"
)

// counter is a test behaviour: "add" adds n to a total that may not exceed
// a limit; every accepted add is an event.
type counter struct {
	total   int
	applied int
	limit   int
}

func (c *counter) Apply(ev *eventlog.Event) {
	var d struct{ N int }
	_ = json.Unmarshal(ev.Data, &d)
	c.total += d.N
	c.applied++
}

func (c *counter) Decide(cmd *actor.Command) (actor.Decision, error) {
	var d struct{ N int }
	if err := json.Unmarshal(cmd.Data, &d); err != nil {
		return actor.Decision{}, errs.E(errs.InvalidArgument, "bad")
	}
	if c.total+d.N > c.limit {
		return actor.Decision{}, errs.E(errs.LimitExceeded, "over the limit")
	}
	return actor.Decision{
		Events:    []eventlog.Draft{{Type: "added", Data: cmd.Data}},
		Ephemeral: []actor.Ephemeral{{Type: "tick", Data: json.RawMessage(`{}`)}},
		Reply:     c.total + d.N,
	}, nil
}

func (c *counter) State() any { return map[string]int{"total": c.total, "applied": c.applied} }

type recorder struct {
	mu  sync.Mutex
	evs map[core.StreamID][]uint64
	eph int
}

func (r *recorder) PublishEvents(s core.StreamID, evs []eventlog.Event) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, e := range evs {
		r.evs[s] = append(r.evs[s], e.Seq)
	}
}
func (r *recorder) PublishEphemeral(core.StreamID, time.Time, core.UserID, actor.Ephemeral) {
	r.mu.Lock()
	r.eph++
	r.mu.Unlock()
}
func (r *recorder) Notify(actor.Notice, time.Time) {}

func newHost(t *testing.T, limit int) (*actor.Host, *eventlog.Log, *recorder) {
	t.Helper()
	st, err := sqlite.OpenEventLog(context.Background(), filepath.Join(t.TempDir(), "ev.db"))
	if err != nil {
		t.Fatal(err)
	}
	log := eventlog.NewLog(st, eventlog.Options{})
	rec := &recorder{evs: map[core.StreamID][]uint64{}}
	h := actor.NewHost(actor.Options{Log: log, Publisher: rec, IdleTimeout: 200 * time.Millisecond})
	h.Register("c", func(core.StreamID) actor.Behavior { return &counter{limit: limit} })
	t.Cleanup(func() { h.Close(); log.Close(); st.Close() })
	return h, log, rec
}

func add(n int, key string) actor.Command {
	return actor.Command{Name: "add", Actor: "u_1", Data: json.RawMessage(fmt.Sprintf(`{"N":%d}`, n)), Key: key}
}

// TestConcurrentCommandsAreSerialised: many concurrent commands on one
// stream are decided one after another against the state, so the limit is
// never exceeded, and the log, the published events and the state agree.
func TestConcurrentCommandsAreSerialised(t *testing.T) {
	h, log, rec := newHost(t, 500)
	ctx := context.Background()
	var wg sync.WaitGroup
	var mu sync.Mutex
	accepted, refused := 0, 0
	for i := 0; i < 40; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := 0; j < 20; j++ {
				_, err := h.Do(ctx, "c:one", add(1, ""))
				mu.Lock()
				if err == nil {
					accepted++
				} else if errs.CodeOf(err) == errs.LimitExceeded {
					refused++
				} else {
					t.Error(err)
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if accepted != 500 || refused != 300 {
		t.Fatalf("accepted %d refused %d, want 500 and 300", accepted, refused)
	}
	_, last, _ := log.Bounds(ctx, "c:one")
	if last != 500 {
		t.Fatalf("log has %d events", last)
	}
	rec.mu.Lock()
	seqs := rec.evs["c:one"]
	rec.mu.Unlock()
	if len(seqs) != 500 {
		t.Fatalf("published %d events", len(seqs))
	}
	for i, s := range seqs {
		if s != uint64(i+1) {
			t.Fatalf("published out of order at %d: %d", i, s)
		}
	}
	st, err := h.Inspect(ctx, "c:one")
	if err != nil || st.(map[string]int)["total"] != 500 {
		t.Fatalf("state %v %v", st, err)
	}
}

// TestIdempotencyKeys: a retried command is applied once, within one batch,
// across batches, and after the actor was retired and reloaded.
func TestIdempotencyKeys(t *testing.T) {
	h, log, _ := newHost(t, 1000)
	ctx := context.Background()
	r1, err := h.Do(ctx, "c:k", add(5, "key-1"))
	if err != nil || r1.Duplicate || r1.Reply.(int) != 5 {
		t.Fatalf("first: %+v %v", r1, err)
	}
	r2, err := h.Do(ctx, "c:k", add(5, "key-1"))
	if err != nil || !r2.Duplicate || len(r2.Events) != 1 || r2.Events[0].Seq != r1.Events[0].Seq || r2.Reply.(int) != 5 {
		t.Fatalf("retry: %+v %v", r2, err)
	}
	// Concurrent retries of a new key.
	var wg sync.WaitGroup
	for i := 0; i < 10; i++ {
		wg.Add(1)
		go func() { defer wg.Done(); _, _ = h.Do(ctx, "c:k", add(1, "key-2")) }()
	}
	wg.Wait()
	// Retire the actor, then retry: the key is rebuilt from the log.
	deadline := time.Now().Add(5 * time.Second)
	for h.Active() > 0 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if h.Active() != 0 {
		t.Fatal("idle actor was not retired")
	}
	r3, err := h.Do(ctx, "c:k", add(5, "key-1"))
	if err != nil || !r3.Duplicate {
		t.Fatalf("retry after reload: %+v %v", r3, err)
	}
	_, last, _ := log.Bounds(ctx, "c:k")
	if last != 2 {
		t.Fatalf("log has %d events, want 2", last)
	}
	st, _ := h.Inspect(ctx, "c:k")
	if st.(map[string]int)["total"] != 6 {
		t.Fatalf("state after reload %v", st)
	}
}

// TestStateSurvivesRestart: a new host rebuilds the state from the log, and
// Replay as of a time sees only the events up to then.
func TestStateSurvivesRestart(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	open := func() (*actor.Host, *eventlog.Log, *sqlite.EventLog) {
		st, err := sqlite.OpenEventLog(ctx, filepath.Join(dir, "ev.db"))
		if err != nil {
			t.Fatal(err)
		}
		log := eventlog.NewLog(st, eventlog.Options{})
		h := actor.NewHost(actor.Options{Log: log, Publisher: &recorder{evs: map[core.StreamID][]uint64{}}})
		h.Register("c", func(core.StreamID) actor.Behavior { return &counter{limit: 100} })
		return h, log, st
	}
	h, log, st := open()
	for i := 0; i < 3; i++ {
		if _, err := h.Do(ctx, "c:r", add(10, "")); err != nil {
			t.Fatal(err)
		}
	}
	mid := time.Now()
	time.Sleep(5 * time.Millisecond)
	if _, err := h.Do(ctx, "c:r", add(10, "")); err != nil {
		t.Fatal(err)
	}
	h.Close()
	log.Close()
	st.Close()

	h, log, st = open()
	defer func() { h.Close(); log.Close(); st.Close() }()
	if _, err := h.Do(ctx, "c:r", add(70, "")); errs.CodeOf(err) != errs.LimitExceeded {
		t.Fatalf("state was not rebuilt: %v", err)
	}
	b, err := actor.Replay(ctx, log, func(core.StreamID) actor.Behavior { return &counter{} }, "c:r", mid, nil)
	if err != nil || b.State().(map[string]int)["total"] != 30 {
		t.Fatalf("replay as of mid: %v %v", b.State(), err)
	}
}

// TestUnknownKindAndBadStream are refused without starting an actor.
func TestUnknownKindAndBadStream(t *testing.T) {
	h, _, _ := newHost(t, 10)
	if _, err := h.Do(context.Background(), "zzz:x", add(1, "")); errs.CodeOf(err) != errs.NotFound {
		t.Fatalf("unknown kind: %v", err)
	}
	if _, err := h.Do(context.Background(), "bad stream", add(1, "")); errs.CodeOf(err) != errs.InvalidArgument {
		t.Fatalf("bad stream: %v", err)
	}
	if h.Active() != 0 {
		t.Fatal("an actor started for a refused command")
	}
}

// flakyLog fails the next AppendMany when fail is set, as a database error
// would; everything else goes to the real log.
type flakyLog struct {
	*eventlog.Log
	mu   sync.Mutex
	fail bool
}

func (f *flakyLog) AppendMany(ctx context.Context, reqs []eventlog.AppendRequest) ([]eventlog.AppendResult, []error) {
	f.mu.Lock()
	fail := f.fail
	f.fail = false
	f.mu.Unlock()
	if fail {
		errsOut := make([]error, len(reqs))
		for i := range errsOut {
			errsOut[i] = errs.E(errs.Unavailable, "disk on fire")
		}
		return make([]eventlog.AppendResult, len(reqs)), errsOut
	}
	return f.Log.AppendMany(ctx, reqs)
}

// TestFailedAppendRebuildsState: after an append fails, the actor's state
// is rebuilt from the log into a fresh behaviour, so the failed command
// leaves no trace and nothing counts twice.
func TestFailedAppendRebuildsState(t *testing.T) {
	st, err := sqlite.OpenEventLog(context.Background(), filepath.Join(t.TempDir(), "ev.db"))
	if err != nil {
		t.Fatal(err)
	}
	log := eventlog.NewLog(st, eventlog.Options{})
	flaky := &flakyLog{Log: log}
	h := actor.NewHost(actor.Options{Log: flaky, Publisher: &recorder{evs: map[core.StreamID][]uint64{}}})
	h.Register("c", func(core.StreamID) actor.Behavior { return &counter{limit: 100} })
	t.Cleanup(func() { h.Close(); log.Close(); st.Close() })
	ctx := context.Background()
	if _, err := h.Do(ctx, "c:f", add(1, "")); err != nil {
		t.Fatal(err)
	}
	flaky.mu.Lock()
	flaky.fail = true
	flaky.mu.Unlock()
	if _, err := h.Do(ctx, "c:f", add(10, "")); errs.CodeOf(err) != errs.Unavailable {
		t.Fatalf("failed append answered %v", err)
	}
	if _, err := h.Do(ctx, "c:f", add(1, "")); err != nil {
		t.Fatal(err)
	}
	st2, _ := h.Inspect(ctx, "c:f")
	if got := st2.(map[string]int); got["total"] != 2 || got["applied"] != 2 {
		t.Fatalf("state after a failed append: %v, want total 2 from 2 events", got)
	}
}

// TestRegisterWhileActorsRun: kinds registered and observed while another
// kind's actors take commands race nothing (domains register as they start,
// after earlier domains' workers began), and the running kind is unaffected.
func TestRegisterWhileActorsRun(t *testing.T) {
	h, log, _ := newHost(t, 1<<30)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := 0; i < 200; i++ {
			if err := h.Tell(ctx, core.StreamID(fmt.Sprintf("c:s%d", i%8)), add(1, "")); err != nil {
				t.Errorf("tell: %v", err)
				return
			}
		}
	}()
	for i := 0; i < 200; i++ {
		kind := fmt.Sprintf("late%d", i)
		h.Register(kind, func(core.StreamID) actor.Behavior { return &counter{limit: 1} })
		h.Observe(kind, func(core.StreamID, []eventlog.Event) {})
	}
	<-done
	// Every told command lands: 25 on each of the 8 streams.
	for i := 0; i < 8; i++ {
		s := core.StreamID(fmt.Sprintf("c:s%d", i))
		deadline := time.Now().Add(10 * time.Second)
		for {
			_, last, err := log.Bounds(ctx, s)
			if err != nil {
				t.Fatal(err)
			}
			if last == 25 {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s: %d events, want 25", s, last)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
}
