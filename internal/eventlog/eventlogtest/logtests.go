package eventlogtest

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/parleyhq/parley/internal/core"
	"github.com/parleyhq/parley/internal/errs"
	"github.com/parleyhq/parley/internal/eventlog"
)

// RunShared runs the tests of several writers sharing one database, as
// several Parley nodes share one PostgreSQL: open returns two stores over
// the same new, empty database.
func RunShared(t *testing.T, open func(t *testing.T) (eventlog.Store, eventlog.Store)) {
	t.Run("ConcurrentAppendersGetContiguousSequences", func(t *testing.T) {
		a, b := open(t)
		logs := []*eventlog.Log{newLog(t, a, eventlog.Options{}), newLog(t, b, eventlog.Options{})}
		acks := appendConcurrently(t, logs, 6, 40, []core.StreamID{sA, sB, sC})
		checkAcks(t, a, acks)
		checkAcks(t, b, acks)
	})
	t.Run("ConflictsUnderConcurrency", func(t *testing.T) {
		a, b := open(t)
		logs := []*eventlog.Log{newLog(t, a, eventlog.Options{}), newLog(t, b, eventlog.Options{})}
		raceForFirst(t, logs, 6)
		incrementOptimistically(t, logs, 4, 8)
	})
	t.Run("RawBatchesRace", func(t *testing.T) {
		a, b := open(t)
		rawRace(t, []eventlog.Store{a, b, a, b})
	})
	t.Run("FollowSeesOtherNode", func(t *testing.T) {
		a, b := open(t)
		la := newLog(t, a, eventlog.Options{PollInterval: 20 * time.Millisecond})
		lb := newLog(t, b, eventlog.Options{})
		got := follow(t, la, sA, 0)
		for i := 0; i < 5; i++ {
			if _, err := lb.Append(testCtx(t), eventlog.AppendRequest{Stream: sA, Expected: int64(i), Events: drafts(1, i)}); err != nil {
				t.Fatal(err)
			}
		}
		for want := uint64(1); want <= 5; want++ {
			if e := recv(t, got, 10*time.Second, "an event from the other node"); e.Seq != want {
				t.Fatalf("followed seq %d, want %d", e.Seq, want)
			}
		}
	})
}

func testConcurrentAppendBatch(t *testing.T, s eventlog.Store) {
	rawRace(t, []eventlog.Store{s, s, s, s})
}

// rawRace calls AppendBatch from one goroutine per store at once: with
// AnySeq every batch lands with contiguous sequences; with Expected 0 on a
// new stream exactly one batch wins.
func rawRace(t *testing.T, stores []eventlog.Store) {
	const rounds = 20
	var wg sync.WaitGroup
	wins := make([]int, rounds)
	var mu sync.Mutex
	for g, s := range stores {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for r := 0; r < rounds; r++ {
				race := core.StreamID(fmt.Sprintf("room:race%d", r))
				items := []eventlog.BatchItem{
					item(base, req(sA, eventlog.AnySeq, "", drafts(2, g*1000+r)...)),
					item(base, req(race, 0, "", drafts(1, g)...)),
					item(base, req(sB, eventlog.AnySeq, fmt.Sprintf("g%d-r%d", g, r), drafts(1, r)...)),
				}
				if err := s.AppendBatch(testCtx(t), items); err != nil {
					t.Errorf("AppendBatch: %v", err)
					return
				}
				for i, it := range items {
					if i != 1 && it.Err != nil {
						t.Errorf("item %d: %v", i, it.Err)
					}
				}
				if items[1].Err == nil {
					mu.Lock()
					wins[r]++
					mu.Unlock()
				} else if !errs.Is(items[1].Err, errs.Conflict) {
					t.Errorf("racing append: %v, want a conflict or success", items[1].Err)
				}
			}
		}()
	}
	wg.Wait()
	if t.Failed() {
		return
	}
	for r, n := range wins {
		if n != 1 {
			t.Fatalf("round %d: %d appends with Expected 0 won, want 1", r, n)
		}
		wantBounds(t, stores[0], core.StreamID(fmt.Sprintf("room:race%d", r)), 1, 1)
	}
	n := uint64(len(stores) * rounds)
	wantSeqs(t, readAll(t, stores[0], sA), seqRange(1, 2*n)...)
	wantSeqs(t, readAll(t, stores[0], sB), seqRange(1, n)...)
	// The two events of one batch item are adjacent.
	evs := readAll(t, stores[0], sA)
	for i := 0; i < len(evs); i += 2 {
		var n0, n1 int
		fmt.Sscanf(string(evs[i].Data), `{"n":%d}`, &n0)
		fmt.Sscanf(string(evs[i+1].Data), `{"n":%d}`, &n1)
		if n1 != n0+1 {
			t.Fatalf("events %d and %d are not one append: %s", evs[i].Seq, evs[i+1].Seq, show(evs[i:i+2]))
		}
	}
}

