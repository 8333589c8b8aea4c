package evidence

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// fuzzManifest is a schema-valid manifest of a run with two artifacts (one
// of them on disk in the fuzz's root), the seed the fuzzer edits.
func fuzzManifest(f *testing.F) []byte {
	at := time.Date(2024, 8, 2, 8, 35, 0, 0, time.UTC)
	key := func(name string) string {
		k, _ := ArtifactKey("gd-case", "r20240802T083112824Z", SourceCloudTrail, name)
		return k
	}
	m := Manifest{
		SchemaVersion: ManifestSchemaVersion, CaseID: "gd-case", RunID: "r20240802T083112824Z",
		Finding: &ManifestFinding{ID: "16afba5c5c43e07c9e3e5e2e544e95df", Type: "Canary:EC2/Stateless.IntegTest",
			Severity: 5, AccountID: "123456789012", Region: "us-east-1", UpdatedAt: at},
		Window: ManifestWindow{Start: at.Add(-6 * time.Hour), End: at.Add(time.Hour)}, Status: RunComplete, Bucket: "b",
		Collectors: []CollectorStatus{{Name: "cloudtrail", Version: "devel", Status: CollectorOK}},
		Artifacts: []Artifact{
			{Key: key("extract.jsonl.gz"), VersionID: "v1", Size: 5, SHA256: hexSHA([]byte("hello")), Source: SourceCloudTrail,
				API: "test:Put", CollectedAt: at, Collector: "cloudtrail", CollectorVersion: "devel"},
			{Key: key("AWSLogs/123456789012/CloudTrail/us-east-1/2024/08/02/x.json.gz"), VersionID: "v2", Size: 0, SHA256: hexSHA(nil),
				Source: SourceCloudTrail, API: "s3:CopyObject", CollectedAt: at, Collector: "cloudtrail", CollectorVersion: "devel"},
		},
		OpenedAt: at.Add(-time.Minute), SealedAt: at, SealedBy: "seal devel",
	}
	b, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		f.Fatal(err)
	}
	if err := ValidateManifest(b); err != nil {
		f.Fatalf("seed manifest: %v", err)
	}
	return b
}

// FuzzManifest decodes any bytes as a manifest.json and verifies a
// downloaded run with it. An accepted manifest writes JSON that decodes
// and writes the same again; verify never reads a path outside the root
// the run was downloaded to, and accounts for every artifact once (ok,
// missing or changed).
func FuzzManifest(f *testing.F) {
	seed := fuzzManifest(f)
	f.Add(seed)
	f.Add(bytes.Replace(seed, []byte(`"cases/gd-case/runs/`), []byte(`"cases/gd-case/../other/runs/`), 1))
	f.Add(bytes.Replace(seed, []byte(`"size": 5`), []byte(`"size": -5`), 1))
	f.Add([]byte(`{}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := ParseManifest(data)
		if err != nil {
			return
		}
		out, err := json.Marshal(m)
		if err != nil {
			t.Fatalf("an accepted manifest does not encode: %v", err)
		}
		back, err := ParseManifest(out)
		if err != nil {
			t.Fatalf("an accepted manifest writes one the schema refuses: %v\n%s", err, out)
		}
		again, _ := json.Marshal(back)
		if !bytes.Equal(out, again) {
			t.Fatalf("the manifest does not write the same twice:\n%s\n%s", out, again)
		}
		root := t.TempDir()
		for _, a := range m.Artifacts {
			p, err := LocalPath(root, a.Key)
			if err != nil {
				continue
			}
			if rel, err := filepath.Rel(root, p); err != nil || rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
				t.Fatalf("artifact %q maps to %s, outside %s", a.Key, p, root)
			}
		}
		if p, err := LocalPath(root, "cases/gd-case/runs/r20240802T083112824Z/cloudtrail/extract.jsonl.gz"); err == nil {
			_ = os.MkdirAll(filepath.Dir(p), 0o755)
			_ = os.WriteFile(p, []byte("hello"), 0o600)
		}
		rep, err := VerifyDir(root, m)
		if err != nil {
			return // a key that would leave root, refused
		}
		if n := len(rep.OK) + len(rep.Missing) + len(rep.Changed); n != len(m.Artifacts) {
			t.Fatalf("%d artifacts, %d ok + %d missing + %d changed", len(m.Artifacts), len(rep.OK), len(rep.Missing), len(rep.Changed))
		}
	})
}
