package browser

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/parleyhq/parley/internal/app/apptest"
)

// runApp runs one of the web app's end-to-end scripts (app_*.mjs) against
// node n in headless Chromium and fails the test with the script's output if
// it fails. extra is merged into the script's options; screenshots go to
// PARLEY_TEST_SCREENSHOTS (or the test's temp folder).
func runApp(t *testing.T, n *apptest.Node, script string, extra map[string]any, timeout time.Duration) {
	t.Helper()
	shots := os.Getenv("PARLEY_TEST_SCREENSHOTS")
	if shots == "" {
		shots = filepath.Join(t.TempDir(), "shots")
	}
	opts := map[string]any{"url": n.URL(), "chromium": chromiumPath(t), "shots": shots}
	for k, v := range extra {
		opts[k] = v
	}
	arg, _ := json.Marshal(opts)
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	out, err := exec.CommandContext(ctx, "node", script, string(arg)).CombinedOutput()
	if err != nil {
		t.Fatalf("%s: %v\n%s", script, err, out)
	}
	t.Logf("%s:\n%s", script, out)
}
