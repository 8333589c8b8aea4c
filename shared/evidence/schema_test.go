package evidence

import (
	"encoding/json"
	"strings"
	"testing"
	"time"
)

// goodManifest is a full manifest as Seal would build it, with every
// optional field set, so the schema and the Go types are checked in step
// (additionalProperties is false in the schema).
func goodManifest() Manifest {
	at := time.Date(2024, 5, 6, 7, 8, 9, 0, time.UTC)
	first, last := at.Add(-2*time.Hour), at.Add(-time.Hour)
	return Manifest{
		SchemaVersion: ManifestSchemaVersion,
		CaseID:        "gd-0123abcd",
		RunID:         "r-20240506T070809Z",
		Finding: &ManifestFinding{ID: "abcd", Type: "UnauthorizedAccess:EC2/SSHBruteForce", Severity: 5.0,
			AccountID: "123456789012", Region: "us-east-1", UpdatedAt: at},
		Window:   ManifestWindow{Start: at.Add(-24 * time.Hour), End: at},
		Status:   RunPartial,
		Bucket:   "evidence",
		Gaps:     []Gap{{Source: SourceVPCFlow, Reason: "no flow logs on vpc-1", Fix: "enable VPC Flow Logs"}},
		Warnings: []string{"window capped"},
		Collectors: []CollectorStatus{
			{Name: "guardduty", Version: "1", Status: CollectorOK},
			{Name: "vpcflow", Status: CollectorFailed, Error: "boom"},
			{Name: "inspector", Status: CollectorSkipped},
		},
		Snapshots: []Snapshot{{SnapshotID: "snap-0abc", VolumeID: "vol-1", InstanceID: "i-1", Tags: map[string]string{"case": "x"}, Locked: true}},
		Artifacts: []Artifact{{
			Key: "cases/gd-0123abcd/runs/r/guardduty/finding.json", VersionID: "v1", Size: 10,
			SHA256: strings.Repeat("ab", 32), S3ChecksumSHA256: "q83vq83v", ContentType: ContentTypeJSON,
			Source: SourceGuardDuty, API: "guardduty:GetFindings", Request: map[string]any{"FindingIds": []string{"abcd"}},
			Origin:  &Origin{FindingID: "abcd", Bucket: "b", Key: "k", VersionID: "v", LogGroup: "g", LogStream: "s", Table: "t", Shard: "sh", Description: "d"},
			Records: 1, FirstEvent: &first, LastEvent: &last, CollectedAt: at, Collector: "guardduty", CollectorVersion: "1",
		}},
		OpenedAt: at.Add(-time.Minute),
		SealedAt: at,
		SealedBy: "seal",
	}
}

