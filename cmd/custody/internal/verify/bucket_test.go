package verify

import (
	"bytes"
	"compress/gzip"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/custody-ir/custody/shared/awsconfig"
	"github.com/custody-ir/custody/shared/emulator"
	"github.com/custody-ir/custody/shared/evidence"
)

var emu *emulator.Server

func TestMain(m *testing.M) { emulator.Main(m, &emu) }

// lockedBucket resets the emulator and creates the evidence bucket as the
// stack does: versioning, Object Lock, default retention GOVERNANCE 1 day.
func lockedBucket(t *testing.T) *s3.Client {
	t.Helper()
	return emu.FreshLockedBucket(t, testBucket)
}

// sealedCase writes one run of the test case with evidence.Writer, as the
// collectors and Seal do: the evidence, a collector result (not listed),
// then the manifest. edit may change the manifest's artifacts before it is
// written. It returns the manifest as stored (key, version, SHA-256).
func sealedCase(t *testing.T, client *s3.Client, edit func([]evidence.Artifact)) (evidence.Artifact, []evidence.Artifact) {
	t.Helper()
	files := map[string][]byte{}
	for rel, body := range testFiles {
		files[rel] = []byte(body)
	}
	return sealedFiles(t, client, files, edit)
}

// sealedFiles is sealedCase with files (relative to the run folder) as
// the run's evidence.
func sealedFiles(t *testing.T, client *s3.Client, files map[string][]byte, edit func([]evidence.Artifact)) (evidence.Artifact, []evidence.Artifact) {
	t.Helper()
	ctx := context.Background()
	w := evidence.NewWriter(client, testBucket, evidence.WithTempDir(t.TempDir()))
	meta := func(src string) evidence.PutMeta {
		return evidence.PutMeta{Source: src, API: "test:Put", Collector: "test", CollectorVersion: "devel"}
	}
	var arts []evidence.Artifact
	caseKey, _ := evidence.CaseKey(testCase)
	a, err := w.Put(ctx, caseKey, strings.NewReader(`{"caseId":"`+testCase+`"}`), meta(evidence.SourceCase))
	if err != nil {
		t.Fatalf("put %s: %v", caseKey, err)
	}
	arts = append(arts, a)
	for rel, body := range files {
		key := "cases/" + testCase + "/runs/" + run1 + "/" + rel
		src := evidence.SourceCase
		if s, _, ok := strings.Cut(rel, "/"); ok && evidence.ValidSource(s) {
			src = s
		}
		a, err := w.Put(ctx, key, bytes.NewReader(body), meta(src))
		if err != nil {
			t.Fatalf("put %s: %v", key, err)
		}
		if !strings.HasPrefix(rel, "results/") {
			arts = append(arts, a)
		}
	}
	if edit != nil {
		edit(arts)
	}
	mkey, _ := evidence.ManifestKey(testCase, run1)
	m, err := w.Put(ctx, mkey, bytes.NewReader(testManifest(t, run1, arts)), evidence.PutMeta{
		Source: evidence.SourceCase, API: "custody:Seal", Collector: "seal", CollectorVersion: "devel"})
	if err != nil {
		t.Fatalf("put manifest: %v", err)
	}
	key, _ := testKeys(t)
	for name, b := range sealFiles(t, key, run1, testManifest(t, run1, arts), m.VersionID) {
		if _, err := w.Put(ctx, keyOf(name), bytes.NewReader(b), evidence.PutMeta{
			Source: evidence.SourceCase, API: "kms:Sign", Collector: "seal", CollectorVersion: "devel"}); err != nil {
			t.Fatalf("put %s: %v", name, err)
		}
	}
	return m, arts
}

func keyOf(rel string) string { return "cases/" + testCase + "/runs/" + run1 + "/" + rel }

