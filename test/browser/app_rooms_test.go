package browser

import (
	"testing"
	"time"

	"github.com/parleyhq/parley/internal/app/apptest"
)

// TestAppRooms runs a live room through the app in Chromium: lobby, join,
// hand, invitation, audio from the new speaker heard by the host, mute,
// comment, reaction, poll, end and summary (app_rooms.mjs).
func TestAppRooms(t *testing.T) {
	n := apptest.Start(t)
	runApp(t, n, "app_rooms.mjs", nil, 4*time.Minute)
}
