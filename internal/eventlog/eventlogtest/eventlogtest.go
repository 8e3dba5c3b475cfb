// Package eventlogtest is the contract test suite of eventlog.Store. Every
// adapter runs the same suite (Run, RunShared), the same crash test (Crash,
// CrashChild) and the same benchmarks (BenchAppend, BenchReplay) against
// its real database.
//
// The benchmarks are run with
//
//	go test -run '^$' -bench BenchmarkEventLogAppend -benchtime=100000x ./internal/sqlite/ ./internal/postgres/
//	go test -run '^$' -bench BenchmarkEventLogReplay -benchtime=1x ./internal/sqlite/ ./internal/postgres/
package eventlogtest

import (
	"bytes"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/parleyhq/parley/internal/core"
	"github.com/parleyhq/parley/internal/errs"
	"github.com/parleyhq/parley/internal/eventlog"
)

// Run runs the contract tests against stores made by open, which must
// return a new, empty store (closed by open's own t.Cleanup) for every
// call. The tests use the store both directly and through eventlog.Log.
func Run(t *testing.T, open func(t *testing.T) eventlog.Store) {
	store := []struct {
		name string
		fn   func(t *testing.T, s eventlog.Store)
	}{
		{"AppendAssignsSequencesFromOne", testAppendAssignsSequences},
		{"DataAndActorRoundTrip", testDataRoundTrip},
		{"TimeKeepsMicrosecondsInUTC", testTimeMicroseconds},
		{"ReadPages", testReadPages},
		{"ReadDefaultLimit", testReadDefaultLimit},
		{"BoundsOfUnknownStream", testBoundsUnknown},
		{"StreamsAreIndependent", testStreamsIndependent},
		{"ExpectedSequenceConflict", testExpectedConflict},
		{"ConflictFailsOnlyItsItem", testConflictIsolated},
		{"ItemsApplyInOrder", testItemsInOrder},
		{"InvalidItemsFailAlone", testInvalidItems},
		{"IdempotencyKey", testIdempotencyKey},
		{"IdempotencyKeyTwiceInOneBatch", testKeyTwiceInBatch},
		{"ConflictDoesNotRecordKey", testConflictKeepsKeyFree},
		{"TruncateNeverReusesSequences", testTruncate},
		{"TruncateForgetsKeysOfDeletedEvents", testTruncateKeys},
		{"ReadSince", testReadSince},
		{"ReadSinceWithClockSteppingBack", testReadSinceNonMonotonic},
		{"ReadSinceAfterTruncate", testReadSinceTruncated},
		{"LargeBatch", testLargeBatch},
		{"ConcurrentAppendBatch", testConcurrentAppendBatch},
		{"ListStreamsOfAKind", testListStreams},
	}
	for _, tc := range store {
		t.Run("Store/"+tc.name, func(t *testing.T) { tc.fn(t, open(t)) })
	}
	log := []struct {
		name string
		fn   func(t *testing.T, s eventlog.Store)
	}{
		{"AppendIsReadable", testLogAppend},
		{"ConcurrentAppendersGetContiguousSequences", testLogConcurrent},
		{"ConflictsUnderConcurrency", testLogConflicts},
		{"IdempotencyUnderConcurrency", testLogIdempotent},
		{"FollowHistoryThenLive", testFollow},
		{"FollowSeesOtherWriters", testFollowOtherWriters},
		{"FollowStopsOnCallbackError", testFollowStops},
		{"CloseDrainsQueuedAppends", testCloseDrains},
		{"OnCommitCountsEvents", testOnCommit},
		{"FailedCommitFailsItsAppends", testFailedCommit},
		{"TruncateWhileAppending", testTruncateWhileAppending},
	}
	for _, tc := range log {
		t.Run("Log/"+tc.name, func(t *testing.T) { tc.fn(t, open(t)) })
	}
}

const sA, sB, sC core.StreamID = "room:a", "room:b", "chan:c"

