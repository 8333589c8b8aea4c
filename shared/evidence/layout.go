package evidence

import (
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"time"
	"unicode"
)

// Key layout of the evidence bucket (DESIGN.md, "The evidence bucket"):
//
//	cases/<caseId>/case.json
//	cases/<caseId>/runs/<runId>/run.json                  run marker (If-None-Match: *)
//	cases/<caseId>/runs/<runId>/input.json                the input as Triage received it
//	cases/<caseId>/runs/<runId>/results/<collector>.json  one collector's result
//	cases/<caseId>/runs/<runId>/results/<collector>/<name> a fanned-out collector's
//	                                                      plan and shard results
//	cases/<caseId>/runs/<runId>/<source>/<name>           evidence, one folder per source
//	cases/<caseId>/runs/<runId>/manifest.json             written last, by Seal
//	rejected/YYYY/MM/DD/<sha256>.json                     a refused input, as it came
//	rejected/YYYY/MM/DD/<sha256>.reason.json              why it was refused
//
// Every function validates the IDs and names it joins, so no caller can
// build a key that escapes its case folder ("..") or that a local download
// cannot map back to a file (empty segments, "//").
const (
	CasesRoot    = "cases/"
	RejectedRoot = "rejected/"

	caseFile     = "case.json"
	runsDir      = "runs/"
	runMarker    = "run.json"
	inputFile    = "input.json"
	resultsDir   = "results/"
	manifestFile = "manifest.json"
)

// ErrBadKeyPart is wrapped by every layout error: an ID or name that would
// make an unsafe or ambiguous key.
var ErrBadKeyPart = errors.New("invalid key part")

// maxSegment bounds one segment; S3's whole-key limit is 1024 bytes.
const maxSegment = 255

