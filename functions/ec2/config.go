package main

import (
	"fmt"
	"time"

	"github.com/custody-ir/custody/shared/faults"
)

// EnvSnapshotLock turns EBS Snapshot Lock on for the snapshots taken.
const EnvSnapshotLock = "CUSTODY_SNAPSHOT_LOCK"

const (
	day = 24 * time.Hour
	// maxLockDays is LockSnapshot's largest LockDuration.
	maxLockDays = 36500
)

// ParseSnapshotLock reads CUSTODY_SNAPSHOT_LOCK: a Go duration in whole
// days ("720h" is 30 days), the governance-mode lock put on every snapshot
// taken. Empty is off (0). A value that is not a duration, not a whole
// number of days, or outside 1 to 36500 days is a *faults.ConfigurationError.
func ParseSnapshotLock(v string) (time.Duration, error) {
	if v == "" {
		return 0, nil
	}
	d, err := time.ParseDuration(v)
	if err != nil {
		return 0, &faults.ConfigurationError{Setting: EnvSnapshotLock, Reason: "not a Go duration in whole days (e.g. 720h for 30 days): " + err.Error()}
	}
	if d%day != 0 {
		return 0, &faults.ConfigurationError{Setting: EnvSnapshotLock, Reason: fmt.Sprintf("%s is not a whole number of days (EBS Snapshot Lock counts days: 24h, 720h, ...)", v)}
	}
	if days := d / day; days < 1 || days > maxLockDays {
		return 0, &faults.ConfigurationError{Setting: EnvSnapshotLock, Reason: fmt.Sprintf("%s is %d days: must be 1 to %d days", v, days, maxLockDays)}
	}
	return d, nil
}

// lockDays is d in days, as LockSnapshot takes it.
func lockDays(d time.Duration) int32 { return int32(d / day) }
