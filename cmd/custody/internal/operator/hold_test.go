package operator

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials/stscreds"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/aws-sdk-go-v2/service/sts"

	"github.com/custody-ir/custody/shared/awsconfig"
	"github.com/custody-ir/custody/shared/evidence"
)

// legalHolds reads every version's legal hold under the case with
// GetObjectLegalHold (which moto implements, as it does
// PutObjectLegalHold): status -> versions.
func legalHolds(t *testing.T, client *s3.Client) map[string]int {
	t.Helper()
	ctx := context.Background()
	prefix, _ := evidence.CasePrefix(testCase)
	got := map[string]int{}
	p := s3.NewListObjectVersionsPaginator(client, &s3.ListObjectVersionsInput{Bucket: aws.String(testBucket), Prefix: aws.String(prefix)})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, v := range page.Versions {
			out, err := client.GetObjectLegalHold(ctx, &s3.GetObjectLegalHoldInput{Bucket: aws.String(testBucket), Key: v.Key, VersionId: v.VersionId})
			status := "none"
			if err == nil && out.LegalHold != nil {
				status = string(out.LegalHold.Status)
			}
			got[status]++
		}
	}
	return got
}

// TestHold: hold puts a legal hold on every version of the case (a second
// version of one object too), says what it did, changes nothing the second
// time; -release is refused to anyone but the break-glass role, and done
// by it.
func TestHold(t *testing.T) {
	ctx := context.Background()
	cfg := emu.Fresh(t)
	seedCase(t, cfg)
	hubStack(t, cfg, "arn:aws:states:us-east-1:123456789012:stateMachine:unused")
	client := s3.NewFromConfig(cfg, awsconfig.S3Options)
	// A second version of case.json (case.json is rewritten by later runs).
	caseKey, _ := evidence.CaseKey(testCase)
	if _, err := client.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(testBucket), Key: aws.String(caseKey),
		Body: strings.NewReader(`{"v":2}`), ChecksumAlgorithm: s3types.ChecksumAlgorithmSha256}); err != nil {
		t.Fatal(err)
	}
	const versions = 11 // case.json twice, 4 objects in each of 2 runs, 1 manifest
	// The break-glass role's session (moto's AssumeRole takes any role).
	glass := cfg.Copy()
	glass.Credentials = aws.NewCredentialsCache(stscreds.NewAssumeRoleProvider(sts.NewFromConfig(cfg), "arn:aws:iam::123456789012:role/"+DefaultBreakGlassRole))
	loadOf := func(c aws.Config) LoadConfig { return func(context.Context) (aws.Config, error) { return c, nil } }

	for _, tc := range []struct {
		name  string
		load  LoadConfig
		args  []string
		code  int
		out   string
		holds map[string]int
	}{
		{"hold, bucket from the stack output", loadOf(cfg), []string{testCase}, ExitOK,
			"11 object version(s): 11 held now, 0 already held, 0 failed", map[string]int{"ON": versions}},
		{"hold again: nothing to do", loadOf(cfg), []string{"-bucket", testBucket, testCase}, ExitOK,
			"11 object version(s): 0 held now, 11 already held", map[string]int{"ON": versions}},
		{"release by the operator: refused", loadOf(cfg), []string{"-release", "-bucket", testBucket, testCase}, ExitRefused,
			"is not the break-glass role " + DefaultBreakGlassRole, map[string]int{"ON": versions}},
		{"release by break-glass", loadOf(glass), []string{"-release", "-bucket", testBucket, testCase}, ExitOK,
			"11 object version(s): 11 released now", map[string]int{"OFF": versions}},
		{"no such case", loadOf(cfg), []string{"-bucket", testBucket, "gd-none"}, ExitUsage, "no case gd-none", nil},
		{"an unsafe case ID", loadOf(cfg), []string{"-bucket", testBucket, ".."}, ExitUsage, "case ID", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			code := Hold(ctx, tc.args, tc.load, &stdout, &stderr)
			got := stdout.String() + stderr.String()
			if code != tc.code || !strings.Contains(got, tc.out) {
				t.Errorf("code %d, want %d with %q:\n%s", code, tc.code, tc.out, got)
			}
			if tc.holds != nil {
				if h := legalHolds(t, client); len(h) != len(tc.holds) || h["ON"] != tc.holds["ON"] || h["OFF"] != tc.holds["OFF"] {
					t.Errorf("legal holds %v, want %v", h, tc.holds)
				}
			}
		})
	}
}

func TestIsRole(t *testing.T) {
	for _, tc := range []struct {
		caller string
		want   bool
	}{
		{"arn:aws:sts::123456789012:assumed-role/CustodyBreakGlass/alice", true},
		{"arn:aws:iam::123456789012:role/CustodyBreakGlass", true},
		{"arn:aws:iam::123456789012:role/ops/CustodyBreakGlass", true},
		{"arn:aws:sts::123456789012:assumed-role/CustodyInvestigator/alice", false},
		{"arn:aws:iam::123456789012:user/CustodyBreakGlass", false},
		{"arn:aws:sts::123456789012:assumed-role/CustodyBreakGlassNot/x", false},
		{"not an arn", false},
	} {
		if got := isRole(tc.caller, DefaultBreakGlassRole); got != tc.want {
			t.Errorf("isRole(%q) = %v, want %v", tc.caller, got, tc.want)
		}
	}
}

// TestHeldVersionIsNotDeleted: what the hold is for. A held version
// refuses deletion even with the governance bypass that the retention
// alone would give way to (the emulator enforces the hold as S3 does).
func TestHeldVersionIsNotDeleted(t *testing.T) {
	ctx := context.Background()
	cfg := emu.Fresh(t)
	seedCase(t, cfg)
	client := s3.NewFromConfig(cfg, awsconfig.S3Options)
	caseKey, _ := evidence.CaseKey(testCase)
	head, err := client.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(testBucket), Key: aws.String(caseKey)})
	if err != nil {
		t.Fatal(err)
	}
	// The control: unheld, the bypass deletes a version.
	inputKey, _ := evidence.InputKey(testCase, openRun)
	in, err := client.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(testBucket), Key: aws.String(inputKey)})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := client.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String(testBucket), Key: aws.String(inputKey),
		VersionId: in.VersionId, BypassGovernanceRetention: aws.Bool(true)}); err != nil {
		t.Fatalf("control: the bypass did not delete an unheld version: %v", err)
	}
	var stdout, stderr bytes.Buffer
	if code := Hold(ctx, []string{"-bucket", testBucket, testCase}, func(context.Context) (aws.Config, error) { return cfg, nil }, &stdout, &stderr); code != ExitOK {
		t.Fatalf("hold: %d %s", code, stderr.String())
	}
	if _, err := client.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String(testBucket), Key: aws.String(caseKey),
		VersionId: head.VersionId, BypassGovernanceRetention: aws.Bool(true)}); err == nil {
		t.Error("a held version was deleted")
	}
}
