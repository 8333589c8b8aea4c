package hostile

import (
	"testing"

	"github.com/custody-ir/custody/shared/emulator"
	"github.com/custody-ir/custody/shared/incident"
)

// MaxRSS is the bound every handler's peak resident memory stays under on
// hostile files (its Lambda has 1 GiB).
const MaxRSS = 256 << 20

// Job is what a measured child runs: a collector against the emulator at
// Endpoint, for Incident.
type Job struct {
	Endpoint string            `json:"endpoint"`
	Incident incident.Incident `json:"incident"`
}

// PeakRSS runs test (the measured child, reading its Job with
// emulator.ChildJob) in a child process of this test binary on job, logs
// its peak RSS under what, and fails t when it is not under MaxRSS.
func PeakRSS(t testing.TB, test, what string, job Job) int64 {
	t.Helper()
	peak := emulator.RunChild(t, test, job)
	t.Logf("%s: peak RSS %d MiB", what, peak>>20)
	if peak >= MaxRSS {
		t.Errorf("peak RSS %d MiB, want under %d MiB", peak>>20, MaxRSS>>20)
	}
	return peak
}
