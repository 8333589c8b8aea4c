// Package verify is `custody verify`: it checks every run of a case, on
// disk or in the evidence bucket, against the run's manifest, and says with
// its exit status what it found.
//
// What a case may hold that no manifest lists, and is not reported as
// unlisted (a run's manifest lists every other object of its run folder,
// and case.json in the case's first run):
//
//   - runs/<runId>/manifest.json: the manifest itself (Seal cannot list the
//     object it is writing); it is checked against -manifest-sha256 and
//     -manifest-version when given, and in the bucket it must have exactly
//     one version, locked;
//   - runs/<runId>/seal/statement.json, statement.sig, public-key.pem:
//     the signed seal statement over the manifest (shared/attest), which
//     the manifest cannot list; checkSeal verifies them instead;
//   - runs/<runId>/containment/*: the containment records, written after
//     the seal, and the statements the contain function signed over them;
//     checkContainment verifies them instead (each statement's signature,
//     each record's SHA-256 and version, and that the latest statement
//     covers every record: one it does not is unsigned, ExitChanged);
//   - runs/<runId>/results/<collector>.json: the collectors' full results,
//     which Seal reads to write the manifest; nothing vouches for them;
//   - runs/<runId>/results/<collector>/<name>.json: a fanned-out collector's
//     plan and shard results, which its merged result lists.
//
// Everything else is unlisted: files or objects no manifest names, and in
// the bucket any version of an evidence key other than the listed one (a
// newer version or a delete marker over the evidence: the listed version
// still verifies, but the key no longer serves it).
package verify

import (
	"fmt"
	"io"
	"sort"
	"strings"

	"github.com/custody-ir/custody/shared/attest"
	"github.com/custody-ir/custody/shared/evidence"
)

// Exit statuses of custody verify, as cmd/custody documents them. When
// several problems are found, the first in this order decides:
// ExitManifest, ExitSignature, ExitChanged, ExitMissing, ExitUnlocked,
// ExitUnlisted.
const (
	ExitOK       = 0
	ExitUsage    = 1 // bad flags or arguments; no such case folder; a case with no runs
	ExitSetup    = 2 // the bucket could not be read (credentials, network, throttling, denied)
	ExitChanged  = 5 // an artifact's size or SHA-256 differs from its manifest's
	ExitMissing  = 6 // an artifact (file, object version) or a run's manifest is missing
	ExitUnlisted = 7 // everything listed verifies, but the case holds files or versions no manifest lists
	ExitManifest = 8 // a manifest does not check: not what Seal announced, not valid, or rewritten
	ExitUnlocked = 9 // an artifact is intact but its Object Lock no longer holds (bucket only)
	// ExitSignature: a run's signed seal statement does not verify: no
	// signature, a signature that does not match, a statement that names
	// another manifest, or a key other than the pinned one.
	ExitSignature = 10
)

// Result is what a verify found for one case.
type Result struct {
	// Location is the case folder or s3://bucket/cases/<caseId>/.
	Location string `json:"location"`
	CaseID   string `json:"caseId"`
	Runs     []Run  `json:"runs"`
	// Unlisted are the files or object versions of the case no manifest
	// lists (see the package comment for what is exempt).
	Unlisted []Unlisted `json:"unlisted"`
}

// Run is one run's outcome.
type Run struct {
	RunID string `json:"runId"`
	// Manifest is the manifest's path or key; ManifestVersion its version
	// ID (bucket only); ManifestSHA256 the SHA-256 of its bytes.
	Manifest        string `json:"manifest"`
	ManifestVersion string `json:"manifestVersionId,omitempty"`
	ManifestSHA256  string `json:"manifestSha256,omitempty"`
	// ManifestProblems say why the manifest itself does not check.
	ManifestProblems []string `json:"manifestProblems,omitempty"`
	// NoManifest: the run folder has no manifest (not sealed: Seal has
	// not run or failed, or the manifest is gone). Its artifacts cannot be
	// checked and its files count as unlisted.
	NoManifest bool `json:"noManifest,omitempty"`
	// Bytes is the size of the artifacts the manifest lists.
	Bytes int64 `json:"bytes"`
	// Seal is the check of the run's signed seal statement; nil when the
	// manifest could not be read.
	Seal *SealCheck `json:"seal,omitempty"`
	// CloudTrail is CloudTrail's digest chain over the run's copies,
	// re-run offline (folders only); nil when Seal validated none.
	CloudTrail *CloudTrailCheck `json:"cloudtrail,omitempty"`
	// Containment is the check of the run's containment records and their
	// signed statements; nil when the run has no containment folder.
	Containment *ContainCheck   `json:"containment,omitempty"`
	Report      evidence.Report `json:"report"`
}