func testAppendAssignsSequences(t *testing.T, s eventlog.Store) {
	res := mustAppend(t, s, base, req(sA, 0, "",
		draft("room.created", "u_1", `{"title":"x"}`),
		draft("member.joined", "u_2", `{"role":"speaker"}`),
		draft("member.left", "", "")))
	want := []eventlog.Event{
		{Stream: sA, Seq: 1, Type: "room.created", Time: baseUTC, Actor: "u_1", Data: []byte(`{"title":"x"}`)},
		{Stream: sA, Seq: 2, Type: "member.joined", Time: baseUTC, Actor: "u_2", Data: []byte(`{"role":"speaker"}`)},
		{Stream: sA, Seq: 3, Type: "member.left", Time: baseUTC},
	}
	if res.Duplicate {
		t.Fatal("first append reported Duplicate")
	}
	wantEvents(t, res.Events, want)
	wantEvents(t, mustRead(t, s, sA, 0, 100), want)
	wantBounds(t, s, sA, 1, 3)

	res = mustAppend(t, s, base, req(sA, 3, "", draft("room.ended", "u_1", `{}`)))
	wantSeqs(t, res.Events, 4)
	wantBounds(t, s, sA, 1, 4)
}

func testDataRoundTrip(t *testing.T, s eventlog.Store) {
	big := `{"blob":"` + strings.Repeat("é0123456789", 6000) + `"}`
	datas := []string{
		`{"b": 1,   "a" : [1, 2.50, "x\u00e9\n"], "z":null}`,
		`"just a string"`,
		`12345678901234567890`,
		`null`,
		` [ ] `,
		big,
	}
	var ds []eventlog.Draft
	for i, d := range datas {
		ds = append(ds, draft("t", core.UserID([]string{"u_1", "usr-ünïcode", ""}[i%3]), d))
	}
	ds = append(ds,
		eventlog.Draft{Type: "nil.data", Actor: "u_9"},
		eventlog.Draft{Type: "empty.data", Actor: "u_9", Data: []byte{}})
	res := mustAppend(t, s, base, req(sA, eventlog.AnySeq, "", ds...))
	got := mustRead(t, s, sA, 0, 0)
	wantEvents(t, got, res.Events)
	for i, d := range datas {
		if !bytes.Equal(got[i].Data, []byte(d)) {
			t.Fatalf("event %d data = %.80q, want %.80q", i, got[i].Data, d)
		}
		if want := core.UserID([]string{"u_1", "usr-ünïcode", ""}[i%3]); got[i].Actor != want {
			t.Fatalf("event %d actor = %q, want %q", i, got[i].Actor, want)
		}
	}
	for _, e := range got[len(datas):] {
		if e.Data != nil {
			t.Fatalf("%s: data = %q, want nil", e.Type, e.Data)
		}
		if e.Actor != "u_9" {
			t.Fatalf("%s: actor = %q", e.Type, e.Actor)
		}
	}
}

func testTimeMicroseconds(t *testing.T, s eventlog.Store) {
	at := time.Date(2031, 12, 31, 23, 59, 59, 999999999, time.FixedZone("IST", 5*3600+1800))
	res := mustAppend(t, s, at, req(sA, 0, "", draft("t", "", "")))
	want := time.Date(2031, 12, 31, 18, 29, 59, 999999000, time.UTC)
	for _, evs := range [][]eventlog.Event{res.Events, mustRead(t, s, sA, 0, 0)} {
		got := evs[0].Time
		if !got.Equal(want) || got.Location() != time.UTC {
			t.Fatalf("time = %v (%v), want %v in UTC", got, got.Location(), want)
		}
	}
	// A zero time stands for now.
	before := time.Now().Add(-time.Second)
	res = mustAppend(t, s, time.Time{}, req(sA, 1, "", draft("t", "", "")))
	if got := res.Events[0].Time; got.Before(before) || got.After(time.Now().Add(time.Second)) {
		t.Fatalf("zero batch time stamped %v, want about now", got)
	}
}

func testReadPages(t *testing.T, s eventlog.Store) {
	mustAppend(t, s, base, req(sA, 0, "", drafts(25, 1)...))
	wantSeqs(t, mustRead(t, s, sA, 0, 10), seqRange(1, 10)...)
	wantSeqs(t, mustRead(t, s, sA, 10, 10), seqRange(11, 20)...)
	page := mustRead(t, s, sA, 20, 10)
	wantSeqs(t, page, seqRange(21, 25)...)
	if string(page[4].Data) != `{"n":25}` {
		t.Fatalf("event 25 data = %s", page[4].Data)
	}
	wantSeqs(t, mustRead(t, s, sA, 25, 10))
	wantSeqs(t, mustRead(t, s, sA, 1000, 10))
	wantSeqs(t, mustRead(t, s, "room:nothing", 0, 10))
	wantSeqs(t, mustRead(t, s, sA, 24, 1), 25)
}

