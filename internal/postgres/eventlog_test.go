package postgres

import (
	"context"
	"testing"

	"github.com/parleyhq/parley/internal/eventlog"
	"github.com/parleyhq/parley/internal/eventlog/eventlogtest"
	"github.com/parleyhq/parley/internal/testutil/pgtest"
)

// openEventLogAt opens the event log on the database at url, closed when
// the test ends.
func openEventLogAt(tb testing.TB, url string) *EventLog {
	tb.Helper()
	l, err := OpenEventLog(context.Background(), url, 8)
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
	eventlogtest.Run(t, func(t *testing.T) eventlog.Store { return openEventLogAt(t, pgtest.NewDatabase(t)) })
}

// TestEventLogShared runs two stores with their own pools on one database,
// as two Parley nodes would.
func TestEventLogShared(t *testing.T) {
	eventlogtest.RunShared(t, func(t *testing.T) (eventlog.Store, eventlog.Store) {
		url := pgtest.NewDatabase(t)
		return openEventLogAt(t, url), openEventLogAt(t, url)
	})
}