// Unlisted is one file or object version no manifest lists.
type Unlisted struct {
	// Path is the file (dir) or key (bucket).
	Path      string `json:"path"`
	VersionID string `json:"versionId,omitempty"`
	Reason    string `json:"reason"`
}

// Code is the exit status the result maps to.
func (r *Result) Code() int {
	var manifest, signature, changed, missing, unlocked bool
	for _, run := range r.Runs {
		manifest = manifest || len(run.ManifestProblems) > 0
		signature = signature || (run.Seal != nil && len(run.Seal.Problems) > 0) || (run.Containment != nil && len(run.Containment.SignatureProblems) > 0)
		changed = changed || len(run.Report.Changed) > 0 || (run.CloudTrail != nil && len(run.CloudTrail.Problems) > 0) ||
			(run.Containment != nil && len(run.Containment.Changed) > 0)
		missing = missing || len(run.Report.Missing) > 0 || run.NoManifest
		unlocked = unlocked || len(run.Report.Unlocked) > 0
	}
	switch {
	case manifest:
		return ExitManifest
	case signature:
		return ExitSignature
	case changed:
		return ExitChanged
	case missing:
		return ExitMissing
	case unlocked:
		return ExitUnlocked
	case len(r.Unlisted) > 0:
		return ExitUnlisted
	}
	return ExitOK
}

// Summary is one line that says what Code means for this case.
func (r *Result) Summary() string {
	var artifacts, changed, missing, unlocked, badManifests, unsealed, badSeals, signed, contained, badContained int
	pins := map[string]bool{}
	pinned := true
	for _, run := range r.Runs {
		if run.Seal != nil && len(run.Seal.Problems) > 0 {
			badSeals++
		}
		if run.Seal != nil && run.Seal.Verified {
			signed++
			pins[run.Seal.Fingerprint] = true
			pinned = pinned && run.Seal.Pinned
		}
		if c := run.Containment; c != nil {
			contained++
			if len(c.SignatureProblems)+len(c.Changed) > 0 {
				badContained++
			}
		}
		artifacts += len(run.Report.OK) + len(run.Report.Changed) + len(run.Report.Missing) + len(run.Report.Unlocked)
		changed += len(run.Report.Changed)
		if run.CloudTrail != nil {
			changed += len(run.CloudTrail.Problems)
		}
		missing += len(run.Report.Missing)
		unlocked += len(run.Report.Unlocked)
		if len(run.ManifestProblems) > 0 {
			badManifests++
		}
		if run.NoManifest {
			unsealed++
		}
	}
	if r.Code() == ExitOK {
		sig := fmt.Sprintf("%d of %d run(s) signed", signed, len(r.Runs))
		switch {
		case signed > 0 && pinned:
			sig += " by the pinned key"
		case signed > 0:
			keys := make([]string, 0, len(pins))
			for k := range pins {
				keys = append(keys, k)
			}
			sort.Strings(keys)
			sig += " by key " + strings.Join(keys, ", ") + ", not pinned (-key)"
		}
		if contained > 0 {
			sig += fmt.Sprintf("; containment of %d run(s) checked", contained)
		}
		return fmt.Sprintf("case %s verifies: %d run(s), %d artifact(s) intact, %s", r.CaseID, len(r.Runs), artifacts, sig)
	}
	var parts []string
	add := func(n int, what string) {
		if n > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", n, what))
		}
	}
	add(badManifests, "manifest(s) that do not check")
	add(badSeals, "signature(s) that do not verify")
	add(badContained, "run(s) whose containment records do not verify")
	add(changed, "changed")
	add(missing, "missing")
	add(unsealed, "run(s) without a manifest")
	add(unlocked, "unlocked")
	add(len(r.Unlisted), "unlisted")
	return fmt.Sprintf("case %s does not verify (exit %d): %s", r.CaseID, r.Code(), strings.Join(parts, ", "))
}

