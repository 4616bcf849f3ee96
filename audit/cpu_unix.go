//go:build unix

package audit

import (
	"syscall"
	"time"
)

// processCPU is the user and system CPU time of the process so far, every
// thread (getrusage(2), RUSAGE_SELF); 0 if it cannot be read.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
