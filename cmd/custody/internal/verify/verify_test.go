package verify

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/custody-ir/custody/shared/evidence"
)

const (
	testCase = "gd-16afba5c5c43e07c9e3e5e2e544e95df"
	run1     = "r20240802T083112824Z"
	run2     = "r20240802T093000000Z"
)

var sealed = time.Date(2024, 8, 2, 8, 35, 0, 0, time.UTC)

// testFiles are a run's evidence, relative to its run folder, as the demo
// leaves them (content made up, layout real).
var testFiles = map[string]string{
	"run.json":                           `{"caseId":"` + testCase + `"}`,
	"input.json":                         `{"detail-type":"GuardDuty Finding"}`,
	"incident.json":                      `{"caseId":"` + testCase + `","scope":{}}`,
	"guardduty/finding.json":             `{"id":"16afba5c5c43e07c9e3e5e2e544e95df","type":"Canary:EC2/Stateless.IntegTest"}`,
	"guardduty/summary.json":             `{"records":1}`,
	"cloudtrail/extract.jsonl.gz":        "\x1f\x8b\x08\x00 not really gzip but bytes all the same",
	"results/guardduty.json":             `{"collector":"guardduty"}`,  // exempt: not listed
	"results/triage.json":                `{"collector":"triage"}`,     // exempt: not listed
	"results/cloudtrail/plan.json":       `{"shards":[]}`,              // exempt: a fan-out's plan
	"results/cloudtrail/shard-0001.json": `{"collector":"cloudtrail"}`, // exempt: one shard's result
	"vpcflow/eni-0a1b2c3d4e5f60718.gz":   strings.Repeat("flow ", 1000),
}

