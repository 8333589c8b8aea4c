package localrun

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"

	"github.com/custody-ir/custody/shared/evidence"
)

// VerifyCase re-reads every artifact of every run of a downloaded case
// folder (OUT/<caseId>) against its manifest.
func VerifyCase(caseDir string, w io.Writer) error {
	manifests, err := filepath.Glob(filepath.Join(caseDir, "runs", "*", "manifest.json"))
	if err != nil {
		return exitErr(ExitUsage, "%v", err)
	}
	if len(manifests) == 0 {
		return exitErr(ExitUsage, "%s holds no runs/*/manifest.json", caseDir)
	}
	sort.Strings(manifests)
	// Artifact keys start with cases/<caseId>/; the download strips cases/,
	// so the root is the case folder's parent.
	root := filepath.Dir(filepath.Clean(caseDir))
	bad := 0
	for _, mp := range manifests {
		data, err := os.ReadFile(mp)
		if err != nil {
			return exitErr(ExitUnverified, "%v", err)
		}
		m, err := evidence.ParseManifest(data)
		if err != nil {
			return exitErr(ExitUnverified, "%s: %v", mp, err)
		}
		rep, err := evidence.VerifyDir(root, m)
		if err != nil {
			return exitErr(ExitUnverified, "%s: %v", mp, err)
		}
		for _, u := range rep.Unlisted {
			fmt.Fprintf(w, "     unlisted (nothing vouches for it): %s\n", u)
		}
		if err := rep.Err(); err != nil {
			bad++
			fmt.Fprintf(w, "FAIL %s: %v\n", mp, err)
			for _, p := range append(rep.Missing, rep.Changed...) {
				fmt.Fprintf(w, "     %s: %s\n", p.Key, p.Reason)
			}
			continue
		}
		fmt.Fprintf(w, "ok   %s: %d artifacts\n", mp, len(rep.OK))
	}
	if bad > 0 {
		return exitErr(ExitUnverified, "%d run(s) do not verify", bad)
	}
	if _, err := os.Stat(caseDir); err != nil {
		return exitErr(ExitUsage, "%v", err)
	}
	return nil
}