func testLogAppend(t *testing.T, s eventlog.Store) {
	ctx := testCtx(t)
	clk := &fakeClock{t: base}
	l := newLog(t, s, eventlog.Options{Clock: clk})
	if l.Store() != s {
		t.Fatal("Store() is not the store given to NewLog")
	}
	res, err := l.Append(ctx, eventlog.AppendRequest{Stream: sA, Expected: 0, Key: "m1", Events: []eventlog.Draft{
		draft("comment.posted", "u_1", `{"text":"hi"}`), draft("reaction.added", "u_2", `{"emoji":"👍"}`)}})
	if err != nil {
		t.Fatal(err)
	}
	want := []eventlog.Event{
		{Stream: sA, Seq: 1, Type: "comment.posted", Time: baseUTC, Actor: "u_1", Data: []byte(`{"text":"hi"}`), Key: "m1"},
		{Stream: sA, Seq: 2, Type: "reaction.added", Time: baseUTC, Actor: "u_2", Data: []byte(`{"emoji":"👍"}`), Key: "m1"},
	}
	wantEvents(t, res.Events, want)
	got, err := l.Read(ctx, sA, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	wantEvents(t, got, want)
	if f, last, err := l.Bounds(ctx, sA); err != nil || f != 1 || last != 2 {
		t.Fatalf("Bounds = %d, %d, %v", f, last, err)
	}

	_, err = l.Append(ctx, eventlog.AppendRequest{Stream: sA, Expected: 0, Events: drafts(1, 0)})
	wantCode(t, err, errs.Conflict)
	if !strings.Contains(err.Error(), "at sequence 2,") {
		t.Fatalf("conflict %q does not state the last sequence", err)
	}
	dup, err := l.Append(ctx, eventlog.AppendRequest{Stream: sA, Expected: 0, Key: "m1", Events: drafts(1, 0)})
	if err != nil || !dup.Duplicate {
		t.Fatalf("retry: %+v, %v; want the duplicate", dup, err)
	}
	wantEvents(t, dup.Events, want)

	for _, bad := range []eventlog.AppendRequest{
		{Stream: "bad", Events: drafts(1, 0)},
		{Stream: sA},
		{Stream: sA, Events: []eventlog.Draft{draft("t", "", "{")}},
	} {
		_, err := l.Append(ctx, bad)
		wantCode(t, err, errs.InvalidArgument)
	}

	clk.Set(base.Add(time.Minute))
	later, err := l.Append(ctx, eventlog.AppendRequest{Stream: sA, Expected: eventlog.AnySeq, Events: drafts(1, 0)})
	if err != nil {
		t.Fatal(err)
	}
	if !later.Events[0].Time.Equal(baseUTC.Add(time.Minute)) {
		t.Fatalf("time %v, want the clock's %v", later.Events[0].Time, baseUTC.Add(time.Minute))
	}
	since, err := l.ReadSince(ctx, sA, base.Add(time.Second), 0)
	if err != nil {
		t.Fatal(err)
	}
	wantEvents(t, since, later.Events)
	wantBounds(t, s, sA, 1, 3)
}

// ack is one event acknowledged to an appender.
type ack struct {
	stream core.StreamID
	seq    uint64
	data   string
}

// appendConcurrently runs perLog goroutines on each log, each appending n
// times (one or two events, AnySeq) to streams, and returns what was
// acknowledged.
func appendConcurrently(t *testing.T, logs []*eventlog.Log, perLog, n int, streams []core.StreamID) []ack {
	var mu sync.Mutex
	var acks []ack
	var wg sync.WaitGroup
	start := make(chan struct{})
	for li, l := range logs {
		for g := 0; g < perLog; g++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				for i := 0; i < n; i++ {
					st := streams[(g+i)%len(streams)]
					var ds []eventlog.Draft
					for j := 0; j < 1+(g+i)%2; j++ {
						ds = append(ds, draft("t", "u_1", fmt.Sprintf(`{"l":%d,"g":%d,"i":%d,"j":%d}`, li, g, i, j)))
					}
					res, err := l.Append(testCtx(t), eventlog.AppendRequest{Stream: st, Expected: eventlog.AnySeq, Events: ds})
					if err != nil {
						t.Errorf("append: %v", err)
						return
					}
					if len(res.Events) != len(ds) {
						t.Errorf("append of %d events returned %d", len(ds), len(res.Events))
						return
					}
					mu.Lock()
					for j, e := range res.Events {
						if j > 0 && e.Seq != res.Events[j-1].Seq+1 {
							t.Errorf("one append got sequences %d then %d", res.Events[j-1].Seq, e.Seq)
						}
						acks = append(acks, ack{st, e.Seq, string(ds[j].Data)})
					}
					mu.Unlock()
				}
			}()
		}
	}
	close(start)
	wg.Wait()
	if t.Failed() {
		t.FailNow()
	}
	return acks
}