func sum(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// testManifest is a schema-valid manifest of runID listing arts.
func testManifest(t testing.TB, runID string, arts []evidence.Artifact) []byte {
	t.Helper()
	m := evidence.Manifest{
		SchemaVersion: evidence.ManifestSchemaVersion, CaseID: testCase, RunID: runID,
		Finding: &evidence.ManifestFinding{ID: "16afba5c5c43e07c9e3e5e2e544e95df", Type: "Canary:EC2/Stateless.IntegTest",
			Severity: 5, AccountID: "123456789012", Region: "us-east-1", UpdatedAt: sealed},
		Window:     evidence.ManifestWindow{Start: sealed.Add(-6 * time.Hour), End: sealed.Add(time.Hour)},
		Status:     evidence.RunComplete,
		Bucket:     testBucket,
		Collectors: []evidence.CollectorStatus{{Name: "guardduty", Version: "devel", Status: evidence.CollectorOK}},
		Artifacts:  arts,
		OpenedAt:   sealed.Add(-time.Minute), SealedAt: sealed, SealedBy: "seal devel",
	}
	data, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	if err := evidence.ValidateManifest(data); err != nil {
		t.Fatalf("test manifest: %v", err)
	}
	return data
}

func artifact(key string, body []byte, version string) evidence.Artifact {
	src := evidence.SourceCase
	if parts := strings.Split(key, "/"); len(parts) > 5 && evidence.ValidSource(parts[4]) {
		src = parts[4]
	}
	return evidence.Artifact{Key: key, VersionID: version, Size: int64(len(body)), SHA256: sum(body), Source: src,
		API: "test:Put", CollectedAt: sealed, Collector: "test", CollectorVersion: "devel"}
}

// writeCase lays out OUT/<caseId> with two sealed runs (case.json listed by
// the first) and returns the case folder.
func writeCase(t *testing.T) string {
	t.Helper()
	out := t.TempDir()
	caseDir := filepath.Join(out, testCase)
	write := func(rel string, body []byte) {
		p := filepath.Join(caseDir, filepath.FromSlash(rel))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, body, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	caseBody := []byte(`{"caseId":"` + testCase + `"}`)
	write("case.json", caseBody)
	for i, runID := range []string{run1, run2} {
		var arts []evidence.Artifact
		if i == 0 {
			arts = append(arts, artifact("cases/"+testCase+"/case.json", caseBody, "v-case"))
		}
		for rel, body := range testFiles {
			write("runs/"+runID+"/"+rel, []byte(body))
			if !strings.HasPrefix(rel, "results/") {
				arts = append(arts, artifact("cases/"+testCase+"/runs/"+runID+"/"+rel, []byte(body), "v-"+rel))
			}
		}
		write("runs/"+runID+"/manifest.json", testManifest(t, runID, arts))
		key, _ := testKeys(t)
		signRun(t, caseDir, runID, key)
	}
	return caseDir
}

func runMain(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	code := Main(context.Background(), args, &stdout, &stderr, nil)
	return code, stdout.String(), stderr.String()
}

func TestDir(t *testing.T) {
	runDir := func(c string, id string) string { return filepath.Join(c, "runs", id) }
	flip := func(t *testing.T, path string) {
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		b[len(b)/2] ^= 0x01
		if err := os.WriteFile(path, b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	manifestSum := func(t *testing.T, c, id string) string {
		b, err := os.ReadFile(filepath.Join(runDir(c, id), "manifest.json"))
		if err != nil {
			t.Fatal(err)
		}
		return sum(b)
	}
	cases := []struct {
		name string
		// edit damages the case and returns extra arguments.
		edit func(t *testing.T, c string) []string
		code int
		out  string // in stdout
	}{
		{"clean case verifies", nil, ExitOK, "case " + testCase + " verifies: 2 run(s), 15 artifact(s) intact"},
		{"collector results are exempt", func(t *testing.T, c string) []string {
			return nil // results/*.json are on disk and listed by no manifest
		}, ExitOK, "ok   "},
		{"one changed byte", func(t *testing.T, c string) []string {
			flip(t, filepath.Join(runDir(c, run1), "vpcflow", "eni-0a1b2c3d4e5f60718.gz"))
			return nil
		}, ExitChanged, "changed: "},
		{"one changed byte in case.json", func(t *testing.T, c string) []string {
			flip(t, filepath.Join(c, "case.json"))
			return nil
		}, ExitChanged, "case.json: sha256 "},
		{"a removed file", func(t *testing.T, c string) []string {
			if err := os.Remove(filepath.Join(runDir(c, run2), "guardduty", "finding.json")); err != nil {
				t.Fatal(err)
			}
			return nil
		}, ExitMissing, "missing: "},
		{"an extra file", func(t *testing.T, c string) []string {
			if err := os.WriteFile(filepath.Join(runDir(c, run1), "guardduty", "planted.json"), []byte("{}"), 0o600); err != nil {
				t.Fatal(err)
			}
			return nil
		}, ExitUnlisted, "unlisted: "},
		{"a file deeper than a fan-out's results", func(t *testing.T, c string) []string {
			if err := os.MkdirAll(filepath.Join(runDir(c, run1), "results", "cloudtrail", "x"), 0o700); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(runDir(c, run1), "results", "cloudtrail", "x", "planted.json"), []byte("{}"), 0o600); err != nil {
				t.Fatal(err)
			}
			return nil
		}, ExitUnlisted, "planted.json: no manifest lists it"},
		{"an extra file at the case's top", func(t *testing.T, c string) []string {
			if err := os.WriteFile(filepath.Join(c, "notes.txt"), []byte("x"), 0o600); err != nil {
				t.Fatal(err)
			}
			return nil
		}, ExitUnlisted, "notes.txt: no manifest lists it"},
		{"a run without its manifest", func(t *testing.T, c string) []string {
			if err := os.Remove(filepath.Join(runDir(c, run2), "manifest.json")); err != nil {
				t.Fatal(err)
			}
			return nil
		}, ExitMissing, "FAIL run " + run2 + ": no manifest"},
		{"changed beats unlisted", func(t *testing.T, c string) []string {
			flip(t, filepath.Join(runDir(c, run1), "input.json"))
			if err := os.WriteFile(filepath.Join(runDir(c, run1), "x"), nil, 0o600); err != nil {
				t.Fatal(err)
			}
			return nil
		}, ExitChanged, "unlisted: "},
		{"the announced manifest", func(t *testing.T, c string) []string {
			return []string{"-run", run1, "-manifest-sha256", strings.ToUpper(manifestSum(t, c, run1))}
		}, ExitOK, "verifies"},
		{"a manifest that is not the announced one", func(t *testing.T, c string) []string {
			return []string{"-run", run1, "-manifest-sha256", manifestSum(t, c, run2)}
		}, ExitManifest, "manifest: sha256 "},
		{"a manifest edited to match changed evidence", func(t *testing.T, c string) []string {
			want := manifestSum(t, c, run1)
			p := filepath.Join(runDir(c, run1), "manifest.json")
			b, _ := os.ReadFile(p)
			if err := os.WriteFile(p, bytes.Replace(b, []byte(`"status": "complete"`), []byte(`"status": "partial"`), 1), 0o600); err != nil {
				t.Fatal(err)
			}
			return []string{"-manifest-sha256", want, "-run", run1}
		}, ExitManifest, "Seal announced"},
		{"a manifest that is not JSON", func(t *testing.T, c string) []string {
			if err := os.WriteFile(filepath.Join(runDir(c, run2), "manifest.json"), []byte("{"), 0o600); err != nil {
				t.Fatal(err)
			}
			return nil
		}, ExitManifest, "manifest: "},
		{"a manifest moved to another run", func(t *testing.T, c string) []string {
			b, _ := os.ReadFile(filepath.Join(runDir(c, run1), "manifest.json"))
			if err := os.WriteFile(filepath.Join(runDir(c, run2), "manifest.json"), b, 0o600); err != nil {
				t.Fatal(err)
			}
			return nil
		}, ExitManifest, "it is the manifest of case " + testCase + " run " + run1},
		{"flags after the folder", func(t *testing.T, c string) []string {
			return []string{"-run", run2, "-manifest-sha256", manifestSum(t, c, run2)}
		}, ExitOK, "verifies"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := writeCase(t)
			var extra []string
			if c.edit != nil {
				extra = c.edit(t, dir)
			}
			args := append([]string{dir}, extra...)
			if c.name != "flags after the folder" {
				args = append(extra, dir)
			}
			code, out, errOut := runMain(t, args...)
			if code != c.code {
				t.Errorf("exit %d, want %d\nstdout:\n%s\nstderr:\n%s", code, c.code, out, errOut)
			}
			if !strings.Contains(out, c.out) {
				t.Errorf("stdout lacks %q:\n%s", c.out, out)
			}
		})
	}
}

func TestUsage(t *testing.T) {
	dir := writeCase(t)
	cases := []struct {
		name string
		args []string
		want string
	}{
		{"no location", nil, "usage: custody verify"},
		{"two locations", []string{dir, dir}, "usage: custody verify"},
		{"bad flag", []string{"-nope", dir}, "flag provided but not defined"},
		{"no such folder", []string{filepath.Join(dir, "nope")}, "no such file"},
		{"not a case folder", []string{filepath.Dir(dir)}, "holds no runs/"},
		{"several runs, no -run", []string{"-manifest-sha256", strings.Repeat("a", 64), dir}, "name the one Seal announced with -run"},
		{"no such run", []string{"-run", "r1", "-manifest-sha256", strings.Repeat("a", 64), dir}, "no such run"},
		{"-run alone", []string{"-run", run1, dir}, "-run names the run"},
		{"bad sha256", []string{"-manifest-sha256", "xyz", dir}, "not a hex SHA-256"},
		{"version of a folder", []string{"-run", run1, "-manifest-version", "v1", dir}, "keeps no version IDs"},
		{"bad s3 location", []string{"s3://bucket/other/x"}, "want s3://<bucket>/cases/<caseId>"},
		{"s3 run prefix", []string{"s3://bucket/cases/" + testCase + "/runs/" + run1}, "want s3://<bucket>/cases/<caseId>"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			code, _, errOut := runMain(t, c.args...)
			if code != ExitUsage || !strings.Contains(errOut, c.want) {
				t.Errorf("exit %d, stderr %q; want %d and %q", code, errOut, ExitUsage, c.want)
			}
		})
	}
}

func TestJSON(t *testing.T) {
	dir := writeCase(t)
	if err := os.WriteFile(filepath.Join(dir, "extra"), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	code, out, _ := runMain(t, "-json", dir)
	var got struct {
		CaseID   string     `json:"caseId"`
		Code     int        `json:"exitCode"`
		Runs     []Run      `json:"runs"`
		Unlisted []Unlisted `json:"unlisted"`
	}
	if err := json.Unmarshal([]byte(out), &got); err != nil {
		t.Fatalf("%v:\n%s", err, out)
	}
	if code != ExitUnlisted || got.Code != code || got.CaseID != testCase || len(got.Runs) != 2 || len(got.Unlisted) != 1 {
		t.Errorf("exit %d, JSON %+v", code, got)
	}
}

const testBucket = "custody-evidence-test"
