package evidence_test

import (
	"errors"
	"path"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"
	"unicode"

	"github.com/custody-ir/custody/shared/evidence"
	"github.com/custody-ir/custody/shared/incident"
)

// IAM lets every collector write anywhere under cases/ (case IDs exist only
// at run time), so what keeps a collector in its own case is this: the case
// ID Triage derives is always one safe segment, distinct per finding, and
// every key function refuses a part that could leave the case or run
// folder. These tests prove both with hostile input.

// hostileIDs are finding IDs (and names) that try to leave their folder or
// land in another's.
var hostileIDs = []string{
	"..", ".", "", "../gd-other", "a/../../b", "/abs", "a/b", `a\b`, "a//b",
	"gd-other/runs/r1", "%2e%2e%2f", "x\x00y", "x\ny", "x\ry", "\x7f", "\u202egnp.exe",
	"a\u2215b", // a division slash, not a separator
	"\xff\xfe", strings.Repeat("a", 300), "AAAA", "aaaa", "Finding/ABC", "finding-abc",
	"16afba5c5c43e07c9e3e5e2e544e95df",
}

// caseIDForm is every case ID Triage can derive from a finding: "gd-", then
// lower-case letters, digits and "-", at most 72 characters in all.
var caseIDForm = regexp.MustCompile(`^gd-[a-z0-9-]{0,69}$`)

func TestCaseIDsFromHostileFindingIDsStayInTheirFolder(t *testing.T) {
	prefixes := map[string]string{} // case prefix -> the finding ID that made it
	for _, id := range hostileIDs {
		caseID := incident.CaseIDForFinding(id)
		if !caseIDForm.MatchString(caseID) {
			t.Errorf("finding ID %q: case ID %q is not of the form %s", id, caseID, caseIDForm)
			continue
		}
		prefix, err := evidence.CasePrefix(caseID)
		if err != nil {
			t.Errorf("finding ID %q: case ID %q refused: %v", id, caseID, err)
			continue
		}
		key, err := evidence.CaseKey(caseID)
		if err != nil || !inFolder(key, prefix) {
			t.Errorf("finding ID %q: case key %q (%v) is not in %s", id, key, err, prefix)
		}
		// Distinct findings, distinct folders, and none inside another
		// (the trailing "/" makes a prefix match an equality).
		if other, ok := prefixes[prefix]; ok {
			t.Errorf("finding IDs %q and %q share the case folder %s", other, id, prefix)
		}
		prefixes[prefix] = id
	}
	for a := range prefixes {
		for b := range prefixes {
			if a != b && strings.HasPrefix(b, a) {
				t.Errorf("case folder %s is inside %s", b, a)
			}
		}
	}
	// A manual start's case ID is a hash: one segment of hex.
	w := incident.Window{Start: time.Date(2024, 5, 1, 10, 0, 0, 0, time.UTC), End: time.Date(2024, 5, 1, 18, 0, 0, 0, time.UTC)}
	for _, id := range hostileIDs {
		if c := incident.CaseIDForManual("Instance", id, w); !regexp.MustCompile(`^mn-[0-9a-f]{24}$`).MatchString(c) {
			t.Errorf("manual resource %q: case ID %q", id, c)
		}
	}
}

// TestKeysNeverLeaveTheirRun: every key function, given a valid case and
// run and a hostile name, either refuses it (ErrBadKeyPart) or makes a key
// inside that run's folder that no path normalisation changes.
func TestKeysNeverLeaveTheirRun(t *testing.T) {
	caseID, runID := incident.CaseIDForFinding("16afba5c5c43e07c9e3e5e2e544e95df"), "r20240802T083112824Z"
	run, err := evidence.RunPrefix(caseID, runID)
	if err != nil {
		t.Fatal(err)
	}
	names := append(slices.Clone(hostileIDs), "AWSLogs/123456789012/CloudTrail/us-east-1/2024/08/02/x.json.gz",
		"a/./b", "a/../b", "./a", "a/", "results/../../other")
	keyFuncs := map[string]func(name string) (string, error){
		"ArtifactKey": func(n string) (string, error) {
			return evidence.ArtifactKey(caseID, runID, evidence.SourceCloudTrail, n)
		},
		"RunFileKey":   func(n string) (string, error) { return evidence.RunFileKey(caseID, runID, n) },
		"ResultKey":    func(n string) (string, error) { return evidence.ResultKey(caseID, runID, n) },
		"ShardFileKey": func(n string) (string, error) { return evidence.ShardFileKey(caseID, runID, "cloudtrail", n) },
		"ShardFileKey collector": func(n string) (string, error) {
			return evidence.ShardFileKey(caseID, runID, n, "plan.json")
		},
		"RunPrefix of a hostile run": func(n string) (string, error) { return evidence.RunPrefix(caseID, n) },
	}
	for fname, f := range keyFuncs {
		for _, n := range names {
			key, err := f(n)
			if err != nil {
				if !errors.Is(err, evidence.ErrBadKeyPart) {
					t.Errorf("%s(%q): err %v is not ErrBadKeyPart", fname, n, err)
				}
				continue
			}
			want := run
			if fname == "RunPrefix of a hostile run" {
				want, _ = evidence.CasePrefix(caseID)
			}
			if !inFolder(key, want) {
				t.Errorf("%s(%q) = %q, outside %s", fname, n, key, want)
			}
		}
	}
}

// FuzzKeysStayInTheirCase: whatever a finding ID, run ID and artifact name
// are, a key either is refused or stays inside the finding's case folder
// and its run's folder, unchanged by normalisation, with no control
// character.
func FuzzKeysStayInTheirCase(f *testing.F) {
	for _, id := range hostileIDs {
		f.Add(id, "r20240802T083112824Z", id)
	}
	f.Add("16afba5c5c43e07c9e3e5e2e544e95df", "..", "a/b.json")
	f.Fuzz(func(t *testing.T, findingID, runID, name string) {
		caseID := incident.CaseIDForFinding(findingID)
		casePrefix, err := evidence.CasePrefix(caseID)
		if err != nil {
			t.Fatalf("finding ID %q: derived case ID %q refused: %v", findingID, caseID, err)
		}
		key, err := evidence.ArtifactKey(caseID, runID, evidence.SourceVPCFlow, name)
		if err != nil {
			if !errors.Is(err, evidence.ErrBadKeyPart) {
				t.Fatalf("err %v is not ErrBadKeyPart", err)
			}
			return
		}
		run, err := evidence.RunPrefix(caseID, runID)
		if err != nil {
			t.Fatalf("ArtifactKey accepted run %q that RunPrefix refuses: %v", runID, err)
		}
		if !inFolder(key, casePrefix) || !inFolder(key, run+evidence.SourceVPCFlow+"/") {
			t.Fatalf("key %q is outside %s", key, run+evidence.SourceVPCFlow+"/")
		}
		for _, r := range key {
			if unicode.IsControl(r) {
				t.Fatalf("key %q holds a control character", key)
			}
		}
	})
}

// inFolder reports whether key is under folder (ending in "/") and no path
// normalisation (".", "..", "//") moves it.
func inFolder(key, folder string) bool {
	clean := path.Clean(key)
	if strings.HasSuffix(key, "/") {
		clean += "/"
	}
	return strings.HasPrefix(key, folder) && clean == key && len(key) > len(folder)
}