func TestBucket(t *testing.T) {
	ctx := context.Background()
	overwrite := func(t *testing.T, c *s3.Client, key, body string) {
		w := evidence.NewWriter(c, testBucket, evidence.WithTempDir(t.TempDir()))
		if _, err := w.Put(ctx, key, strings.NewReader(body), evidence.PutMeta{Source: evidence.SourceVPCFlow, API: "test:Put",
			Collector: "intruder", CollectorVersion: "1", Overwrite: true}); err != nil {
			t.Fatalf("overwrite %s: %v", key, err)
		}
	}
	cases := []struct {
		name string
		// edit changes the manifest's artifacts before Seal writes it.
		edit func([]evidence.Artifact)
		// after tampers with the bucket and returns extra arguments.
		after func(t *testing.T, c *s3.Client, m evidence.Artifact) []string
		code  int
		out   string
	}{
		{"clean case verifies", nil, nil, ExitOK, "case " + testCase + " verifies: 1 run(s), 8 artifact(s) intact"},
		{"the announced manifest", nil, func(t *testing.T, c *s3.Client, m evidence.Artifact) []string {
			return []string{"-manifest-sha256", m.SHA256, "-manifest-version", m.VersionID}
		}, ExitOK, "verifies"},
		{"a new version written over an artifact", nil, func(t *testing.T, c *s3.Client, m evidence.Artifact) []string {
			overwrite(t, c, keyOf("vpcflow/eni-0a1b2c3d4e5f60718.gz"), "tampered")
			return nil
		}, ExitUnlisted, "over a listed artifact (8 bytes"},
		{"a delete marker over an artifact", nil, func(t *testing.T, c *s3.Client, m evidence.Artifact) []string {
			if _, err := c.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String(testBucket), Key: aws.String(keyOf("guardduty/finding.json"))}); err != nil {
				t.Fatalf("DeleteObject: %v", err)
			}
			return nil
		}, ExitUnlisted, "a delete marker over a listed artifact"},
		{"an extra object", nil, func(t *testing.T, c *s3.Client, m evidence.Artifact) []string {
			overwrite(t, c, keyOf("vpcflow/planted.gz"), "planted")
			return nil
		}, ExitUnlisted, "planted.gz (version "},
		{"a version the manifest names is missing", func(arts []evidence.Artifact) {
			arts[2].VersionID = "00000000-0000-0000-0000-000000000000"
		}, nil, ExitMissing, "no such object version"},
		{"an artifact whose bytes are not the manifest's", func(arts []evidence.Artifact) {
			arts[1].SHA256 = strings.Repeat("0", 64)
		}, nil, ExitChanged, "changed: "},
		{"the manifest's SHA-256 is not the announced one", nil, func(t *testing.T, c *s3.Client, m evidence.Artifact) []string {
			return []string{"-manifest-sha256", strings.Repeat("ab", 32)}
		}, ExitManifest, "Seal announced " + strings.Repeat("ab", 32)},
		{"the announced manifest version does not exist", nil, func(t *testing.T, c *s3.Client, m evidence.Artifact) []string {
			return []string{"-manifest-version", "00000000-0000-0000-0000-000000000000"}
		}, ExitManifest, "no such version"},
		{"a second manifest written over the sealed one", nil, func(t *testing.T, c *s3.Client, m evidence.Artifact) []string {
			overwrite(t, c, m.Key, string(testManifest(t, run1, nil)))
			return []string{"-manifest-sha256", m.SHA256, "-manifest-version", m.VersionID, "-run", run1}
		}, ExitManifest, "the manifest has 2 versions"},
		{"a run without a manifest", nil, func(t *testing.T, c *s3.Client, m evidence.Artifact) []string {
			overwrite(t, c, "cases/"+testCase+"/runs/"+run2+"/run.json", "{}")
			return nil
		}, ExitMissing, "FAIL run " + run2 + ": no manifest"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			client := lockedBucket(t)
			m, _ := sealedCase(t, client, c.edit)
			var extra []string
			if c.after != nil {
				extra = c.after(t, client, m)
			}
			var stdout, stderr bytes.Buffer
			args := append(extra, "s3://"+testBucket+"/cases/"+testCase)
			code := Main(ctx, args, &stdout, &stderr, func(context.Context) (BucketAPI, error) { return client, nil })
			t.Logf("custody verify %s: exit %d\n%s", strings.Join(args, " "), code, stdout.String())
			if code != c.code {
				t.Errorf("exit %d, want %d\nstdout:\n%s\nstderr:\n%s", code, c.code, stdout.String(), stderr.String())
			}
			if !strings.Contains(stdout.String(), c.out) {
				t.Errorf("stdout lacks %q:\n%s", c.out, stdout.String())
			}
		})
	}
}