func mustJSON(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// edit decodes the good manifest to a generic map, applies f and encodes it
// again: each bad case is one precise change to a good document.
func edit(t *testing.T, f func(m map[string]any)) []byte {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(mustJSON(t, goodManifest()), &m); err != nil {
		t.Fatal(err)
	}
	f(m)
	return mustJSON(t, m)
}

func artifact0(m map[string]any) map[string]any {
	return m["artifacts"].([]any)[0].(map[string]any)
}

func TestValidateManifest(t *testing.T) {
	manual := goodManifest()
	manual.Manual, manual.Finding = true, nil
	empty := Manifest{CaseID: "c", RunID: "r", Manual: true, Status: RunComplete} // nil lists, zero times
	local := goodManifest()
	local.SealedAt = local.SealedAt.In(time.FixedZone("CEST", 2*3600)) // marshalled as UTC

	cases := []struct {
		name string
		doc  []byte
		want string // "" for valid; else a fragment of the error
	}{
		{"good", mustJSON(t, goodManifest()), ""},
		{"manual without finding", mustJSON(t, manual), ""},
		{"nil lists and zero times", mustJSON(t, empty), ""},
		{"local time marshalled as UTC", mustJSON(t, local), ""},
		{"missing caseId", edit(t, func(m map[string]any) { delete(m, "caseId") }), "caseId"},
		{"caseId with slash", edit(t, func(m map[string]any) { m["caseId"] = "a/b" }), "/caseId"},
		{"runId dotdot", edit(t, func(m map[string]any) { m["runId"] = ".." }), "/runId"},
		{"finding missing when not manual", edit(t, func(m map[string]any) { delete(m, "finding") }), "finding"},
		{"finding without id", edit(t, func(m map[string]any) { delete(m["finding"].(map[string]any), "id") }), "/finding"},
		{"severity not a number", edit(t, func(m map[string]any) { m["finding"].(map[string]any)["severity"] = "high" }), "/finding/severity"},
		{"bad status", edit(t, func(m map[string]any) { m["status"] = "done" }), "/status"},
		{"window end not a time", edit(t, func(m map[string]any) { m["window"].(map[string]any)["end"] = "yesterday" }), "/window/end"},
		{"time not UTC", edit(t, func(m map[string]any) { m["sealedAt"] = "2024-05-06T09:08:09+02:00" }), "/sealedAt"},
		{"gaps null", edit(t, func(m map[string]any) { m["gaps"] = nil }), "/gaps"},
		{"gap without fix", edit(t, func(m map[string]any) { delete(m["gaps"].([]any)[0].(map[string]any), "fix") }), "/gaps/0"},
		{"gap bad source", edit(t, func(m map[string]any) { m["gaps"].([]any)[0].(map[string]any)["source"] = "syslog" }), "/gaps/0/source"},
		{"collector bad status", edit(t, func(m map[string]any) { m["collectors"].([]any)[0].(map[string]any)["status"] = "done" }), "/collectors/0/status"},
		{"failed collector without error", edit(t, func(m map[string]any) { delete(m["collectors"].([]any)[1].(map[string]any), "error") }), "/collectors/1"},
		{"bad snapshot id", edit(t, func(m map[string]any) { m["snapshots"].([]any)[0].(map[string]any)["snapshotId"] = "vol-1" }), "/snapshots/0/snapshotId"},
		{"bad sha256", edit(t, func(m map[string]any) { artifact0(m)["sha256"] = strings.Repeat("AB", 32) }), "/artifacts/0/sha256"},
		{"short sha256", edit(t, func(m map[string]any) { artifact0(m)["sha256"] = "abc" }), "/artifacts/0/sha256"},
		{"bad source", edit(t, func(m map[string]any) { artifact0(m)["source"] = "syslog" }), "/artifacts/0/source"},
		{"negative size", edit(t, func(m map[string]any) { artifact0(m)["size"] = -1 }), "/artifacts/0/size"},
		{"fractional records", edit(t, func(m map[string]any) { artifact0(m)["records"] = 1.5 }), "/artifacts/0/records"},
		{"missing versionId", edit(t, func(m map[string]any) { delete(artifact0(m), "versionId") }), "/artifacts/0"},
		{"missing collectedAt", edit(t, func(m map[string]any) { delete(artifact0(m), "collectedAt") }), "/artifacts/0"},
		{"bad firstEvent", edit(t, func(m map[string]any) { artifact0(m)["firstEvent"] = "2024-13-01T00:00:00Z" }), "/artifacts/0/firstEvent"},
		{"unknown artifact field", edit(t, func(m map[string]any) { artifact0(m)["sha1"] = "x" }), "/artifacts/0"},
		{"unknown top-level field", edit(t, func(m map[string]any) { m["extra"] = true }), "extra"},
		{"not JSON", []byte("{"), "not JSON"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := ValidateManifest(c.doc)
			switch {
			case c.want == "" && err != nil:
				t.Errorf("valid manifest refused: %v\n%s", err, c.doc)
			case c.want != "" && err == nil:
				t.Errorf("invalid manifest accepted:\n%s", c.doc)
			case c.want != "" && !strings.Contains(err.Error(), c.want):
				t.Errorf("error does not name %q: %v", c.want, err)
			}
		})
	}
}

func TestParseManifestRoundTrip(t *testing.T) {
	want := goodManifest()
	got, err := ParseManifest(mustJSON(t, want))
	if err != nil {
		t.Fatal(err)
	}
	if got.CaseID != want.CaseID || len(got.Artifacts) != 1 || got.Artifacts[0].SHA256 != want.Artifacts[0].SHA256 ||
		!got.Artifacts[0].FirstEvent.Equal(*want.Artifacts[0].FirstEvent) || got.Finding.Severity != 5 {
		t.Errorf("round trip = %+v", got)
	}
	if _, err := ParseManifest([]byte(`{"caseId":"x"}`)); err == nil {
		t.Error("invalid manifest parsed")
	}
}

func TestCollectorResultMarshalsEmptyLists(t *testing.T) {
	b := mustJSON(t, CollectorResult{Collector: "x", Status: CollectorOK})
	for _, f := range []string{`"artifacts":[]`, `"gaps":[]`, `"warnings":[]`, `"snapshots":[]`} {
		if !strings.Contains(string(b), f) {
			t.Errorf("%s missing in %s", f, b)
		}
	}
}

// TestWriterArtifactsValidate checks that what the writer returns is a
// valid manifest entry as it stands.
func TestWriterArtifactsValidate(t *testing.T) {
	m := goodManifest()
	local := time.Date(2024, 1, 1, 1, 0, 0, 0, time.FixedZone("x", 3600))
	a := PutMeta{Source: SourceCloudTrail, API: "s3:GetObject", FirstEvent: &local, Collector: "c", CollectorVersion: "1"}.artifact("k", local)
	a.VersionID, a.SHA256 = "v", strings.Repeat("0", 64)
	m.Artifacts = append(m.Artifacts, a)
	if err := ValidateManifest(mustJSON(t, m)); err != nil {
		t.Fatal(err)
	}
}