// checkAcks verifies that every stream in acks holds exactly the
// acknowledged events, numbered 1..N without holes.
func checkAcks(t *testing.T, s eventlog.Store, acks []ack) {
	t.Helper()
	byStream := map[core.StreamID]map[uint64]string{}
	for _, a := range acks {
		m := byStream[a.stream]
		if m == nil {
			m = map[uint64]string{}
			byStream[a.stream] = m
		}
		if prev, dup := m[a.seq]; dup {
			t.Fatalf("%s seq %d acknowledged twice: %s and %s", a.stream, a.seq, prev, a.data)
		}
		m[a.seq] = a.data
	}
	for st, m := range byStream {
		evs := readAll(t, s, st)
		wantSeqs(t, evs, seqRange(1, uint64(len(m)))...)
		for _, e := range evs {
			if string(e.Data) != m[e.Seq] {
				t.Fatalf("%s seq %d data %s, acknowledged %s", st, e.Seq, e.Data, m[e.Seq])
			}
		}
		wantBounds(t, s, st, 1, uint64(len(m)))
	}
}

func testLogConcurrent(t *testing.T, s eventlog.Store) {
	l := newLog(t, s, eventlog.Options{})
	acks := appendConcurrently(t, []*eventlog.Log{l}, 16, 50, []core.StreamID{sA, sB, sC})
	checkAcks(t, s, acks)
}

// raceForFirst has n goroutines per log append with Expected 0 to one new
// stream at once: exactly one wins, the others get a conflict naming the
// winner's sequence.
func raceForFirst(t *testing.T, logs []*eventlog.Log, n int) {
	t.Helper()
	const st core.StreamID = "room:first"
	start := make(chan struct{})
	type result struct {
		res eventlog.AppendResult
		err error
	}
	results := make(chan result, n*len(logs))
	for _, l := range logs {
		for g := 0; g < n; g++ {
			go func() {
				<-start
				res, err := l.Append(testCtx(t), eventlog.AppendRequest{Stream: st, Expected: 0, Events: drafts(1, g)})
				results <- result{res, err}
			}()
		}
	}
	close(start)
	wins := 0
	for i := 0; i < n*len(logs); i++ {
		r := recv(t, results, 30*time.Second, "racing appends")
		switch {
		case r.err == nil:
			wins++
			wantSeqs(t, r.res.Events, 1)
		case errs.Is(r.err, errs.Conflict):
			if !strings.Contains(r.err.Error(), "at sequence 1,") {
				t.Fatalf("conflict %q does not state the last sequence 1", r.err)
			}
		default:
			t.Fatalf("racing append: %v", r.err)
		}
	}
	if wins != 1 {
		t.Fatalf("%d appends with Expected 0 succeeded, want exactly 1", wins)
	}
	wantBounds(t, logs[0].Store(), st, 1, 1)
}

