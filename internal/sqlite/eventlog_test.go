package sqlite

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/parleyhq/parley/internal/eventlog"
	"github.com/parleyhq/parley/internal/eventlog/eventlogtest"
)

// openEventLog opens a new event log in a fresh directory, closed when the
// test ends.
func openEventLog(tb testing.TB) *EventLog {
	tb.Helper()
	return openEventLogAt(tb, filepath.Join(tb.TempDir(), EventLogFile))
}

func openEventLogAt(tb testing.TB, path string) *EventLog {
	tb.Helper()
	l, err := OpenEventLog(context.Background(), path)
	if err != nil {
		tb.Fatalf("open event log: %v", err)
	}
	tb.Cleanup(func() {
		if err := l.Close(); err != nil {
			tb.Errorf("close event log: %v", err)
		}
	})
	return l
}

func TestEventLogContract(t *testing.T) {
	eventlogtest.Run(t, func(t *testing.T) eventlog.Store { return openEventLog(t) })
}

// TestEventLogShared runs two stores on one file, as two processes would.
func TestEventLogShared(t *testing.T) {
	eventlogtest.RunShared(t, func(t *testing.T) (eventlog.Store, eventlog.Store) {
		path := filepath.Join(t.TempDir(), EventLogFile)
		return openEventLogAt(t, path), openEventLogAt(t, path)
	})
}
