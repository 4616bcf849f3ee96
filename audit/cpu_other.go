//go:build !unix

package audit

import "time"

// processCPU is not measured here: stages log their wall time only.
func processCPU() time.Duration { return 0 }