// incrementOptimistically has n goroutines per log each append k events,
// every one with the Expected it read, retrying on conflict.
func incrementOptimistically(t *testing.T, logs []*eventlog.Log, n, k int) {
	t.Helper()
	var wg sync.WaitGroup
	var mu sync.Mutex
	conflicts := 0
	for li, l := range logs {
		for g := 0; g < n; g++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				ctx := testCtx(t)
				for i := 0; i < k; {
					_, last, err := l.Bounds(ctx, sB)
					if err != nil {
						t.Errorf("bounds: %v", err)
						return
					}
					_, err = l.Append(ctx, eventlog.AppendRequest{Stream: sB, Expected: int64(last),
						Events: []eventlog.Draft{draft("inc", "", fmt.Sprintf(`{"l":%d,"g":%d,"i":%d}`, li, g, i))}})
					switch {
					case err == nil:
						i++
					case errs.Is(err, errs.Conflict):
						mu.Lock()
						conflicts++
						mu.Unlock()
					default:
						t.Errorf("append: %v", err)
						return
					}
				}
			}()
		}
	}
	wg.Wait()
	if t.Failed() {
		t.FailNow()
	}
	total := len(logs) * n * k
	evs := readAll(t, logs[0].Store(), sB)
	wantSeqs(t, evs, seqRange(1, uint64(total))...)
	seen := map[string]bool{}
	for _, e := range evs {
		if seen[string(e.Data)] {
			t.Fatalf("increment %s stored twice", e.Data)
		}
		seen[string(e.Data)] = true
	}
	t.Logf("%d optimistic appends, %d conflicts retried", total, conflicts)
}

func testLogConflicts(t *testing.T, s eventlog.Store) {
	l := newLog(t, s, eventlog.Options{})
	raceForFirst(t, []*eventlog.Log{l}, 8)
	incrementOptimistically(t, []*eventlog.Log{l}, 8, 10)
}

func testLogIdempotent(t *testing.T, s eventlog.Store) {
	l := newLog(t, s, eventlog.Options{})
	const n = 10
	start := make(chan struct{})
	type result struct {
		res eventlog.AppendResult
		err error
	}
	results := make(chan result, n)
	for g := 0; g < n; g++ {
		go func() {
			<-start
			exp := eventlog.AnySeq
			if g%2 == 1 {
				exp = 0
			}
			res, err := l.Append(testCtx(t), eventlog.AppendRequest{Stream: sA, Expected: exp, Key: "once", Events: drafts(2, g*10)})
			results <- result{res, err}
		}()
	}
	close(start)
	var firsts, dups []eventlog.AppendResult
	for i := 0; i < n; i++ {
		r := recv(t, results, 30*time.Second, "keyed appends")
		if r.err != nil {
			t.Fatalf("keyed append: %v", r.err)
		}
		if r.res.Duplicate {
			dups = append(dups, r.res)
		} else {
			firsts = append(firsts, r.res)
		}
	}
	if len(firsts) != 1 {
		t.Fatalf("%d appends with the same key were written, want 1", len(firsts))
	}
	for _, d := range dups {
		wantEvents(t, d.Events, firsts[0].Events)
	}
	wantEvents(t, readAll(t, s, sA), firsts[0].Events)
}

// follow starts Follow on l in the background and returns the channel it
// delivers to. The follower is stopped when the test ends.
func follow(t *testing.T, l *eventlog.Log, stream core.StreamID, after uint64) <-chan eventlog.Event {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	got := make(chan eventlog.Event, 4096)
	done := make(chan error, 1)
	go func() {
		done <- l.Follow(ctx, stream, after, func(e eventlog.Event) error {
			got <- e
			return nil
		})
	}()
	t.Cleanup(func() {
		cancel()
		if err := recv(t, done, 10*time.Second, "Follow to return"); !errors.Is(err, context.Canceled) {
			t.Errorf("Follow returned %v after cancel, want context.Canceled", err)
		}
	})
	return got
}

// expectFollowed receives the events first..last from got, in order.
func expectFollowed(t *testing.T, got <-chan eventlog.Event, s eventlog.Store, stream core.StreamID, first, last uint64) {
	t.Helper()
	want := readAll(t, s, stream)
	for seq := first; seq <= last; seq++ {
		e := recv(t, got, 10*time.Second, fmt.Sprintf("followed event %d", seq))
		if e.Seq != seq {
			t.Fatalf("followed seq %d, want %d", e.Seq, seq)
		}
		if err := sameEvent(e, want[seq-1]); err != nil {
			t.Fatalf("followed event %d: %v", seq, err)
		}
	}
}

