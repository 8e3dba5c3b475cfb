package browser

import (
	"testing"
	"time"

	"github.com/parleyhq/parley/internal/app/apptest"
)

// TestAppRoomsInbox runs the moderation inbox, blocking and the room's
// details editing in Chromium (app_rooms_inbox.mjs).
func TestAppRoomsInbox(t *testing.T) {
	n := apptest.Start(t)
	runApp(t, n, "app_rooms_inbox.mjs", nil, 4*time.Minute)
}