// A version whose retention has run out is intact but unlocked.
func TestBucketUnlocked(t *testing.T) {
	ctx := context.Background()
	client := lockedBucket(t)
	_, arts := sealedCase(t, client, nil)
	a := arts[1]
	_, err := client.PutObjectRetention(ctx, &s3.PutObjectRetentionInput{
		Bucket: aws.String(testBucket), Key: aws.String(a.Key), VersionId: aws.String(a.VersionID),
		BypassGovernanceRetention: aws.Bool(true), ChecksumAlgorithm: types.ChecksumAlgorithmSha256,
		Retention: &types.ObjectLockRetention{Mode: types.ObjectLockRetentionModeGovernance, RetainUntilDate: aws.Time(time.Now().Add(-time.Hour))},
	})
	if err != nil {
		t.Fatalf("PutObjectRetention: %v", err)
	}
	res, err := Bucket(ctx, client, testBucket, testCase, Announced{}, Trust{})
	if err != nil {
		t.Fatal(err)
	}
	if res.Code() != ExitUnlocked || len(res.Runs) != 1 || len(res.Runs[0].Report.Unlocked) != 1 || res.Runs[0].Report.Unlocked[0].Key != a.Key {
		t.Errorf("exit %d, runs %+v", res.Code(), res.Runs)
	}
}

func TestBucketSetupError(t *testing.T) {
	client := s3.NewFromConfig(emu.Fresh(t), awsconfig.S3Options) // no bucket at all
	var stdout, stderr bytes.Buffer
	code := Main(context.Background(), []string{"s3://no-such-bucket/cases/" + testCase}, &stdout, &stderr,
		func(context.Context) (BucketAPI, error) { return client, nil })
	if code != ExitSetup || !strings.Contains(stderr.String(), "list versions") {
		t.Errorf("exit %d, stderr %q; want %d", code, stderr.String(), ExitSetup)
	}
}

// TestBucketCloudTrailRecheck: an s3:// verify re-runs CloudTrail's digest
// validation on the versions the manifest lists, as a local one does: a
// sealed case passes with the same line; a copy replaced, its hash
// rewritten in a re-signed manifest, fails on CloudTrail's own signature.
func TestBucketCloudTrailRecheck(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		name   string
		forge  bool
		code   int
		stdout string
	}{
		{"sealed", false, ExitOK, "cloudtrail digests: 1 digest(s), 1 log file(s): 1 valid"},
		{"a copy forged, the manifest re-signed", true, ExitChanged, "valid when sealed, changed now"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			client := lockedBucket(t)
			files, logRel := ctFiles(t, nil)
			if tc.forge {
				var gz bytes.Buffer
				zw := gzip.NewWriter(&gz)
				zw.Write([]byte(`{"Records":[]}`))
				zw.Close()
				files[logRel] = gz.Bytes()
			}
			sealedFiles(t, client, files, nil)
			var stdout, stderr bytes.Buffer
			code := Main(ctx, []string{"s3://" + testBucket + "/cases/" + testCase}, &stdout, &stderr,
				func(context.Context) (BucketAPI, error) { return client, nil })
			if code != tc.code || !strings.Contains(stdout.String(), tc.stdout) {
				t.Errorf("exit %d, want %d with %q:\n%s%s", code, tc.code, tc.stdout, stdout.String(), stderr.String())
			}
		})
	}
}