func testFollow(t *testing.T, s eventlog.Store) {
	ctx := testCtx(t)
	// A long poll interval: live events must arrive through the Log's own
	// wake-ups, not by polling.
	l := newLog(t, s, eventlog.Options{PollInterval: time.Hour})
	// More history than Follow reads in one page.
	if _, err := l.Append(ctx, eventlog.AppendRequest{Stream: sA, Expected: 0, Events: drafts(600, 1)}); err != nil {
		t.Fatal(err)
	}
	got := follow(t, l, sA, 0)
	expectFollowed(t, got, s, sA, 1, 600)
	var wg sync.WaitGroup
	for g := 0; g < 5; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 4; i++ {
				if _, err := l.Append(ctx, eventlog.AppendRequest{Stream: sA, Expected: eventlog.AnySeq, Events: drafts(1+i%2, g*100+i)}); err != nil {
					t.Errorf("append: %v", err)
				}
				// Appends to other streams must not disturb the follower.
				if _, err := l.Append(ctx, eventlog.AppendRequest{Stream: sB, Expected: eventlog.AnySeq, Events: drafts(1, i)}); err != nil {
					t.Errorf("append: %v", err)
				}
			}
		}()
	}
	wg.Wait()
	expectFollowed(t, got, s, sA, 601, 630)
	if _, err := l.Append(ctx, eventlog.AppendRequest{Stream: sA, Expected: 630, Events: drafts(1, 0)}); err != nil {
		t.Fatal(err)
	}
	// The next event delivered is 631: nothing was delivered twice.
	expectFollowed(t, got, s, sA, 631, 631)

	late := follow(t, l, sA, 625)
	expectFollowed(t, late, s, sA, 626, 631)
	if _, err := l.Append(ctx, eventlog.AppendRequest{Stream: sA, Expected: 631, Events: drafts(1, 0)}); err != nil {
		t.Fatal(err)
	}
	expectFollowed(t, late, s, sA, 632, 632)
	expectFollowed(t, got, s, sA, 632, 632)
}

func testFollowOtherWriters(t *testing.T, s eventlog.Store) {
	l := newLog(t, s, eventlog.Options{PollInterval: 20 * time.Millisecond})
	got := follow(t, l, sA, 0)
	// Appended around the Log, as another process would.
	mustAppend(t, s, base, req(sA, 0, "", drafts(3, 1)...))
	expectFollowed(t, got, s, sA, 1, 3)
	mustAppend(t, s, base, req(sA, 3, "", drafts(1, 4)...))
	expectFollowed(t, got, s, sA, 4, 4)
}

func testFollowStops(t *testing.T, s eventlog.Store) {
	l := newLog(t, s, eventlog.Options{})
	mustAppend(t, s, base, req(sA, 0, "", drafts(5, 1)...))
	var seen []uint64
	err := l.Follow(testCtx(t), sA, 0, func(e eventlog.Event) error {
		seen = append(seen, e.Seq)
		if len(seen) == 3 {
			return errStop
		}
		return nil
	})
	if !errors.Is(err, errStop) {
		t.Fatalf("Follow returned %v, want the callback's error", err)
	}
	if fmt.Sprint(seen) != "[1 2 3]" {
		t.Fatalf("Follow delivered %v before stopping, want [1 2 3]", seen)
	}
}

func testCloseDrains(t *testing.T, s eventlog.Store) {
	const n = 20
	gate := newGateStore(s)
	l := eventlog.NewLog(gate, eventlog.Options{QueueSize: n - 1})
	results := make(chan error, n)
	appendOne := func(i int) {
		_, err := l.Append(context.Background(), eventlog.AppendRequest{Stream: sA, Expected: eventlog.AnySeq, Events: drafts(1, i)})
		results <- err
	}
	go appendOne(0)
	recv(t, gate.entered, 10*time.Second, "the first commit")
	for i := 1; i < n; i++ {
		go appendOne(i)
	}
	eventually(t, 10*time.Second, "appends to queue up", func() bool { return l.QueueLen() == n-1 })

	closed := make(chan error, 1)
	go func() { closed <- l.Close() }()
	// The queue is full, so an append with a cancelled context returns at
	// once: with its context's error until Close has begun, then ErrClosed.
	cancelled, cancel := context.WithCancel(context.Background())
	cancel()
	eventually(t, 10*time.Second, "Close to refuse new appends", func() bool {
		_, err := l.Append(cancelled, eventlog.AppendRequest{Stream: sA, Expected: eventlog.AnySeq, Events: drafts(1, -1)})
		if err != nil && !errors.Is(err, context.Canceled) && err != eventlog.ErrClosed {
			t.Fatalf("append during Close: %v", err)
		}
		return err == eventlog.ErrClosed
	})
	select {
	case err := <-closed:
		t.Fatalf("Close returned (%v) while a commit was in progress", err)
	default:
	}
	close(gate.release)
	if err := recv(t, closed, 30*time.Second, "Close"); err != nil {
		t.Fatalf("Close: %v", err)
	}
	for i := 0; i < n; i++ {
		if err := recv(t, results, 10*time.Second, "queued appends"); err != nil {
			t.Fatalf("queued append failed: %v", err)
		}
	}
	evs := readAll(t, s, sA)
	wantSeqs(t, evs, seqRange(1, n)...)
	if _, err := l.Append(context.Background(), eventlog.AppendRequest{Stream: sA, Expected: eventlog.AnySeq, Events: drafts(1, 0)}); err != eventlog.ErrClosed {
		t.Fatalf("append after Close: %v, want ErrClosed", err)
	}
	if err := l.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
}