func testReadDefaultLimit(t *testing.T, s eventlog.Store) {
	n := eventlog.DefaultReadLimit + 7
	mustAppend(t, s, base, req(sA, 0, "", drafts(n, 1)...))
	for _, limit := range []int{0, -1} {
		wantSeqs(t, mustRead(t, s, sA, 0, limit), seqRange(1, eventlog.DefaultReadLimit)...)
		wantSeqs(t, mustReadSince(t, s, sA, baseUTC, limit), seqRange(1, eventlog.DefaultReadLimit)...)
	}
	wantSeqs(t, mustRead(t, s, sA, eventlog.DefaultReadLimit, 0), seqRange(eventlog.DefaultReadLimit+1, uint64(n))...)
	if got := len(readAll(t, s, sA)); got != n {
		t.Fatalf("ReadAll got %d events, want %d", got, n)
	}
}

func testBoundsUnknown(t *testing.T, s eventlog.Store) {
	wantBounds(t, s, "room:unknown", 0, 0)
	// A failed append does not make a stream appear.
	it := mustBatch(t, s, item(base, req(sA, 3, "", draft("t", "", ""))))[0]
	wantCode(t, it.Err, errs.Conflict)
	wantBounds(t, s, sA, 0, 0)
}

func testStreamsIndependent(t *testing.T, s eventlog.Store) {
	mustAppend(t, s, base, req(sA, 0, "", drafts(3, 1)...))
	mustAppend(t, s, base, req(sB, 0, "", drafts(2, 100)...))
	mustAppend(t, s, base, req(sA, 3, "", drafts(1, 4)...))
	a, b := readAll(t, s, sA), readAll(t, s, sB)
	wantSeqs(t, a, 1, 2, 3, 4)
	wantSeqs(t, b, 1, 2)
	if string(b[1].Data) != `{"n":101}` || b[1].Stream != sB {
		t.Fatalf("stream b event 2 = %s", show(b[1:]))
	}
	wantBounds(t, s, sA, 1, 4)
	wantBounds(t, s, sB, 1, 2)
}

func testExpectedConflict(t *testing.T, s eventlog.Store) {
	mustAppend(t, s, base, req(sA, 0, "", drafts(3, 1)...))
	for _, exp := range []int64{0, 1, 2, 4, 99} {
		it := mustBatch(t, s, item(base, req(sA, exp, "", draft("stale", "", `{}`))))[0]
		wantCode(t, it.Err, errs.Conflict)
		if !strings.Contains(it.Err.Error(), "at sequence 3,") {
			t.Fatalf("conflict message %q does not state the last sequence 3", it.Err)
		}
		if len(it.Result.Events) != 0 || it.Result.Duplicate {
			t.Fatalf("conflicting item has a result: %+v", it.Result)
		}
	}
	wantBounds(t, s, sA, 1, 3)
	wantSeqs(t, readAll(t, s, sA), 1, 2, 3)

	wantSeqs(t, mustAppend(t, s, base, req(sA, 3, "", drafts(1, 4)...)).Events, 4)
	wantSeqs(t, mustAppend(t, s, base, req(sA, eventlog.AnySeq, "", drafts(2, 5)...)).Events, 5, 6)

	it := mustBatch(t, s, item(base, req(sB, 2, "", draft("t", "", ""))))[0]
	wantCode(t, it.Err, errs.Conflict)
	if !strings.Contains(it.Err.Error(), "at sequence 0,") {
		t.Fatalf("conflict message %q does not state the last sequence 0", it.Err)
	}
	wantBounds(t, s, sB, 0, 0)
}

