//go:build !linux

package natstest

import "os/exec"

// setDeathSignal does nothing where the kernel offers no parent-death
// signal; the test's cleanup stops the server.
func setDeathSignal(*exec.Cmd) {}
