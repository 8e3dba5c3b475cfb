package browser

import (
	"testing"
	"time"

	"github.com/parleyhq/parley/internal/app/apptest"
)

// TestAppShell signs up in the real app in Chromium, sees the shell,
// reloads (still signed in), signs out and in again, and opens the drawer
// at phone width.
func TestAppShell(t *testing.T) {
	n := apptest.Start(t)
	runApp(t, n, "app_shell.mjs", nil, 2*time.Minute)
}
