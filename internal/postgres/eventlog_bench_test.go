package postgres

import (
	"fmt"
	"testing"

	"github.com/parleyhq/parley/internal/eventlog/eventlogtest"
	"github.com/parleyhq/parley/internal/testutil/pgtest"
)

// BenchmarkEventLogAppend measures group-committed appends per second with
// many concurrent appenders, spread over 64 streams or over 4. The server
// pgtest starts runs with fsync=off and synchronous_commit=off; point
// PARLEY_TEST_POSTGRES_URL at a durable server to measure one.
func BenchmarkEventLogAppend(b *testing.B) {
	for _, c := range []struct{ appenders, streams int }{{16, 64}, {256, 64}, {1024, 64}, {256, 4}, {1024, 1024}} {
		b.Run(fmt.Sprintf("appenders=%d/streams=%d", c.appenders, c.streams), func(b *testing.B) {
			eventlogtest.BenchAppend(b, openEventLogAt(b, pgtest.NewDatabase(b)), c.appenders, c.streams)
		})
	}
}

// BenchmarkEventLogReplay measures reading back one stream of 1,000,000
// events (PARLEY_TEST_REPLAY_EVENTS to change). Run it with -benchtime=1x:
// every run writes the stream first.
func BenchmarkEventLogReplay(b *testing.B) {
	eventlogtest.BenchReplay(b, openEventLogAt(b, pgtest.NewDatabase(b)), eventlogtest.ReplayEvents())
}
