//go:build !linux

package loadgen

import (
	"os"
	"os/exec"
)

// isTerminal reports whether f is a character device, which is how a
// terminal looks without asking the terminal driver.
func isTerminal(f *os.File) bool {
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

// openFileLimit returns 0: unknown.
func openFileLimit() int { return 0 }

// selfRSS returns 0: unknown.
func selfRSS() int64 { return 0 }

// ownProcessGroup does nothing here.
func ownProcessGroup(*exec.Cmd) {}
