package verify

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/custody-ir/custody/shared/evidence"
)

// UsageError is a verify that could not start: a bad argument, no such
// case, a case with no runs.
type UsageError struct{ Err error }

func (e *UsageError) Error() string { return e.Err.Error() }
func (e *UsageError) Unwrap() error { return e.Err }

func usage(format string, args ...any) error {
	return &UsageError{Err: fmt.Errorf(format, args...)}
}

// maxManifest bounds how much of a manifest is read: it is JSON decoded in
// memory (a run of hundreds of thousands of artifacts stays far below).
const maxManifest = 256 << 20

// Dir verifies a downloaded case folder (OUT/<caseId>, as the local run and
// evidence.Download leave it): every run folder runs/<runId>/ must hold a
// manifest.json that is valid against the schema and names this case and
// run; every artifact it lists is re-read through SHA-256 (streamed) and
// compared with its size and hash (evidence.VerifyDir); every file of the
// case folder must be listed by some run's manifest, or be exempt (see the
// package comment). ann, when given, is checked against the manifest of
// run ann.RunID (or of the only run): a folder holds no version IDs, so
// only the SHA-256 can be checked here.
func Dir(caseDir string, ann Announced, trust Trust) (*Result, error) {
	caseDir = filepath.Clean(caseDir)
	st, err := os.Stat(caseDir)
	if err != nil {
		return nil, usage("%v", err)
	}
	if !st.IsDir() {
		return nil, usage("%s is not a folder (want OUT/<caseId>)", caseDir)
	}
	if ann.VersionID != "" {
		return nil, usage("-manifest-version: a downloaded folder keeps no version IDs; verify s3://<bucket>/cases/<caseId> to check it")
	}
	entries, err := os.ReadDir(filepath.Join(caseDir, "runs"))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, usage("%s holds no runs/ folder: not a case folder (want OUT/<caseId>)", caseDir)
	}
	if err != nil {
		return nil, usage("%v", err)
	}
	var runIDs []string
	for _, e := range entries {
		if e.IsDir() {
			runIDs = append(runIDs, e.Name())
		}
	}
	if len(runIDs) == 0 {
		return nil, usage("%s holds no runs", caseDir)
	}
	target, err := announcedRun(ann, runIDs)
	if err != nil {
		return nil, err
	}
	// Artifact keys start with cases/<caseId>/; the download strips cases/,
	// so the root is the case folder's parent, unless the folder was
	// renamed: then the case ID is the manifests', and the root a
	// temporary folder where <caseId> links to the case folder.
	caseID, root, real, cleanup, err := caseRoot(caseDir, runIDs)
	if err != nil {
		return nil, err
	}
	defer cleanup()

	res := &Result{Location: caseDir, CaseID: caseID, Unlisted: []Unlisted{}}
	listed := map[string]bool{}
	for _, runID := range runIDs {
		mpath := filepath.Join(caseDir, "runs", runID, "manifest.json")
		run := Run{RunID: runID, Manifest: mpath, Report: emptyReport()}
		data, err := readCapped(mpath, maxManifest)
		if errors.Is(err, fs.ErrNotExist) {
			run.NoManifest = true
			res.Runs = append(res.Runs, run)
			continue
		}
		if err != nil {
			run.ManifestProblems = append(run.ManifestProblems, err.Error())
			res.Runs = append(res.Runs, run)
			continue
		}
		sum := sha256.Sum256(data)
		run.ManifestSHA256 = hex.EncodeToString(sum[:])
		if runID == target && ann.SHA256 != "" && !strings.EqualFold(ann.SHA256, run.ManifestSHA256) {
			run.ManifestProblems = append(run.ManifestProblems,
				fmt.Sprintf("sha256 %s, Seal announced %s", run.ManifestSHA256, strings.ToLower(ann.SHA256)))
		}
		m, err := evidence.ParseManifest(data)
		if err != nil {
			run.ManifestProblems = append(run.ManifestProblems, err.Error())
			res.Runs = append(res.Runs, run)
			continue
		}
		runDir := filepath.Join(caseDir, "runs", runID)
		run.Seal = trust.check(func(name string) ([]byte, error) {
			return readCapped(filepath.Join(runDir, filepath.FromSlash(name)), maxSealFile)
		}, caseID, runID, data, "")
		if runPrefix, err := evidence.RunPrefix(caseID, runID); err == nil {
			run.CloudTrail = checkCloudTrail(dirFiles{root}, runPrefix)
		}
		run.ManifestProblems = append(run.ManifestProblems, checkManifest(caseID, runID, m)...)
		rep, err := evidence.VerifyDir(root, m)
		if err != nil {
			run.ManifestProblems = append(run.ManifestProblems, err.Error())
		}
		for _, ps := range [][]evidence.Problem{rep.Missing, rep.Changed, rep.Unlocked} {
			for i := range ps {
				ps[i].Path = real(ps[i].Path)
			}
		}
		rep.Unlisted = []string{} // counted over the whole case below
		run.Report = rep
		for _, a := range m.Artifacts {
			run.Bytes += a.Size
		}
		for _, a := range m.Artifacts {
			if p, err := evidence.LocalPath(root, a.Key); err == nil {
				listed[real(p)] = true
			}
		}
		res.Runs = append(res.Runs, run)
	}

	for i := range res.Runs {
		res.Runs[i].Containment = dirContainment(filepath.Join(caseDir, "runs", res.Runs[i].RunID, "containment"), caseID, res.Runs[i].RunID, trust)
	}

	err = filepath.WalkDir(caseDir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() || listed[path] {
			return nil
		}
		rel, err := filepath.Rel(caseDir, path)
		if err != nil {
			return err
		}
		if exempt(filepath.ToSlash(rel)) {
			return nil
		}
		reason := "no manifest lists it"
		if !d.Type().IsRegular() {
			reason += " (and it is not a regular file)"
		}
		res.Unlisted = append(res.Unlisted, Unlisted{Path: path, Reason: reason})
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("list %s: %w", caseDir, err)
	}
	res.sort()
	return res, nil
}

