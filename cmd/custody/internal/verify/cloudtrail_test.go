package verify

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/custody-ir/custody/shared/ctdigest"
	"github.com/custody-ir/custody/shared/evidence"
)

// ctCase is a one-run case holding a CloudTrail log file copy and its
// digest, the validation Seal stored, listed in a signed manifest.
func ctCase(t *testing.T, logContent []byte) (caseDir, logPath string) {
	t.Helper()
	out := t.TempDir()
	caseDir = filepath.Join(out, testCase)
	run := "cases/" + testCase + "/runs/" + run1 + "/"
	files, logRel := ctFiles(t, logContent)
	var arts []evidence.Artifact
	for rel, b := range files {
		p := filepath.Join(caseDir, "runs", run1, filepath.FromSlash(rel))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, b, 0o600); err != nil {
			t.Fatal(err)
		}
		arts = append(arts, artifact(run+rel, b, "v-"+rel))
	}
	if err := os.WriteFile(filepath.Join(caseDir, "runs", run1, "manifest.json"), testManifest(t, run1, arts), 0o600); err != nil {
		t.Fatal(err)
	}
	key, _ := testKeys(t)
	signRun(t, caseDir, run1, key)
	return caseDir, filepath.Join(caseDir, "runs", run1, filepath.FromSlash(logRel))
}

// ctFiles are the CloudTrail files of ctCase, relative to the run folder,
// and the log copy's name among them.
func ctFiles(t *testing.T, logContent []byte) (files map[string][]byte, logRel string) {
	t.Helper()
	run := "cases/" + testCase + "/runs/" + run1 + "/"
	const bucket = "trail-logs"
	logKey := "AWSLogs/123456789012/CloudTrail/us-east-1/2024/08/02/123456789012_CloudTrail_us-east-1_20240802T0825Z_abcdef.json.gz"
	raw, err := os.ReadFile("../../../../shared/ctdigest/testdata/aws.initial-access.console-login-without-mfa.json")
	if err != nil {
		t.Fatal(err)
	}
	s, err := ctdigest.NewSigner("us-east-1", sealed.AddDate(0, -1, 0))
	if err != nil {
		t.Fatal(err)
	}
	hour := time.Date(2024, 8, 2, 8, 0, 0, 0, time.UTC)
	w, err := s.Digest(bucket, "AWSLogs/", "123456789012", "main", hour, hour.Add(time.Hour), []ctdigest.Delivered{{Bucket: bucket, Key: logKey, Raw: raw}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if logContent == nil {
		logContent = raw
	}
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write(logContent)
	zw.Close()
	sum := sha256.Sum256(logContent)
	rep := ctdigest.Validate(ctdigest.Input{Keys: []ctdigest.PublicKey{s.PublicKey()},
		Digests: []ctdigest.DigestFile{{Bucket: bucket, Key: w.Key, Stored: w.Stored, Signature: w.Signature, CopyKey: run + "cloudtrail/digest/" + w.Key}},
		Logs:    []ctdigest.LogCopy{{Bucket: bucket, Key: logKey, SHA256: hex.EncodeToString(sum[:]), CopyKey: run + "cloudtrail/logs/" + logKey}}})
	vb, _ := json.Marshal(rep)
	kb, _ := json.Marshal([]ctdigest.PublicKey{s.PublicKey()})
	return map[string][]byte{
		"cloudtrail/digest/" + w.Key:         w.Stored,
		"cloudtrail/logs/" + logKey:          gz.Bytes(),
		"cloudtrail/digest-validation.json":  vb,
		"cloudtrail/digest-public-keys.json": kb,
	}, "cloudtrail/logs/" + logKey
}

// TestCloudTrailRecheck: verify re-runs CloudTrail's digest validation
// offline from the case alone and says so in one line; a CloudTrail copy
// changed, its hash rewritten in the manifest and the manifest re-signed
// (by whoever holds the seal key) still fails: CloudTrail's own signature
// does not cover it.
func TestCloudTrailRecheck(t *testing.T) {
	dir, _ := ctCase(t, nil)
	code, stdout, stderr := runMain(t, dir)
	if code != ExitOK || !strings.Contains(stdout, "cloudtrail digests: 1 digest(s), 1 log file(s): 1 valid") {
		t.Fatalf("exit %d:\n%s%s", code, stdout, stderr)
	}

	dir, logPath := ctCase(t, nil)
	forged := []byte(`{"Records":[]}`)
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write(forged)
	zw.Close()
	old, _ := os.ReadFile(logPath)
	if err := os.WriteFile(logPath, gz.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	mpath := filepath.Join(dir, "runs", run1, "manifest.json")
	m, _ := os.ReadFile(mpath)
	m = bytes.Replace(m, []byte(sum(old)), []byte(sum(gz.Bytes())), 1)
	m = bytes.Replace(m, []byte(`"size": `+itoa(len(old))), []byte(`"size": `+itoa(len(gz.Bytes()))), 1)
	if err := os.WriteFile(mpath, m, 0o600); err != nil {
		t.Fatal(err)
	}
	key, _ := testKeys(t)
	signRun(t, dir, run1, key)
	code, stdout, _ = runMain(t, dir)
	if code != ExitChanged || !strings.Contains(stdout, "valid when sealed, changed now") {
		t.Errorf("exit %d, want %d naming the changed copy:\n%s", code, ExitChanged, stdout)
	}
}

func itoa(n int) string { b, _ := json.Marshal(n); return string(b) }