func testConflictIsolated(t *testing.T, s eventlog.Store) {
	items := mustBatch(t, s,
		item(base, req(sA, 0, "", drafts(2, 1)...)),                    // 0: a 1-2
		item(base, req(sA, 0, "", draft("stale", "", ""))),             // 1: conflict
		item(base, req(sB, 0, "", drafts(1, 10)...)),                   // 2: b 1
		item(base, req(sA, 2, "", drafts(1, 3)...)),                    // 3: a 3
		item(base, req("bad stream", 0, "", draft("t", "", ""))),       // 4: invalid
		item(base, req(sB, eventlog.AnySeq, "", drafts(1, 11)...)),     // 5: b 2
		item(base, req(sA, 2, "k", draft("stale.keyed", "", ""))),      // 6: conflict
		item(base, req(sC, eventlog.AnySeq, "", draft("t", "", `{}`))), // 7: c 1
	)
	for i, want := range []errs.Code{"", errs.Conflict, "", "", errs.InvalidArgument, "", errs.Conflict, ""} {
		if got := errs.CodeOf(items[i].Err); got != want {
			t.Fatalf("item %d: error %v, want code %q", i, items[i].Err, want)
		}
	}
	wantSeqs(t, items[0].Result.Events, 1, 2)
	wantSeqs(t, items[2].Result.Events, 1)
	wantSeqs(t, items[3].Result.Events, 3)
	wantSeqs(t, items[5].Result.Events, 2)
	wantSeqs(t, items[7].Result.Events, 1)
	if !strings.Contains(items[6].Err.Error(), "at sequence 3,") {
		t.Fatalf("conflict message %q does not state the last sequence 3", items[6].Err)
	}
	a := readAll(t, s, sA)
	wantEvents(t, a, append(append([]eventlog.Event{}, items[0].Result.Events...), items[3].Result.Events...))
	wantEvents(t, readAll(t, s, sB), append(append([]eventlog.Event{}, items[2].Result.Events...), items[5].Result.Events...))
	wantBounds(t, s, sC, 1, 1)
}

func testItemsInOrder(t *testing.T, s eventlog.Store) {
	var items []eventlog.BatchItem
	for i := 0; i < 10; i++ {
		items = append(items, item(base.Add(time.Duration(i)*time.Millisecond),
			req(sA, int64(i*2), "", drafts(2, i*2+1)...)))
	}
	mustBatch(t, s, items...)
	for i, it := range items {
		if it.Err != nil {
			t.Fatalf("item %d: %v", i, it.Err)
		}
		wantSeqs(t, it.Result.Events, uint64(2*i+1), uint64(2*i+2))
	}
	evs := readAll(t, s, sA)
	wantSeqs(t, evs, seqRange(1, 20)...)
	for i, e := range evs {
		want := baseUTC.Add(time.Duration(i/2) * time.Millisecond)
		if !e.Time.Equal(want) {
			t.Fatalf("event %d time %v, want %v", e.Seq, e.Time, want)
		}
	}
}

func testInvalidItems(t *testing.T, s eventlog.Store) {
	bad := []*eventlog.AppendRequest{
		nil,
		req(sA, 0, ""),
		req("nocolon", 0, "", draft("t", "", "")),
		req("room:", 0, "", draft("t", "", "")),
		req(sA, 0, "", draft("", "", "")),
		req(sA, 0, "", draft(strings.Repeat("t", 65), "", "")),
		req(sA, 0, "", draft("t", "", `{"unterminated":`)),
		req(sA, 0, strings.Repeat("k", eventlog.MaxKeyLen+1), draft("t", "", "")),
		req(sA, -2, "", draft("t", "", "")),
		req(sA, 0, "bad\xffkey", draft("t", "", "")),
		req(sA, 0, "nul\x00key", draft("t", "", "")),
		req(sA, 0, "", draft("bad\xfftype", "", "")),
		req(sA, 0, "", draft("t", "u_\x00", "")),
		req(sA, 0, "", draft("t", "u_\xc3", "")),
	}
	items := []eventlog.BatchItem{item(base, req(sB, 0, "", draft("ok", "", "")))}
	for _, r := range bad {
		items = append(items, eventlog.BatchItem{Req: r, Time: base})
	}
	items = append(items, item(base, req(sB, 1, "", draft("ok", "", ""))))
	mustBatch(t, s, items...)
	for i, it := range items[1 : len(items)-1] {
		wantCode(t, it.Err, errs.InvalidArgument)
		if len(it.Result.Events) != 0 {
			t.Fatalf("invalid item %d has events", i)
		}
	}
	if items[0].Err != nil || items[len(items)-1].Err != nil {
		t.Fatalf("valid items failed: %v, %v", items[0].Err, items[len(items)-1].Err)
	}
	wantBounds(t, s, sA, 0, 0)
	wantSeqs(t, readAll(t, s, sB), 1, 2)
}