func testOnCommit(t *testing.T, s eventlog.Store) {
	var mu sync.Mutex
	var requests, events int
	l := newLog(t, s, eventlog.Options{OnCommit: func(r, e int, took time.Duration, err error) {
		if err != nil {
			t.Errorf("commit failed: %v", err)
		}
		mu.Lock()
		requests += r
		events += e
		mu.Unlock()
	}})
	ctx := testCtx(t)
	var wg sync.WaitGroup
	for g := 0; g < 10; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 2; i++ {
				if _, err := l.Append(ctx, eventlog.AppendRequest{Stream: sA, Expected: eventlog.AnySeq, Key: fmt.Sprintf("%d-%d", g, i), Events: drafts(2, 0)}); err != nil {
					t.Errorf("append: %v", err)
				}
			}
		}()
	}
	wg.Wait()
	_, err := l.Append(ctx, eventlog.AppendRequest{Stream: sA, Expected: 0, Events: drafts(1, 0)})
	wantCode(t, err, errs.Conflict)
	if res, err := l.Append(ctx, eventlog.AppendRequest{Stream: sA, Expected: 0, Key: "0-0", Events: drafts(1, 0)}); err != nil || !res.Duplicate {
		t.Fatalf("duplicate: %v, %v", res.Duplicate, err)
	}
	mu.Lock()
	defer mu.Unlock()
	if requests != 22 || events != 40 {
		t.Fatalf("OnCommit counted %d requests and %d events, want 22 and 40", requests, events)
	}
}

// failOnce makes the first AppendBatch fail as a broken database would,
// without touching the store.
type failOnce struct {
	eventlog.Store
	once sync.Once
}

func (f *failOnce) AppendBatch(ctx context.Context, items []eventlog.BatchItem) error {
	failed := false
	f.once.Do(func() { failed = true })
	if failed {
		return errors.New("disk on fire")
	}
	return f.Store.AppendBatch(ctx, items)
}

func testFailedCommit(t *testing.T, s eventlog.Store) {
	l := newLog(t, &failOnce{Store: s}, eventlog.Options{})
	_, err := l.Append(testCtx(t), eventlog.AppendRequest{Stream: sA, Expected: 0, Events: drafts(1, 1)})
	wantCode(t, err, errs.Unavailable)
	if !strings.Contains(err.Error(), "disk on fire") {
		t.Fatalf("error %q hides its cause", err)
	}
	wantBounds(t, s, sA, 0, 0)
	res, err := l.Append(testCtx(t), eventlog.AppendRequest{Stream: sA, Expected: 0, Events: drafts(1, 1)})
	if err != nil {
		t.Fatal(err)
	}
	wantSeqs(t, res.Events, 1)
}

func testTruncateWhileAppending(t *testing.T, s eventlog.Store) {
	l := newLog(t, s, eventlog.Options{})
	ctx := testCtx(t)
	const writers, per = 4, 100
	var wg sync.WaitGroup
	for g := 0; g < writers; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < per; i++ {
				if _, err := l.Append(ctx, eventlog.AppendRequest{Stream: sA, Expected: eventlog.AnySeq, Events: drafts(1, i)}); err != nil {
					t.Errorf("append: %v", err)
					return
				}
			}
		}()
	}
	done := make(chan struct{})
	var cut uint64
	go func() {
		defer close(done)
		for {
			_, last, err := s.Bounds(ctx, sA)
			if err != nil {
				t.Errorf("bounds: %v", err)
				return
			}
			if last >= writers*per {
				return
			}
			if err := s.Truncate(ctx, sA, last/2); err != nil {
				t.Errorf("truncate: %v", err)
				return
			}
			cut = max(cut, last/2)
		}
	}()
	wg.Wait()
	<-done
	if t.Failed() {
		t.FailNow()
	}
	first := max(cut, 1)
	wantBounds(t, s, sA, first, writers*per)
	wantSeqs(t, readAll(t, s, sA), seqRange(first, writers*per)...)
}
