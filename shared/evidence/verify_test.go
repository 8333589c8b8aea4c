package evidence

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// localRun writes files under root as a download would and returns a
// manifest that names them with their true sizes and hashes.
func localRun(t *testing.T, root string, files map[string][]byte) *Manifest {
	t.Helper()
	m := &Manifest{CaseID: "case1", RunID: "run1", Manual: true, Status: RunComplete}
	for name, body := range files {
		key, err := ArtifactKey("case1", "run1", SourceCloudTrail, name)
		if err != nil {
			t.Fatal(err)
		}
		path, err := LocalPath(root, key)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, body, 0o644); err != nil {
			t.Fatal(err)
		}
		m.Artifacts = append(m.Artifacts, Artifact{Key: key, VersionID: "v", Size: int64(len(body)), SHA256: hexSHA(body), Source: SourceCloudTrail})
	}
	return m
}

func TestVerifyDir(t *testing.T) {
	root := t.TempDir()
	m := localRun(t, root, map[string][]byte{
		"a.json":             []byte(`{"a":1}`),
		"deep/b/c.jsonl.gz":  payload(70 << 10),
		"to-be-removed.json": []byte(`[]`),
	})
	runDir, err := RunDir(root, "case1", "run1")
	if err != nil {
		t.Fatal(err)
	}
	if want := filepath.Join(root, "case1", "runs", "run1"); runDir != want {
		t.Fatalf("RunDir = %s, want %s", runDir, want)
	}
	// manifest.json is never unlisted: it cannot list itself.
	if err := os.WriteFile(filepath.Join(runDir, "manifest.json"), []byte("{}"), 0o644); err != nil {
		t.Fatal(err)
	}
	rep, err := VerifyDir(root, m)
	if err != nil {
		t.Fatal(err)
	}
	if !rep.Verified() || len(rep.OK) != 3 || len(rep.Unlisted) != 0 || rep.Err() != nil {
		t.Fatalf("intact run: %+v", rep)
	}

	// One changed byte (same size), one removed file, one extra file.
	bPath := filepath.Join(runDir, "cloudtrail", "deep", "b", "c.jsonl.gz")
	b, _ := os.ReadFile(bPath)
	b[len(b)/2] ^= 0x01
	if err := os.WriteFile(bPath, b, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(filepath.Join(runDir, "cloudtrail", "to-be-removed.json")); err != nil {
		t.Fatal(err)
	}
	extra := filepath.Join(runDir, "cloudtrail", "planted.json")
	if err := os.WriteFile(extra, []byte("{}"), 0o644); err != nil {
		t.Fatal(err)
	}
	rep, err = VerifyDir(root, m)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Verified() || !errors.Is(rep.Err(), ErrNotVerified) {
		t.Errorf("tampered run verified: %+v", rep)
	}
	if len(rep.Changed) != 1 || !strings.HasSuffix(rep.Changed[0].Key, "deep/b/c.jsonl.gz") ||
		rep.Changed[0].GotSize != rep.Changed[0].WantSize || !strings.Contains(rep.Changed[0].Reason, "sha256") {
		t.Errorf("changed = %+v", rep.Changed)
	}
	if len(rep.Missing) != 1 || !strings.HasSuffix(rep.Missing[0].Key, "to-be-removed.json") {
		t.Errorf("missing = %+v", rep.Missing)
	}
	if len(rep.Unlisted) != 1 || rep.Unlisted[0] != extra {
		t.Errorf("unlisted = %v", rep.Unlisted)
	}
	if len(rep.OK) != 1 {
		t.Errorf("ok = %v", rep.OK)
	}
	t.Logf("report error: %v", rep.Err())

	// A truncated file is a size change.
	aPath := filepath.Join(runDir, "cloudtrail", "a.json")
	if err := os.WriteFile(aPath, []byte(`{"a":`), 0o644); err != nil {
		t.Fatal(err)
	}
	rep, _ = VerifyDir(root, m)
	found := false
	for _, p := range rep.Changed {
		found = found || (strings.HasSuffix(p.Key, "a.json") && strings.Contains(p.Reason, "size 5"))
	}
	if !found {
		t.Errorf("truncation not reported: %+v", rep.Changed)
	}
}

func TestVerifyDirRefusesEscapingKeys(t *testing.T) {
	m := &Manifest{CaseID: "c", RunID: "r", Artifacts: []Artifact{{Key: "cases/../../etc/passwd"}}}
	if _, err := VerifyDir(t.TempDir(), m); err == nil {
		t.Error("a key leaving the out folder was followed")
	}
	rep, err := VerifyDir(t.TempDir(), &Manifest{CaseID: "c", RunID: "r", Artifacts: []Artifact{{Key: "cases/c/runs/r/x"}}})
	if err != nil || len(rep.Missing) != 1 {
		t.Errorf("nothing downloaded: rep %+v err %v", rep, err)
	}
}

// TestWriteDownloadVerify runs the path of a case run: artifacts written
// and copied, a manifest sealed and stored, the run downloaded, then
// verified locally and against the bucket.
func TestWriteDownloadVerify(t *testing.T) {
	client := emu.FreshLockedBucket(t, testBucket)
	plainBucket(t, client, "trail")
	ctx := context.Background()
	w := newTestWriter(t, client)
	const caseID, runID = "gd-abc", "r1"

	if created, err := w.PutRunMarker(ctx, caseID, runID, []byte(`{}`)); err != nil || !created {
		t.Fatalf("marker: %v %v", created, err)
	}
	var arts []Artifact
	add := func(a Artifact, err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		arts = append(arts, a)
	}
	key, _ := ArtifactKey(caseID, runID, SourceGuardDuty, "finding.json")
	add(w.PutJSON(ctx, key, map[string]string{"id": "abc"}, PutMeta{Source: SourceGuardDuty, API: "guardduty:GetFindings", Collector: "guardduty", CollectorVersion: "1"}))
	key, _ = ArtifactKey(caseID, runID, SourceCloudTrail, "extract.jsonl.gz")
	aw, err := w.CreateGzip(key, PutMeta{Source: SourceCloudTrail, API: "s3:GetObject", Collector: "cloudtrail", CollectorVersion: "1"})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 100 {
		if err := aw.WriteRecord(map[string]int{"i": i}, fixedNow.Add(time.Duration(i)*time.Second)); err != nil {
			t.Fatal(err)
		}
	}
	add(aw.Close(ctx))
	srcKey := "AWSLogs/123456789012/CloudTrail/us-east-1/2024/05/06/log.json.gz"
	if _, err := client.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("trail"), Key: aws.String(srcKey), Body: bytes.NewReader(payload(4096))}); err != nil {
		t.Fatal(err)
	}
	key, _ = ArtifactKey(caseID, runID, SourceCloudTrail, srcKey)
	add(w.Copy(ctx, "trail", srcKey, "", key, PutMeta{Source: SourceCloudTrail, Collector: "cloudtrail", CollectorVersion: "1"}))

	m := Manifest{
		SchemaVersion: ManifestSchemaVersion, CaseID: caseID, RunID: runID, Manual: true, Status: RunComplete,
		Window: ManifestWindow{Start: fixedNow.Add(-time.Hour), End: fixedNow}, Bucket: testBucket,
		Collectors: []CollectorStatus{{Name: "guardduty", Status: CollectorOK}, {Name: "cloudtrail", Status: CollectorOK}},
		Artifacts:  arts, SealedAt: fixedNow,
	}
	if err := ValidateManifest(mustJSON(t, m)); err != nil {
		t.Fatalf("writer artifacts make an invalid manifest: %v", err)
	}
	mkey, _ := ManifestKey(caseID, runID)
	if _, err := w.PutJSON(ctx, mkey, m, PutMeta{Source: SourceCase}); err != nil {
		t.Fatal(err)
	}

	root := t.TempDir()
	prefix, _ := RunPrefix(caseID, runID)
	files, err := Download(ctx, client, testBucket, prefix, root)
	if err != nil {
		t.Fatal(err)
	}
	if len(files) != 5 { // marker, 3 artifacts, manifest
		t.Errorf("downloaded %d files: %v", len(files), files)
	}
	got, rep, err := VerifyLocalRun(root, caseID, runID)
	if err != nil {
		t.Fatal(err)
	}
	if !rep.Verified() || len(rep.OK) != 3 || got.CaseID != caseID {
		t.Errorf("local verify: %+v", rep)
	}
	// run.json is in the folder but not an artifact here.
	if len(rep.Unlisted) != 1 || !strings.HasSuffix(rep.Unlisted[0], "run.json") {
		t.Errorf("unlisted = %v", rep.Unlisted)
	}

	rep, err = VerifyBucket(ctx, client, testBucket, &m)
	if err != nil {
		t.Fatal(err)
	}
	if !rep.Verified() || len(rep.OK) != 3 {
		t.Errorf("bucket verify: %+v", rep)
	}

	// A manifest that lies: a wrong hash, a version that does not exist.
	bad := m
	bad.Artifacts = append([]Artifact(nil), m.Artifacts...)
	bad.Artifacts[0].SHA256 = strings.Repeat("0", 64)
	bad.Artifacts[1].VersionID = "not-a-real-version"
	rep, err = VerifyBucket(ctx, client, testBucket, &bad)
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Changed) != 1 || rep.Changed[0].Key != bad.Artifacts[0].Key || len(rep.Missing) != 1 || len(rep.OK) != 1 {
		t.Errorf("lying manifest: %+v", rep)
	}
}

func TestVerifyBucketUnlocked(t *testing.T) {
	client := emu.FreshLockedBucket(t, testBucket)
	plainBucket(t, client, "unlocked")
	ctx := context.Background()
	put, err := client.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("unlocked"), Key: aws.String("cases/c/runs/r/case/x"), Body: strings.NewReader("x")})
	if err != nil {
		t.Fatal(err)
	}
	m := &Manifest{CaseID: "c", RunID: "r", Artifacts: []Artifact{{Key: "cases/c/runs/r/case/x", VersionID: aws.ToString(put.VersionId), Size: 1, SHA256: hexSHA([]byte("x"))}}}
	rep, err := VerifyBucket(ctx, client, "unlocked", m)
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Unlocked) != 1 || rep.Verified() {
		t.Errorf("unlocked object passed: %+v", rep)
	}
}