func testIdempotencyKey(t *testing.T, s eventlog.Store) {
	first := mustAppend(t, s, base, req(sA, 0, "msg-1", drafts(2, 1)...))
	wantSeqs(t, first.Events, 1, 2)
	for _, e := range first.Events {
		if e.Key != "msg-1" {
			t.Fatalf("event key = %q", e.Key)
		}
	}
	mustAppend(t, s, base, req(sA, 2, "", drafts(1, 3)...))
	// A retry with another Expected and other data is still a duplicate.
	for _, exp := range []int64{0, 2, 3, 50, eventlog.AnySeq} {
		dup := mustAppend(t, s, base.Add(time.Hour), req(sA, exp, "msg-1", drafts(3, 100)...))
		if !dup.Duplicate {
			t.Fatalf("retry with Expected %d was appended again: %s", exp, show(dup.Events))
		}
		wantEvents(t, dup.Events, first.Events)
	}
	wantBounds(t, s, sA, 1, 3)
	stored := readAll(t, s, sA)
	wantEvents(t, stored[:2], first.Events)
	if stored[2].Key != "" {
		t.Fatalf("unkeyed event has key %q", stored[2].Key)
	}
	// Keys belong to their stream.
	other := mustAppend(t, s, base, req(sB, 0, "msg-1", drafts(1, 9)...))
	if other.Duplicate {
		t.Fatal("same key on another stream reported Duplicate")
	}
	wantSeqs(t, other.Events, 1)
	// A longest key works.
	long := strings.Repeat("k", eventlog.MaxKeyLen)
	mustAppend(t, s, base, req(sA, 3, long, drafts(1, 4)...))
	if dup := mustAppend(t, s, base, req(sA, 3, long, drafts(1, 4)...)); !dup.Duplicate {
		t.Fatal("long key not deduplicated")
	}
}

func testKeyTwiceInBatch(t *testing.T, s eventlog.Store) {
	items := mustBatch(t, s,
		item(base, req(sA, 0, "k", drafts(2, 1)...)),
		item(base, req(sA, 0, "k", drafts(1, 50)...)), // would conflict without the key
		item(base, req(sB, 0, "k", drafts(1, 60)...)),
		item(base, req(sA, 2, "k2", drafts(1, 3)...)),
		item(base, req(sA, eventlog.AnySeq, "k", drafts(1, 70)...)),
	)
	for i, it := range items {
		if it.Err != nil {
			t.Fatalf("item %d: %v", i, it.Err)
		}
	}
	if items[0].Result.Duplicate || items[2].Result.Duplicate || items[3].Result.Duplicate {
		t.Fatal("first use of a key reported Duplicate")
	}
	for _, i := range []int{1, 4} {
		if !items[i].Result.Duplicate {
			t.Fatalf("item %d repeats key k but was appended: %s", i, show(items[i].Result.Events))
		}
		wantEvents(t, items[i].Result.Events, items[0].Result.Events)
	}
	wantSeqs(t, items[3].Result.Events, 3)
	wantBounds(t, s, sA, 1, 3)
	wantBounds(t, s, sB, 1, 1)
	// And in a later batch.
	if dup := mustAppend(t, s, base, req(sA, 0, "k", drafts(1, 80)...)); !dup.Duplicate {
		t.Fatal("key k not remembered after its batch")
	}
}

func testConflictKeepsKeyFree(t *testing.T, s eventlog.Store) {
	items := mustBatch(t, s,
		item(base, req(sA, 5, "k", drafts(1, 1)...)),
		item(base, req(sA, 0, "k", drafts(1, 2)...)),
	)
	wantCode(t, items[0].Err, errs.Conflict)
	if items[1].Err != nil || items[1].Result.Duplicate {
		t.Fatalf("append after a conflicting use of its key: err %v, duplicate %v", items[1].Err, items[1].Result.Duplicate)
	}
	wantSeqs(t, items[1].Result.Events, 1)
	it := mustBatch(t, s, item(base, req(sA, 9, "k2", drafts(1, 3)...)))[0]
	wantCode(t, it.Err, errs.Conflict)
	res := mustAppend(t, s, base, req(sA, 1, "k2", drafts(1, 3)...))
	if res.Duplicate {
		t.Fatal("key of a conflicting append was recorded")
	}
	wantSeqs(t, res.Events, 2)
}

