package browser

import (
	"testing"
	"time"

	"github.com/parleyhq/parley/internal/app/apptest"
)

// TestAppChat runs team messaging in the real app in Chromium with two
// people: workspace, invite and join, typing, messages both ways, unread
// badges, a reaction, a thread, a mention, an upload, search, phone width.
func TestAppChat(t *testing.T) {
	n := apptest.Start(t)
	runApp(t, n, "app_chat.mjs", nil, 4*time.Minute)
}
