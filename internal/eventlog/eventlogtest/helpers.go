package eventlogtest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/parleyhq/parley/internal/core"
	"github.com/parleyhq/parley/internal/errs"
	"github.com/parleyhq/parley/internal/eventlog"
)

// testCtx returns a context that ends with the test, or after a minute so
// that a stuck store fails the test instead of hanging it.
func testCtx(t testing.TB) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	t.Cleanup(cancel)
	return ctx
}

// base is the time the tests stamp on their first batches: a zone other
// than UTC and nanoseconds below the microsecond, which stores drop.
var base = time.Date(2024, 3, 1, 12, 30, 45, 123456789, time.FixedZone("UTC+2", 2*3600))

// baseUTC is base as a store returns it.
var baseUTC = time.Date(2024, 3, 1, 10, 30, 45, 123456000, time.UTC)

func req(stream core.StreamID, expected int64, key string, drafts ...eventlog.Draft) *eventlog.AppendRequest {
	return &eventlog.AppendRequest{Stream: stream, Expected: expected, Key: key, Events: drafts}
}

func draft(typ string, actor core.UserID, data string) eventlog.Draft {
	d := eventlog.Draft{Type: typ, Actor: actor}
	if data != "" {
		d.Data = json.RawMessage(data)
	}
	return d
}

// drafts returns n drafts of type "t" whose data numbers them from first.
func drafts(n, first int) []eventlog.Draft {
	out := make([]eventlog.Draft, n)
	for i := range out {
		out[i] = draft("t", "u_1", fmt.Sprintf(`{"n":%d}`, first+i))
	}
	return out
}

// item returns a batch item stamped at.
func item(at time.Time, r *eventlog.AppendRequest) eventlog.BatchItem {
	return eventlog.BatchItem{Req: r, Time: at}
}

// mustBatch runs AppendBatch and fails the test if the transaction fails.
func mustBatch(t testing.TB, s eventlog.Store, items ...eventlog.BatchItem) []eventlog.BatchItem {
	t.Helper()
	if err := s.AppendBatch(testCtx(t), items); err != nil {
		t.Fatalf("AppendBatch: %v", err)
	}
	return items
}

// mustAppend appends one request stamped at and fails the test unless it
// succeeds.
func mustAppend(t testing.TB, s eventlog.Store, at time.Time, r *eventlog.AppendRequest) eventlog.AppendResult {
	t.Helper()
	it := mustBatch(t, s, item(at, r))[0]
	if it.Err != nil {
		t.Fatalf("append to %s: %v", r.Stream, it.Err)
	}
	return it.Result
}

// readAll returns every stored event of stream.
func readAll(t testing.TB, s interface {
	Read(context.Context, core.StreamID, uint64, int) ([]eventlog.Event, error)
}, stream core.StreamID) []eventlog.Event {
	t.Helper()
	var out []eventlog.Event
	err := eventlog.ReadAll(testCtx(t), s, stream, 0, func(e eventlog.Event) error {
		out = append(out, e)
		return nil
	})
	if err != nil {
		t.Fatalf("read %s: %v", stream, err)
	}
	return out
}

func mustRead(t testing.TB, s eventlog.Store, stream core.StreamID, after uint64, limit int) []eventlog.Event {
	t.Helper()
	evs, err := s.Read(testCtx(t), stream, after, limit)
	if err != nil {
		t.Fatalf("Read(%s, %d, %d): %v", stream, after, limit, err)
	}
	return evs
}

func mustReadSince(t testing.TB, s eventlog.Store, stream core.StreamID, since time.Time, limit int) []eventlog.Event {
	t.Helper()
	evs, err := s.ReadSince(testCtx(t), stream, since, limit)
	if err != nil {
		t.Fatalf("ReadSince(%s, %v, %d): %v", stream, since, limit, err)
	}
	return evs
}

func wantBounds(t testing.TB, s eventlog.Store, stream core.StreamID, first, last uint64) {
	t.Helper()
	f, l, err := s.Bounds(testCtx(t), stream)
	if err != nil {
		t.Fatalf("Bounds(%s): %v", stream, err)
	}
	if f != first || l != last {
		t.Fatalf("Bounds(%s) = (%d, %d), want (%d, %d)", stream, f, l, first, last)
	}
}

