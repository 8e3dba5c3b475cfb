package postgres

import (
	"context"
	"os"
	"testing"

	"github.com/parleyhq/parley/internal/eventlog"
	"github.com/parleyhq/parley/internal/eventlog/eventlogtest"
	"github.com/parleyhq/parley/internal/testutil/pgtest"
)

const crashURLEnv = "PARLEY_TEST_CRASH_POSTGRES_URL"

// TestEventLogSurvivesKill: an acknowledged append survives kill -9 of the
// process (the node; the database server keeps running).
func TestEventLogSurvivesKill(t *testing.T) {
	if eventlogtest.IsCrashChild() {
		eventlogtest.CrashChild(func(ctx context.Context) (eventlog.Store, error) {
			return OpenEventLog(ctx, os.Getenv(crashURLEnv), 8)
		})
		return
	}
	url := pgtest.NewDatabase(t)
	eventlogtest.Crash(t, "TestEventLogSurvivesKill", []string{crashURLEnv + "=" + url}, 2000,
		func(t *testing.T) eventlog.Store { return openEventLogAt(t, url) })
}