// checkSegment accepts one path segment: not empty, not "." or "..", no
// "/", "\" or control characters.
func checkSegment(what, s string) error {
	switch {
	case s == "":
		return fmt.Errorf("%w: %s is empty", ErrBadKeyPart, what)
	case s == "." || s == "..":
		return fmt.Errorf("%w: %s is %q", ErrBadKeyPart, what, s)
	case len(s) > maxSegment:
		return fmt.Errorf("%w: %s is longer than %d bytes", ErrBadKeyPart, what, maxSegment)
	case strings.ContainsAny(s, `/\`):
		return fmt.Errorf("%w: %s %q contains a path separator", ErrBadKeyPart, what, s)
	}
	for _, r := range s {
		if unicode.IsControl(r) || r == unicode.ReplacementChar {
			return fmt.Errorf("%w: %s %q contains a control or invalid character", ErrBadKeyPart, what, s)
		}
	}
	return nil
}

// checkRelPath accepts a relative path of valid segments ("a/b/c.json"):
// artifact names may keep the structure of the object they copy (a
// CloudTrail key's AWSLogs/<account>/CloudTrail/<region>/YYYY/MM/DD/...).
func checkRelPath(what, p string) error {
	if p == "" {
		return fmt.Errorf("%w: %s is empty", ErrBadKeyPart, what)
	}
	for _, seg := range strings.Split(p, "/") {
		if err := checkSegment(what+" segment", seg); err != nil {
			return fmt.Errorf("%w (in %q)", err, p)
		}
	}
	return nil
}

// CasePrefix is the folder of one case: cases/<caseId>/.
func CasePrefix(caseID string) (string, error) {
	if err := checkSegment("case ID", caseID); err != nil {
		return "", err
	}
	return CasesRoot + caseID + "/", nil
}

// CaseKey is the case record: cases/<caseId>/case.json.
func CaseKey(caseID string) (string, error) {
	p, err := CasePrefix(caseID)
	if err != nil {
		return "", err
	}
	return p + caseFile, nil
}

// RunPrefix is the folder of one run of a case: cases/<caseId>/runs/<runId>/.
func RunPrefix(caseID, runID string) (string, error) {
	p, err := CasePrefix(caseID)
	if err != nil {
		return "", err
	}
	if err := checkSegment("run ID", runID); err != nil {
		return "", err
	}
	return p + runsDir + runID + "/", nil
}

func runFile(caseID, runID, name string) (string, error) {
	p, err := RunPrefix(caseID, runID)
	if err != nil {
		return "", err
	}
	return p + name, nil
}

// RunMarkerKey is the run marker written with If-None-Match: * so that one
// delivery of a finding, and only one, opens the run:
// cases/<caseId>/runs/<runId>/run.json.
func RunMarkerKey(caseID, runID string) (string, error) {
	return runFile(caseID, runID, runMarker)
}

// InputKey is the run's input as received: cases/<caseId>/runs/<runId>/input.json.
func InputKey(caseID, runID string) (string, error) {
	return runFile(caseID, runID, inputFile)
}

// ManifestKey is the run's manifest: cases/<caseId>/runs/<runId>/manifest.json.
func ManifestKey(caseID, runID string) (string, error) {
	return runFile(caseID, runID, manifestFile)
}

// RunFileKey is a file at the top of the run folder, such as timeline.jsonl,
// timeline.csv or the report: cases/<caseId>/runs/<runId>/<name>. name is a
// single segment.
func RunFileKey(caseID, runID, name string) (string, error) {
	if err := checkSegment("file name", name); err != nil {
		return "", err
	}
	return runFile(caseID, runID, name)
}

// ResultKey is one collector's full result:
// cases/<caseId>/runs/<runId>/results/<collector>.json.
func ResultKey(caseID, runID, collector string) (string, error) {
	if err := checkSegment("collector", collector); err != nil {
		return "", err
	}
	return runFile(caseID, runID, resultsDir+collector+".json")
}

// ShardFileKey is a work file of a collector that fanned out (its plan, one
// shard's result): cases/<caseId>/runs/<runId>/results/<collector>/<name>.
// Like results, these are the collector's own bookkeeping, not evidence:
// the merged result lists every artifact the shards wrote.
func ShardFileKey(caseID, runID, collector, name string) (string, error) {
	if err := checkSegment("collector", collector); err != nil {
		return "", err
	}
	if err := checkSegment("file name", name); err != nil {
		return "", err
	}
	return runFile(caseID, runID, resultsDir+collector+"/"+name)
}

// ResultsPrefix is the folder of the run's collector results:
// cases/<caseId>/runs/<runId>/results/.
func ResultsPrefix(caseID, runID string) (string, error) {
	return runFile(caseID, runID, resultsDir)
}

// ArtifactKey is a piece of evidence: cases/<caseId>/runs/<runId>/<source>/<name>.
// source must be one of Sources. name is a relative path whose segments are
// each valid, so a copied log object may keep its original structure.
func ArtifactKey(caseID, runID, source, name string) (string, error) {
	if !ValidSource(source) {
		return "", fmt.Errorf("%w: source %q is not one of %s", ErrBadKeyPart, source, strings.Join(Sources, ", "))
	}
	if err := checkRelPath("artifact name", name); err != nil {
		return "", err
	}
	return runFile(caseID, runID, source+"/"+name)
}

// RejectedKey is where Triage keeps a refused input as it came:
// rejected/YYYY/MM/DD/<digest>.json, dated by t in UTC. digest is the
// lowercase hex SHA-256 of the input, so the same bad input delivered twice
// lands on one key.
func RejectedKey(t time.Time, digest string) (string, error) {
	p, err := rejectedPrefix(t, digest)
	if err != nil {
		return "", err
	}
	return p + ".json", nil
}

// RejectedReasonKey is the reason object beside a rejected input:
// rejected/YYYY/MM/DD/<digest>.reason.json.
func RejectedReasonKey(t time.Time, digest string) (string, error) {
	p, err := rejectedPrefix(t, digest)
	if err != nil {
		return "", err
	}
	return p + ".reason.json", nil
}

func rejectedPrefix(t time.Time, digest string) (string, error) {
	if !isHexSHA256(digest) {
		return "", fmt.Errorf("%w: rejected digest %q is not a lowercase hex SHA-256", ErrBadKeyPart, digest)
	}
	return RejectedRoot + t.UTC().Format("2006/01/02") + "/" + digest, nil
}

// ValidSource reports whether s is one of Sources.
func ValidSource(s string) bool {
	for _, v := range Sources {
		if s == v {
			return true
		}
	}
	return false
}

func isHexSHA256(s string) bool {
	if len(s) != 64 {
		return false
	}
	for _, c := range s {
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

// LocalPath maps a bucket key to the file a local download keeps it in:
// the key with its leading "cases/" removed, under root
// (cases/<caseId>/runs/<runId>/manifest.json -> <root>/<caseId>/runs/<runId>/manifest.json).
// A key that would leave root is refused, so a hostile manifest cannot make
// verify or download touch files elsewhere.
func LocalPath(root, key string) (string, error) {
	rel := strings.TrimPrefix(key, CasesRoot)
	if err := checkRelPath("key", rel); err != nil {
		return "", err
	}
	return filepath.Join(root, filepath.FromSlash(rel)), nil
}