func testTruncate(t *testing.T, s eventlog.Store) {
	ctx := testCtx(t)
	mustAppend(t, s, base, req(sA, 0, "", drafts(5, 1)...))
	mustAppend(t, s, base, req(sB, 0, "", drafts(2, 1)...))
	if err := s.Truncate(ctx, sA, 3); err != nil {
		t.Fatal(err)
	}
	wantBounds(t, s, sA, 3, 5)
	wantSeqs(t, readAll(t, s, sA), 3, 4, 5)
	wantSeqs(t, mustReadSince(t, s, sA, base.Add(-time.Hour), 0), 3, 4, 5)
	wantBounds(t, s, sB, 1, 2)
	// Truncating below the first stored sequence changes nothing.
	for _, before := range []uint64{0, 1, 2, 3} {
		if err := s.Truncate(ctx, sA, before); err != nil {
			t.Fatal(err)
		}
		wantBounds(t, s, sA, 3, 5)
	}
	wantSeqs(t, mustAppend(t, s, base, req(sA, 5, "", drafts(1, 6)...)).Events, 6)
	// Truncating everything keeps the last sequence.
	if err := s.Truncate(ctx, sA, 1000); err != nil {
		t.Fatal(err)
	}
	wantBounds(t, s, sA, 7, 6)
	wantSeqs(t, readAll(t, s, sA))
	it := mustBatch(t, s, item(base, req(sA, 0, "", drafts(1, 1)...)))[0]
	wantCode(t, it.Err, errs.Conflict)
	wantSeqs(t, mustAppend(t, s, base, req(sA, 6, "", drafts(1, 7)...)).Events, 7)
	wantBounds(t, s, sA, 7, 7)
	wantSeqs(t, readAll(t, s, sA), 7)
	if err := s.Truncate(ctx, "room:unknown", 10); err != nil {
		t.Fatal(err)
	}
	wantBounds(t, s, "room:unknown", 0, 0)
}

func testTruncateKeys(t *testing.T, s eventlog.Store) {
	mustAppend(t, s, base, req(sA, 0, "k1", drafts(2, 1)...))
	k2 := mustAppend(t, s, base, req(sA, 2, "k2", drafts(2, 3)...))
	if err := s.Truncate(testCtx(t), sA, 4); err != nil {
		t.Fatal(err)
	}
	// k2's append is partly stored: still a duplicate, with what is left.
	dup := mustAppend(t, s, base, req(sA, eventlog.AnySeq, "k2", drafts(1, 9)...))
	if !dup.Duplicate {
		t.Fatal("key k2 forgotten while one of its events is stored")
	}
	wantEvents(t, dup.Events, k2.Events[1:])
	// k1's events are all gone, and so is the key.
	again := mustAppend(t, s, base, req(sA, eventlog.AnySeq, "k1", drafts(1, 5)...))
	if again.Duplicate {
		t.Fatalf("key k1 still deduplicates after its events were truncated: %s", show(again.Events))
	}
	wantSeqs(t, again.Events, 5)
	wantBounds(t, s, sA, 4, 5)
}