// Print writes the result for a person: a line per run, a line per
// problem.
func (r *Result) Print(w io.Writer) {
	for _, run := range r.Runs {
		switch {
		case run.NoManifest:
			fmt.Fprintf(w, "FAIL run %s: no manifest (%s): not sealed, or the manifest is gone\n", run.RunID, run.Manifest)
			continue
		case len(run.ManifestProblems) > 0 || !run.Report.Verified():
			fmt.Fprintf(w, "FAIL %s: %d of %d artifacts intact\n", run.Manifest, len(run.Report.OK), artifactCount(run.Report))
		default:
			fmt.Fprintf(w, "ok   %s: %d artifacts, %d bytes\n", run.Manifest, len(run.Report.OK), run.Bytes)
		}
		for _, p := range run.ManifestProblems {
			fmt.Fprintf(w, "     manifest: %s\n", p)
		}
		if l := run.Seal.line(); l != "" {
			fmt.Fprintf(w, "     %s\n", l)
		}
		if run.Seal != nil {
			for _, p := range run.Seal.Problems {
				fmt.Fprintf(w, "     signature: %s\n", p)
			}
		}
		if l := run.Containment.line(); l != "" {
			fmt.Fprintf(w, "     %s\n", l)
			for _, p := range run.Containment.problems() {
				fmt.Fprintf(w, "     containment: %s\n", p)
			}
		}
		if l := run.CloudTrail.line(); l != "" {
			fmt.Fprintf(w, "     %s\n", l)
			for _, p := range run.CloudTrail.Problems {
				fmt.Fprintf(w, "     cloudtrail: %s\n", p)
			}
		}
		for _, g := range []struct {
			what string
			ps   []evidence.Problem
		}{{"changed", run.Report.Changed}, {"missing", run.Report.Missing}, {"unlocked", run.Report.Unlocked}} {
			for _, p := range g.ps {
				where := p.Key
				if p.Path != "" {
					where = p.Path
				}
				if p.VersionID != "" && p.Path == "" {
					where += " (version " + p.VersionID + ")"
				}
				fmt.Fprintf(w, "     %s: %s: %s\n", g.what, where, p.Reason)
			}
		}
	}
	for _, u := range r.Unlisted {
		where := u.Path
		if u.VersionID != "" {
			where += " (version " + u.VersionID + ")"
		}
		fmt.Fprintf(w, "     unlisted: %s: %s\n", where, u.Reason)
	}
	fmt.Fprintln(w, r.Summary())
}

func artifactCount(r evidence.Report) int {
	return len(r.OK) + len(r.Changed) + len(r.Missing) + len(r.Unlocked)
}

func (r *Result) sort() {
	sort.Slice(r.Runs, func(i, j int) bool { return r.Runs[i].RunID < r.Runs[j].RunID })
	sort.Slice(r.Unlisted, func(i, j int) bool {
		if r.Unlisted[i].Path != r.Unlisted[j].Path {
			return r.Unlisted[i].Path < r.Unlisted[j].Path
		}
		return r.Unlisted[i].VersionID < r.Unlisted[j].VersionID
	})
}

// exempt reports whether rel, a path inside the case folder with "/"
// separators (runs/<runId>/...), is one a manifest cannot list: a run's
// manifest.json, a collector result runs/<runId>/results/<name>.json, or a
// fanned-out collector's runs/<runId>/results/<collector>/<name>.json.
func exempt(rel string) bool {
	parts := strings.Split(rel, "/")
	if len(parts) == 3 && parts[0] == "runs" && parts[2] == "manifest.json" {
		return true
	}
	// The seal is over the manifest and cannot be in it; checkSeal
	// verifies it.
	if len(parts) == 4 && parts[0] == "runs" {
		switch parts[2] + "/" + parts[3] {
		case attest.StatementFile, attest.SignatureFile, attest.PublicKeyFile:
			return true
		}
	}
	// The containment records and their statements are written after the
	// seal; checkContainment verifies them.
	if len(parts) == 4 && parts[0] == "runs" && parts[2]+"/" == attest.ContainmentDir {
		return true
	}
	return (len(parts) == 4 || len(parts) == 5) && parts[0] == "runs" && parts[2] == "results" && strings.HasSuffix(parts[len(parts)-1], ".json")
}

// Announced is what Seal's notification says of one run's manifest.
type Announced struct {
	RunID     string
	SHA256    string
	VersionID string
}

func (a Announced) given() bool { return a.SHA256 != "" || a.VersionID != "" }

// checkManifestBytes compares a manifest's bytes with what Seal announced
// and with the run folder it sits in; it returns the problems found.
func checkManifest(caseID, runID string, m *evidence.Manifest) []string {
	var probs []string
	if m.CaseID != caseID || m.RunID != runID {
		probs = append(probs, fmt.Sprintf("it is the manifest of case %s run %s, found in case %s run %s", m.CaseID, m.RunID, caseID, runID))
	}
	prefix, err := evidence.CasePrefix(caseID)
	if err != nil {
		return append(probs, err.Error())
	}
	for _, a := range m.Artifacts {
		if !strings.HasPrefix(a.Key, prefix) {
			probs = append(probs, fmt.Sprintf("artifact %q is outside the case folder %s", a.Key, prefix))
		}
	}
	return probs
}
