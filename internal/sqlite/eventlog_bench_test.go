package sqlite

import (
	"fmt"
	"testing"

	"github.com/parleyhq/parley/internal/eventlog/eventlogtest"
)

// BenchmarkEventLogAppend measures group-committed appends per second with
// many concurrent appenders.
func BenchmarkEventLogAppend(b *testing.B) {
	for _, n := range []int{16, 256, 1024} {
		b.Run(fmt.Sprintf("appenders=%d", n), func(b *testing.B) {
			eventlogtest.BenchAppend(b, openEventLog(b), n)
		})
	}
}

// BenchmarkEventLogReplay measures reading back one stream of 1,000,000
// events (PARLEY_BENCH_REPLAY_EVENTS to change). Run it with -benchtime=1x:
// every run writes the stream first.
func BenchmarkEventLogReplay(b *testing.B) {
	eventlogtest.BenchReplay(b, openEventLog(b), eventlogtest.ReplayEvents())
}