func testReadSince(t *testing.T, s eventlog.Store) {
	t0 := base
	for i := 0; i < 3; i++ {
		mustAppend(t, s, t0.Add(time.Duration(i)*time.Second), req(sA, int64(2*i), "", drafts(2, 2*i+1)...))
	}
	wantSeqs(t, mustReadSince(t, s, sA, t0.Add(-time.Hour), 0), 1, 2, 3, 4, 5, 6)
	// The stored time is t0 truncated to the microsecond (baseUTC), which
	// is before t0 itself.
	wantSeqs(t, mustReadSince(t, s, sA, baseUTC, 0), 1, 2, 3, 4, 5, 6)
	wantSeqs(t, mustReadSince(t, s, sA, t0, 0), 3, 4, 5, 6)
	wantSeqs(t, mustReadSince(t, s, sA, baseUTC.Add(time.Nanosecond), 0), 3, 4, 5, 6)
	wantSeqs(t, mustReadSince(t, s, sA, baseUTC.Add(time.Second), 0), 3, 4, 5, 6)
	wantSeqs(t, mustReadSince(t, s, sA, baseUTC.Add(time.Second+time.Microsecond), 0), 5, 6)
	wantSeqs(t, mustReadSince(t, s, sA, baseUTC.Add(2*time.Second).In(time.FixedZone("W", -7*3600)), 0), 5, 6)
	wantSeqs(t, mustReadSince(t, s, sA, t0.Add(3*time.Second), 0))
	wantSeqs(t, mustReadSince(t, s, sA, baseUTC, 3), 1, 2, 3)
	wantSeqs(t, mustReadSince(t, s, sA, baseUTC.Add(time.Second), 1), 3)
	wantSeqs(t, mustReadSince(t, s, "room:unknown", t0, 0))
	evs := mustReadSince(t, s, sA, baseUTC.Add(time.Second), 0)
	wantEvents(t, evs, mustRead(t, s, sA, 2, 0))
}

func testReadSinceNonMonotonic(t *testing.T, s eventlog.Store) {
	// Clocks of different nodes, or one stepped back, need not grow with
	// the sequence: ReadSince filters by time and still orders by sequence.
	times := []time.Duration{0, 5, 2, 7, 1, 6}
	for i, d := range times {
		mustAppend(t, s, baseUTC.Add(d*time.Second), req(sA, int64(i), "", drafts(1, i+1)...))
	}
	wantSeqs(t, mustReadSince(t, s, sA, baseUTC.Add(2*time.Second), 0), 2, 3, 4, 6)
	wantSeqs(t, mustReadSince(t, s, sA, baseUTC.Add(6*time.Second), 0), 4, 6)
	wantSeqs(t, mustReadSince(t, s, sA, baseUTC.Add(time.Second), 2), 2, 3)
	wantSeqs(t, mustReadSince(t, s, sA, baseUTC, 0), 1, 2, 3, 4, 5, 6)
	wantSeqs(t, mustReadSince(t, s, sA, baseUTC.Add(7*time.Second+time.Microsecond), 0))
}

func testLargeBatch(t *testing.T, s eventlog.Store) {
	// Many items over several streams in one transaction, with multi-event
	// items, keys and conflicts mixed in.
	streams := []core.StreamID{"room:l0", "room:l1", "room:l2", "chan:l3", "user:l4"}
	last := map[core.StreamID]int64{}
	var items []eventlog.BatchItem
	var wantErr []bool
	for i := 0; i < 2000; i++ {
		st := streams[i%len(streams)]
		n := 1 + i%3
		exp := eventlog.AnySeq
		stale := i%97 == 0
		switch {
		case stale:
			exp = last[st] + 5
		case i%2 == 0:
			exp = last[st]
		}
		key := ""
		if i%10 == 0 {
			key = fmt.Sprintf("key-%d", i)
		}
		items = append(items, item(base, req(st, exp, key, drafts(n, i*10)...)))
		wantErr = append(wantErr, stale)
		if !stale {
			last[st] += int64(n)
		}
	}
	mustBatch(t, s, items...)
	for i, it := range items {
		if wantErr[i] {
			wantCode(t, it.Err, errs.Conflict)
		} else if it.Err != nil {
			t.Fatalf("item %d: %v", i, it.Err)
		}
	}
	for _, st := range streams {
		evs := readAll(t, s, st)
		wantSeqs(t, evs, seqRange(1, uint64(last[st]))...)
		wantBounds(t, s, st, 1, uint64(last[st]))
	}
	for i, it := range items {
		if it.Err == nil {
			got := mustRead(t, s, it.Req.Stream, it.Result.Events[0].Seq-1, len(it.Result.Events))
			wantEvents(t, got, it.Result.Events)
			if i > 200 {
				break
			}
		}
	}
}

