package eventlogtest

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/parleyhq/parley/internal/core"
	"github.com/parleyhq/parley/internal/eventlog"
)

// benchData is a typical small event payload (a chat message).
var benchData = json.RawMessage(`{"text":"a typical chat message of about eighty bytes, give or take","mentions":[]}`)

// BenchAppend measures appends through a group-committing eventlog.Log
// over s: appenders goroutines each append one event at a time (AnySeq) to
// one of nstreams streams until b.N events are acknowledged. It reports
// events/s and the mean number of appends per group commit.
func BenchAppend(b *testing.B, s eventlog.Store, appenders, nstreams int) {
	var commits, requests int
	l := eventlog.NewLog(s, eventlog.Options{OnCommit: func(r, _ int, _ time.Duration, err error) {
		if err != nil {
			b.Errorf("commit: %v", err)
		}
		commits++
		requests += r
	}})
	streams := make([]core.StreamID, nstreams)
	for i := range streams {
		streams[i] = core.StreamID(fmt.Sprintf("room:bench%d", i))
	}
	ctx := context.Background()
	var next atomic.Int64
	var wg sync.WaitGroup
	b.ReportAllocs()
	b.ResetTimer()
	start := time.Now()
	for g := 0; g < appenders; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			st := streams[g%len(streams)]
			for next.Add(1) <= int64(b.N) {
				_, err := l.Append(ctx, eventlog.AppendRequest{Stream: st, Expected: eventlog.AnySeq,
					Events: []eventlog.Draft{{Type: "message.posted", Actor: "u_bench", Data: benchData}}})
				if err != nil {
					b.Errorf("append: %v", err)
					return
				}
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	b.StopTimer()
	l.Close()
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "events/s")
	if commits > 0 {
		b.ReportMetric(float64(requests)/float64(commits), "appends/commit")
	}
}

// ReplayEvents is the size of the stream BenchReplay reads back: 1,000,000,
// or PARLEY_TEST_REPLAY_EVENTS.
func ReplayEvents() int {
	if n, err := strconv.Atoi(os.Getenv("PARLEY_TEST_REPLAY_EVENTS")); err == nil && n > 0 {
		return n
	}
	return 1_000_000
}

// Fill appends n events of benchData to stream in large batches, directly
// to the store, and returns how long it took.
func Fill(tb testing.TB, s eventlog.Store, stream core.StreamID, n int) time.Duration {
	tb.Helper()
	const perItem, perBatch = 5000, 4
	start := time.Now()
	at := time.Now()
	for done := 0; done < n; {
		var items []eventlog.BatchItem
		for len(items) < perBatch && done < n {
			k := min(perItem, n-done)
			ds := make([]eventlog.Draft, k)
			for i := range ds {
				ds[i] = eventlog.Draft{Type: "message.posted", Actor: "u_bench", Data: benchData}
			}
			items = append(items, eventlog.BatchItem{Req: &eventlog.AppendRequest{Stream: stream, Expected: eventlog.AnySeq, Events: ds}, Time: at})
			done += k
		}
		if err := s.AppendBatch(context.Background(), items); err != nil {
			tb.Fatalf("fill: %v", err)
		}
		for _, it := range items {
			if it.Err != nil {
				tb.Fatalf("fill: %v", it.Err)
			}
		}
	}
	return time.Since(start)
}

// BenchReplay measures reading back a stream of n events from s, decoded
// into eventlog.Events, with eventlog.ReadAll, as rebuilding an actor's
// state does. The stream is written first, outside the timer. It reports
// seconds per replay and events/s.
func BenchReplay(b *testing.B, s eventlog.Store, n int) {
	const stream core.StreamID = "room:replay"
	took := Fill(b, s, stream, n)
	b.Logf("wrote %d events in %v (%.0f events/s)", n, took, float64(n)/took.Seconds())
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	start := time.Now()
	for i := 0; i < b.N; i++ {
		var count uint64
		err := eventlog.ReadAll(ctx, s, stream, 0, func(e eventlog.Event) error {
			count++
			if e.Seq != count || len(e.Data) != len(benchData) {
				return fmt.Errorf("event %d: seq %d, %d bytes of data", count, e.Seq, len(e.Data))
			}
			return nil
		})
		if err != nil {
			b.Fatal(err)
		}
		if count != uint64(n) {
			b.Fatalf("replayed %d events, want %d", count, n)
		}
	}
	elapsed := time.Since(start)
	b.StopTimer()
	b.ReportMetric(elapsed.Seconds()/float64(b.N), "s/replay")
	b.ReportMetric(float64(n)*float64(b.N)/elapsed.Seconds(), "events/s")
}
