package calls_test

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/parleyhq/parley/internal/actor"
	"github.com/parleyhq/parley/internal/calls"
	"github.com/parleyhq/parley/internal/core"
	"github.com/parleyhq/parley/internal/errs"
	"github.com/parleyhq/parley/internal/eventlog"
)

// run decides cmd and applies its events, as the actor host does.
type run struct {
	t   *testing.T
	b   *calls.Behavior
	seq uint64
	now time.Time
}

func newRun(t *testing.T) *run {
	b := calls.New(calls.Options{MaxMembers: 4, RingTimeout: 30 * time.Second})("call:c1").(*calls.Behavior)
	return &run{t: t, b: b, now: time.Unix(1000, 0)}
}

func (r *run) apply(d actor.Decision) []string {
	var types []string
	for _, e := range d.Events {
		r.seq++
		r.b.Apply(&eventlog.Event{Stream: "call:c1", Seq: r.seq, Type: e.Type, Actor: e.Actor, Data: e.Data, Time: r.now})
		types = append(types, e.Type)
	}
	return types
}

func (r *run) do(name string, who core.UserID, data any) ([]string, actor.Decision, error) {
	r.t.Helper()
	var raw json.RawMessage
	if data != nil {
		raw, _ = json.Marshal(data)
	}
	d, err := r.b.Decide(&actor.Command{Name: name, Actor: who, Data: raw, Time: r.now})
	if err != nil {
		return nil, d, err
	}
	return r.apply(d), d, nil
}

func (r *run) state() calls.State { return r.b.State().(calls.State) }

func TestStartRingsMembersButTheCaller(t *testing.T) {
	r := newRun(t)
	if _, _, err := r.do(calls.CommandJoin, "a", nil); errs.CodeOf(err) != errs.NotFound {
		t.Fatalf("join before start: %v", err)
	}
	_, d, err := r.do(calls.CommandStart, "a", calls.Start{Members: []core.UserID{"b", "c", "b", "a"}})
	if err != nil {
		t.Fatal(err)
	}
	if len(d.Notify) != 2 || d.Notify[0].User != "b" || d.Notify[1].User != "c" || d.Notify[0].Event != calls.PushRing {
		t.Fatalf("notices %+v", d.Notify)
	}
	if st := r.state(); len(st.Members) != 3 || !st.Ringing["b"] || st.In["a"] {
		t.Fatalf("state %+v", st)
	}
	if _, _, err := r.do(calls.CommandStart, "a", calls.Start{Members: []core.UserID{"b"}}); errs.CodeOf(err) != errs.AlreadyExists {
		t.Fatalf("second start: %v", err)
	}
	if _, _, err := r.do(calls.CommandJoin, "x", nil); errs.CodeOf(err) != errs.Forbidden {
		t.Fatalf("stranger joins: %v", err)
	}
}

func TestStartLimits(t *testing.T) {
	r := newRun(t)
	for _, tc := range []struct {
		members []core.UserID
		code    errs.Code
	}{
		{nil, errs.InvalidArgument},
		{[]core.UserID{"a"}, errs.InvalidArgument},
		{[]core.UserID{"b", "bad id"}, errs.InvalidArgument},
		{[]core.UserID{"b", "c", "d", "e"}, errs.LimitExceeded},
	} {
		if _, _, err := r.do(calls.CommandStart, "a", calls.Start{Members: tc.members}); errs.CodeOf(err) != tc.code {
			t.Errorf("%v: %v, want %s", tc.members, err, tc.code)
		}
	}
}

func TestEndsWhenTheLastPersonLeaves(t *testing.T) {
	r := newRun(t)
	r.do(calls.CommandStart, "a", calls.Start{Members: []core.UserID{"b", "c"}})
	r.do(calls.CommandJoin, "a", nil)
	got, d, _ := r.do(calls.CommandJoin, "b", nil)
	if len(got) != 1 || d.Notify[0].Event != calls.PushRingEnded {
		t.Fatalf("join: %v %+v", got, d.Notify)
	}
	if got, _, _ := r.do(calls.CommandJoin, "b", nil); len(got) != 0 {
		t.Fatalf("joining twice: %v", got)
	}
	if got, _, _ := r.do(calls.CommandLeave, "a", calls.Leave{Reason: "left"}); len(got) != 1 {
		t.Fatalf("first leave: %v", got)
	}
	r.now = r.now.Add(90 * time.Second)
	got, d, _ = r.do(calls.CommandLeave, "b", nil)
	if len(got) != 2 || got[1] != calls.EventEnded {
		t.Fatalf("last leave: %v", got)
	}
	// c was still ringing: the ring stops.
	if len(d.Notify) != 1 || d.Notify[0].User != "c" {
		t.Fatalf("notices %+v", d.Notify)
	}
	if _, _, err := r.do(calls.CommandJoin, "c", nil); errs.CodeOf(err) != errs.Closed {
		t.Fatalf("join after the end: %v", err)
	}
}

func TestDeclineAndRingTimeout(t *testing.T) {
	r := newRun(t)
	r.do(calls.CommandStart, "a", calls.Start{Members: []core.UserID{"b", "c"}})
	if got, _, _ := r.do(calls.CommandDecline, "b", nil); len(got) != 1 {
		t.Fatalf("decline: %v", got)
	}
	if _, _, err := r.do(calls.CommandDecline, "b", nil); errs.CodeOf(err) != errs.Conflict {
		t.Fatalf("declining twice: %v", err)
	}
	if _, ok := r.b.Tick(r.now.Add(10 * time.Second)); ok || !r.b.Busy() {
		t.Fatal("ring timed out early")
	}
	r.now = r.now.Add(31 * time.Second)
	d, ok := r.b.Tick(r.now)
	if !ok {
		t.Fatal("no ring timeout")
	}
	// Nobody joined, not even the caller: the call ends unanswered.
	if got := r.apply(d); len(got) != 2 || got[0] != calls.EventMissed || got[1] != calls.EventEnded {
		t.Fatalf("timeout: %v", got)
	}
	if st := r.state(); st.Status != calls.StatusEnded || !st.Missed["c"] || !st.Declined["b"] || r.b.Busy() {
		t.Fatalf("state %+v", st)
	}
}

func TestLastDeclineEndsAnEmptyCall(t *testing.T) {
	r := newRun(t)
	r.do(calls.CommandStart, "a", calls.Start{Members: []core.UserID{"b"}})
	if got, _, _ := r.do(calls.CommandDecline, "b", nil); len(got) != 2 || got[1] != calls.EventEnded {
		t.Fatalf("decline of an empty call: %v", got)
	}
}