func testReadSinceTruncated(t *testing.T, s eventlog.Store) {
	// Two events in each of three seconds; truncation cuts the middle one.
	for i := 0; i < 6; i++ {
		at := baseUTC.Add(time.Duration(i/2)*time.Second + time.Duration(i)*time.Millisecond)
		mustAppend(t, s, at, req(sA, int64(i), "", drafts(1, i+1)...))
	}
	if err := s.Truncate(testCtx(t), sA, 4); err != nil {
		t.Fatal(err)
	}
	wantSeqs(t, mustReadSince(t, s, sA, baseUTC, 0), 4, 5, 6)
	wantSeqs(t, mustReadSince(t, s, sA, baseUTC.Add(time.Second), 0), 4, 5, 6)
	wantSeqs(t, mustReadSince(t, s, sA, baseUTC.Add(time.Second+3*time.Millisecond+time.Microsecond), 0), 5, 6)
	wantSeqs(t, mustReadSince(t, s, sA, baseUTC.Add(2*time.Second), 0), 5, 6)
	// Appends after the truncation, one with the clock stepped back.
	mustAppend(t, s, baseUTC.Add(time.Second+500*time.Millisecond), req(sA, 6, "", drafts(1, 7)...))
	mustAppend(t, s, baseUTC.Add(3*time.Second), req(sA, 7, "", drafts(1, 8)...))
	wantSeqs(t, mustReadSince(t, s, sA, baseUTC.Add(time.Second), 0), 4, 5, 6, 7, 8)
	wantSeqs(t, mustReadSince(t, s, sA, baseUTC.Add(time.Second+100*time.Millisecond), 0), 5, 6, 7, 8)
	wantSeqs(t, mustReadSince(t, s, sA, baseUTC.Add(2*time.Second+10*time.Millisecond), 0), 8)
	if err := s.Truncate(testCtx(t), sA, 100); err != nil {
		t.Fatal(err)
	}
	wantSeqs(t, mustReadSince(t, s, sA, baseUTC, 0))
	mustAppend(t, s, baseUTC, req(sA, 8, "", drafts(1, 9)...))
	wantSeqs(t, mustReadSince(t, s, sA, baseUTC, 0), 9)
	wantSeqs(t, mustReadSince(t, s, sA, baseUTC.Add(-time.Hour), 0), 9)
}

// testListStreams checks eventlog.Lister: the streams of one kind in byte
// order of their names, paged, with their last sequences, without streams
// of other kinds (including kinds that share a prefix) or never written.
func testListStreams(t *testing.T, s eventlog.Store) {
	ls, ok := s.(eventlog.Lister)
	if !ok {
		t.Fatalf("%T does not implement eventlog.Lister", s)
	}
	names := []core.StreamID{"channel:b", "channel:a", "channel:B", "channel:a-1", "channel:a_2", "channels:x", "chan:z", "channe:y", "room:a"}
	for i, n := range names {
		mustAppend(t, s, base, req(n, 0, "", drafts(i+1, 0)...))
	}
	// A failed append leaves no listed stream behind.
	it := mustBatch(t, s, item(base, req("channel:zz", 5, "", draft("t", "", ""))))[0]
	wantCode(t, it.Err, errs.Conflict)
	ctx := testCtx(t)
	var got []eventlog.StreamInfo
	var after core.StreamID
	for {
		page, err := ls.Streams(ctx, "channel", after, 2)
		if err != nil {
			t.Fatal(err)
		}
		if len(page) > 2 {
			t.Fatalf("page of %d streams, limit 2", len(page))
		}
		got = append(got, page...)
		if len(page) < 2 {
			break
		}
		after = page[len(page)-1].Stream
	}
	want := []eventlog.StreamInfo{{Stream: "channel:B", Last: 3}, {Stream: "channel:a", Last: 2}, {Stream: "channel:a-1", Last: 4}, {Stream: "channel:a_2", Last: 5}, {Stream: "channel:b", Last: 1}}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("listed %v, want %v", got, want)
	}
	all, err := ls.Streams(ctx, "room", "", 0)
	if err != nil || len(all) != 1 || all[0].Stream != "room:a" || all[0].Last != 9 {
		t.Fatalf("room streams: %v %v", all, err)
	}
	none, err := ls.Streams(ctx, "topic", "", 10)
	if err != nil || len(none) != 0 {
		t.Fatalf("topic streams: %v %v", none, err)
	}
}
