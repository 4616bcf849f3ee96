//go:build unix

package state

import (
	"errors"
	"syscall"
)

// processAlive reports whether pid names a live process on this host:
// kill(2) with signal 0 checks without sending anything; EPERM means it
// exists under another user.
func processAlive(pid int) bool {
	err := syscall.Kill(pid, 0)
	return err == nil || errors.Is(err, syscall.EPERM)
}
