package sqlite

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/parleyhq/parley/internal/eventlog"
	"github.com/parleyhq/parley/internal/eventlog/eventlogtest"
)

const crashPathEnv = "PARLEY_TEST_CRASH_SQLITE_PATH"

// TestEventLogSurvivesKill: an acknowledged append survives kill -9 of the
// process.
func TestEventLogSurvivesKill(t *testing.T) {
	if eventlogtest.IsCrashChild() {
		eventlogtest.CrashChild(func(ctx context.Context) (eventlog.Store, error) {
			return OpenEventLog(ctx, os.Getenv(crashPathEnv))
		})
		return
	}
	path := filepath.Join(t.TempDir(), EventLogFile)
	eventlogtest.Crash(t, "TestEventLogSurvivesKill", []string{crashPathEnv + "=" + path}, 2000,
		func(t *testing.T) eventlog.Store {
			l := openEventLogAt(t, path)
			var res string
			if err := l.DB().R.QueryRow(`PRAGMA integrity_check`).Scan(&res); err != nil || res != "ok" {
				t.Fatalf("integrity check after kill: %q, %v", res, err)
			}
			return l
		})
}
