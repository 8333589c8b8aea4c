package main

import "github.com/custody-ir/custody/shared/incident"

// digestWindow is the key-time window of the digests copied for window w:
// those that list the window's log files (a digest is delivered up to an
// hour after the files it covers), plus the one before and the one after,
// so that Seal's validation (shared/ctdigest) proves the chain across the
// whole window, its ends included.
func digestWindow(w incident.Window) incident.Window {
	return incident.Window{Start: w.Start.Add(-digestLag), End: w.End.Add(2 * digestLag)}
}