// wantSeqs fails unless evs have exactly the sequences want, in order.
func wantSeqs(t testing.TB, evs []eventlog.Event, want ...uint64) {
	t.Helper()
	got := make([]uint64, len(evs))
	for i, e := range evs {
		got[i] = e.Seq
	}
	if !reflect.DeepEqual(got, want) && !(len(got) == 0 && len(want) == 0) {
		t.Fatalf("sequences = %v, want %v", got, want)
	}
}

// seqRange returns first..last.
func seqRange(first, last uint64) []uint64 {
	var out []uint64
	for s := first; s <= last; s++ {
		out = append(out, s)
	}
	return out
}

// wantEvents fails unless got and want are equal field by field.
func wantEvents(t testing.TB, got, want []eventlog.Event) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("got %d events, want %d:\ngot  %s\nwant %s", len(got), len(want), show(got), show(want))
	}
	for i := range got {
		if err := sameEvent(got[i], want[i]); err != nil {
			t.Fatalf("event %d: %v\ngot  %s\nwant %s", i, err, show(got), show(want))
		}
	}
}

func sameEvent(g, w eventlog.Event) error {
	switch {
	case g.Stream != w.Stream:
		return fmt.Errorf("stream %q, want %q", g.Stream, w.Stream)
	case g.Seq != w.Seq:
		return fmt.Errorf("seq %d, want %d", g.Seq, w.Seq)
	case g.Type != w.Type:
		return fmt.Errorf("type %q, want %q", g.Type, w.Type)
	case !g.Time.Equal(w.Time) || g.Time.Location() != time.UTC:
		return fmt.Errorf("time %v (%v), want %v in UTC", g.Time, g.Time.Location(), w.Time)
	case g.Actor != w.Actor:
		return fmt.Errorf("actor %q, want %q", g.Actor, w.Actor)
	case !bytes.Equal(g.Data, w.Data) || (g.Data == nil) != (w.Data == nil):
		return fmt.Errorf("data %q (nil %v), want %q (nil %v)", g.Data, g.Data == nil, w.Data, w.Data == nil)
	case g.Key != w.Key:
		return fmt.Errorf("key %q, want %q", g.Key, w.Key)
	}
	return nil
}

func show(evs []eventlog.Event) string {
	var b strings.Builder
	for _, e := range evs {
		fmt.Fprintf(&b, "[%s #%d %s %s %s %s k=%q] ", e.Stream, e.Seq, e.Type, e.Time.Format(time.RFC3339Nano), e.Actor, e.Data, e.Key)
	}
	return b.String()
}

// wantCode fails unless err carries code.
func wantCode(t testing.TB, err error, code errs.Code) {
	t.Helper()
	if !errs.Is(err, code) {
		t.Fatalf("error = %v, want code %s", err, code)
	}
}

// eventually polls cond until it holds, failing the test after timeout.
func eventually(t testing.TB, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", timeout, what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// recv waits for a value on ch, failing the test after timeout.
func recv[T any](t testing.TB, ch <-chan T, timeout time.Duration, what string) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(timeout):
		t.Fatalf("timed out after %v waiting for %s", timeout, what)
		panic("unreachable")
	}
}

// fakeClock is a core.Clock that tests move by hand.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Set(t time.Time) {
	c.mu.Lock()
	c.t = t
	c.mu.Unlock()
}

// newLog starts a Log over s that is closed when the test ends.
func newLog(t testing.TB, s eventlog.Store, opts eventlog.Options) *eventlog.Log {
	t.Helper()
	l := eventlog.NewLog(s, opts)
	t.Cleanup(func() { l.Close() })
	return l
}

// gateStore holds the first AppendBatch until release is closed, so that a
// test can queue appends behind a commit in progress.
type gateStore struct {
	eventlog.Store
	once    sync.Once
	entered chan struct{}
	release chan struct{}
}

func newGateStore(s eventlog.Store) *gateStore {
	return &gateStore{Store: s, entered: make(chan struct{}), release: make(chan struct{})}
}

func (g *gateStore) AppendBatch(ctx context.Context, items []eventlog.BatchItem) error {
	first := false
	g.once.Do(func() { first = true })
	if first {
		close(g.entered)
		<-g.release
	}
	return g.Store.AppendBatch(ctx, items)
}

var errStop = errors.New("stop following")
