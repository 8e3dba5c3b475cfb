package browser

import (
	"testing"
	"time"

	"github.com/parleyhq/parley/internal/app/apptest"
)

// TestAppAccessibility runs axe-core's WCAG 2 A and AA rules on every main
// screen of the app in the light and dark color schemes, and a keyboard-only
// run from sign-in to a message, a thread reply, a reaction and a raised
// hand, with the focus visible at every stop (app_a11y.mjs).
func TestAppAccessibility(t *testing.T) {
	n := apptest.Start(t)
	runApp(t, n, "app_a11y.mjs", nil, 5*time.Minute)
}
