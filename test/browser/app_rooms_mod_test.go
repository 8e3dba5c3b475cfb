package browser

import (
	"testing"
	"time"

	"github.com/parleyhq/parley/internal/app/apptest"
)

// TestAppRoomsModeration runs the rest of the rooms app in Chromium: a
// scheduled room started by its host, moderator controls, comments off,
// a report, a removal, a workspace room, and the audio joining again after
// the connection drops (app_rooms_mod.mjs).
func TestAppRoomsModeration(t *testing.T) {
	n := apptest.Start(t)
	runApp(t, n, "app_rooms_mod.mjs", nil, 4*time.Minute)
}