// announcedRun is the run the announced manifest values are for: the one
// named, or the only one.
func announcedRun(ann Announced, runIDs []string) (string, error) {
	if !ann.given() {
		return "", nil
	}
	if ann.RunID != "" {
		for _, r := range runIDs {
			if r == ann.RunID {
				return r, nil
			}
		}
		return "", usage("-run %s: the case has no such run (runs: %s)", ann.RunID, strings.Join(runIDs, ", "))
	}
	if len(runIDs) != 1 {
		return "", usage("the case has %d runs (%s): name the one Seal announced with -run", len(runIDs), strings.Join(runIDs, ", "))
	}
	return runIDs[0], nil
}

func readCapped(path string, max int64) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if !st.Mode().IsRegular() {
		return nil, fmt.Errorf("%s is not a regular file", path)
	}
	if st.Size() > max {
		return nil, fmt.Errorf("%s is %d bytes, more than it can be (%d)", path, st.Size(), max)
	}
	return os.ReadFile(path)
}

func emptyReport() evidence.Report {
	return evidence.Report{OK: []string{}, Missing: []evidence.Problem{}, Changed: []evidence.Problem{}, Unlocked: []evidence.Problem{}, Unlisted: []string{}}
}

// caseRoot finds the case ID of the folder (the first readable manifest's;
// the folder's name when none is) and the root its artifact keys resolve
// under. real maps a path under root back to the case folder; cleanup
// removes what caseRoot made.
func caseRoot(caseDir string, runIDs []string) (caseID, root string, real func(string) string, cleanup func(), err error) {
	caseID = filepath.Base(caseDir)
	for _, r := range runIDs {
		data, err := readCapped(filepath.Join(caseDir, "runs", r, "manifest.json"), maxManifest)
		if err != nil {
			continue
		}
		if m, err := evidence.ParseManifest(data); err == nil && m.CaseID != "" {
			if _, err := evidence.CasePrefix(m.CaseID); err == nil {
				caseID = m.CaseID
				break
			}
		}
	}
	same := func(p string) string { return p }
	if caseID == filepath.Base(caseDir) {
		return caseID, filepath.Dir(caseDir), same, func() {}, nil
	}
	abs, err := filepath.Abs(caseDir)
	if err != nil {
		return "", "", nil, nil, usage("%v", err)
	}
	tmp, err := os.MkdirTemp("", "custody-verify-")
	if err != nil {
		return "", "", nil, nil, err
	}
	link := filepath.Join(tmp, caseID)
	if err := os.Symlink(abs, link); err != nil {
		os.RemoveAll(tmp)
		return "", "", nil, nil, err
	}
	real = func(p string) string {
		if rel, err := filepath.Rel(link, p); err == nil && !strings.HasPrefix(rel, "..") {
			return filepath.Join(caseDir, rel)
		}
		return p
	}
	return caseID, tmp, real, func() { os.RemoveAll(tmp) }, nil
}

// dirContainment checks a downloaded run's containment folder (nil when
// there is none). A folder keeps no version IDs: only bytes are checked.
func dirContainment(dir, caseID, runID string, trust Trust) *ContainCheck {
	entries, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return &ContainCheck{Changed: []string{err.Error()}}
	}
	var files []containFile
	for _, e := range entries {
		if !e.IsDir() {
			files = append(files, containFile{name: e.Name()})
		}
	}
	return checkContainment(files, func(name, _ string) ([]byte, error) {
		return readCapped(filepath.Join(dir, name), maxContainFile)
	}, caseID, runID, trust.ContainPin, trust.AllowUnsigned)
}

// maxContainFile bounds a containment record read (a plan of many
// resources is a few hundred KB).
const maxContainFile = 64 << 20
