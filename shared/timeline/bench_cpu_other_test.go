//go:build !unix

package timeline

import "time"

// processCPU is the CPU time the process has used; not read here.
func processCPU() (time.Duration, bool) { return 0, false }
