package browser

import (
	"testing"
	"time"

	"github.com/parleyhq/parley/internal/app/apptest"
)

// TestAppCalls runs a call through the app in Chromium: A calls B, B's page
// rings, B accepts, both hear each other, both leave (app_calls.mjs).
func TestAppCalls(t *testing.T) {
	n := apptest.Start(t)
	runApp(t, n, "app_calls.mjs", nil, 3*time.Minute)
}
