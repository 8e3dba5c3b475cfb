package browser

import (
	"testing"
	"time"

	"github.com/parleyhq/parley/internal/app/apptest"
)

// TestAppNotify runs browser notifications and the ring tone in Chromium
// (app_notify.mjs): permission asked on a click only, a mention, a DM and a
// call notified while the tab is hidden, the call's notification opening
// the call.
func TestAppNotify(t *testing.T) {
	n := apptest.Start(t)
	runApp(t, n, "app_notify.mjs", nil, 3*time.Minute)
}
