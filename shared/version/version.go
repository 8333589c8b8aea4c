// Package version says which build of custody wrote a piece of evidence.
package version

import (
	"runtime/debug"
	"sync"
)

// Set by the linker for release builds: -X github.com/custody-ir/custody/shared/version.release=v1.2.3
var release string

var once = sync.OnceValue(func() string {
	if release != "" {
		return release
	}
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return "devel"
	}
	rev, dirty := "", false
	for _, s := range info.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.modified":
			dirty = s.Value == "true"
		}
	}
	if rev == "" {
		return "devel"
	}
	if len(rev) > 12 {
		rev = rev[:12]
	}
	if dirty {
		rev += "-dirty"
	}
	return "git-" + rev
})

// String is the release tag, or the VCS revision the binary was built from,
// or "devel".
func String() string { return once() }
