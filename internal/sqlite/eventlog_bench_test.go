package sqlite

import (
	"fmt"
	"testing"

	"github.com/parleyhq/parley/internal/eventlog/eventlogtest"
)

// BenchmarkEventLogAppend measures group-committed appends per second with
// many concurrent appenders, spread over 64 streams (every stream a commit
// touches costs it page writes) or over 4.
func BenchmarkEventLogAppend(b *testing.B) {
	for _, c := range []struct{ appenders, streams int }{{16, 64}, {256, 64}, {1024, 64}, {256, 4}, {1024, 1024}} {
		b.Run(fmt.Sprintf("appenders=%d/streams=%d", c.appenders, c.streams), func(b *testing.B) {
			eventlogtest.BenchAppend(b, openEventLog(b), c.appenders, c.streams)
		})
	}
}

// BenchmarkEventLogReplay measures reading back one stream of 1,000,000
// events (PARLEY_TEST_REPLAY_EVENTS to change). Run it with -benchtime=1x:
// every run writes the stream first.
func BenchmarkEventLogReplay(b *testing.B) {
	eventlogtest.BenchReplay(b, openEventLog(b), eventlogtest.ReplayEvents())
}
