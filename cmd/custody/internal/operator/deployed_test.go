package operator

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudformation"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/aws-sdk-go-v2/service/sfn"

	"github.com/custody-ir/custody/shared/awsconfig"
	"github.com/custody-ir/custody/shared/emulator"
	"github.com/custody-ir/custody/shared/evidence"
)

const (
	testBucket = "custody-evidencebucket-test"
	testCase   = "gd-16afba5c5c43e07c9e3e5e2e544e95df"
	sealedRun  = "r20240802T083112824Z"
	openRun    = "r20240803T090000000Z"
)

// seedCase lays out a case in a locked bucket as Triage, a collector and
// Seal do (shared/evidence's keys): one sealed run, one still open.
func seedCase(t *testing.T, cfg aws.Config) {
	t.Helper()
	ctx := context.Background()
	client := s3.NewFromConfig(cfg, awsconfig.S3Options)
	if err := emulator.LockedBucket(ctx, client, testBucket); err != nil {
		t.Fatal(err)
	}
	manifest, err := json.Marshal(evidence.Manifest{SchemaVersion: "1", CaseID: testCase, RunID: sealedRun, Status: "complete", Bucket: testBucket,
		Finding:   &evidence.ManifestFinding{ID: "16afba5c5c43e07c9e3e5e2e544e95df", Type: "UnauthorizedAccess:EC2/SSHBruteForce", Severity: 5, AccountID: "123456789012", Region: "us-east-1"},
		Window:    evidence.ManifestWindow{Start: time.Date(2024, 8, 2, 2, 0, 0, 0, time.UTC), End: time.Date(2024, 8, 2, 9, 0, 0, 0, time.UTC)},
		Gaps:      []evidence.Gap{{Source: "iam", Reason: "Access Advisor not implemented", Fix: "-"}},
		Artifacts: []evidence.Artifact{{Key: "cases/" + testCase + "/runs/" + sealedRun + "/ec2/instance.json", Source: "ec2", SHA256: "00"}},
		SealedAt:  time.Date(2024, 8, 2, 9, 30, 0, 0, time.UTC)})
	if err != nil {
		t.Fatal(err)
	}
	keys := map[string]string{}
	put := func(key string, err error, body string) {
		if err != nil {
			t.Fatal(err)
		}
		keys[key] = body
	}
	k, err := evidence.CaseKey(testCase)
	put(k, err, `{"caseId":"`+testCase+`"}`)
	for _, run := range []string{sealedRun, openRun} {
		k, err = evidence.RunMarkerKey(testCase, run)
		put(k, err, `{}`)
		k, err = evidence.InputKey(testCase, run)
		put(k, err, `{}`)
		k, err = evidence.ResultKey(testCase, run, "ec2")
		put(k, err, `{}`)
		k, err = evidence.ArtifactKey(testCase, run, "ec2", "instance.json")
		put(k, err, `{"InstanceId":"i-0123456789abcdef0"}`)
	}
	k, err = evidence.ManifestKey(testCase, sealedRun)
	put(k, err, string(manifest))
	for key, body := range keys {
		if _, err := client.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(testBucket), Key: aws.String(key), Body: strings.NewReader(body),
			ChecksumAlgorithm: s3types.ChecksumAlgorithmSha256}); err != nil {
			t.Fatal(err)
		}
	}
}

// hubStack creates a stand-in Custody stack whose outputs name the bucket
// and the state machine, as the real stack's do.
func hubStack(t *testing.T, cfg aws.Config, machine string) {
	t.Helper()
	tpl := `{"Resources":{"Handle":{"Type":"AWS::CloudFormation::WaitConditionHandle"}},"Outputs":{` +
		`"EvidenceBucketName":{"Value":"` + testBucket + `"},"StateMachineArn":{"Value":"` + machine + `"}}}`
	if _, err := cloudformation.NewFromConfig(cfg).CreateStack(context.Background(), &cloudformation.CreateStackInput{StackName: aws.String(HubStack), TemplateBody: aws.String(tpl)}); err != nil {
		t.Fatal(err)
	}
}

func TestCases(t *testing.T) {
	cfg := emu.Fresh(t)
	seedCase(t, cfg)
	hubStack(t, cfg, "arn:aws:states:us-east-1:123456789012:stateMachine:unused")
	load := func(context.Context) (aws.Config, error) { return cfg, nil }
	out := t.TempDir()
	for _, tc := range []struct {
		name string
		args []string
		code int
		want []string
	}{
		{"list, bucket from the stack output", []string{"list"}, ExitOK, []string{testCase + "  " + sealedRun + "  complete  UnauthorizedAccess:EC2/SSHBruteForce  2024-08-02T09:30:00Z  1", openRun + "  open"}},
		{"list -json", []string{"list", "-bucket", testBucket, "-json"}, ExitOK, []string{`"status": "complete"`, `"status": "open"`}},
		{"show", []string{"show", "-bucket", testBucket, testCase}, ExitOK, []string{"gap iam: Access Advisor not implemented", "window 2024-08-02T02:00:00Z"}},
		{"download", []string{"download", "-bucket", testBucket, "-out", out, testCase}, ExitOK, []string{"downloaded 10 files", "custody verify " + filepath.Join(out, testCase)}},
		{"no such case", []string{"show", "-bucket", testBucket, "gd-none"}, ExitUsage, []string{"no case gd-none"}},
		{"an unsafe case ID", []string{"show", "-bucket", testBucket, ".."}, ExitUsage, []string{"case ID"}},
		{"no verb", nil, ExitUsage, []string{"usage"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			code := Cases(context.Background(), tc.args, load, &stdout, &stderr)
			got := stdout.String() + stderr.String()
			if code != tc.code {
				t.Errorf("code %d, want %d:\n%s", code, tc.code, got)
			}
			for _, w := range tc.want {
				if !strings.Contains(got, w) {
					t.Errorf("output lacks %q:\n%s", w, got)
				}
			}
		})
	}
	b, err := os.ReadFile(filepath.Join(out, testCase, "runs", sealedRun, "manifest.json"))
	if err != nil || !bytes.Contains(b, []byte(`"status":"complete"`)) {
		t.Errorf("downloaded manifest: %v %s", err, b)
	}
}

func TestStart(t *testing.T) {
	cfg := emu.Fresh(t)
	ctx := context.Background()
	client := sfn.NewFromConfig(cfg)
	sm, err := client.CreateStateMachine(ctx, &sfn.CreateStateMachineInput{Name: aws.String("custody"), RoleArn: aws.String("arn:aws:iam::123456789012:role/custody-states"),
		Definition: aws.String(`{"StartAt":"Triage","States":{"Triage":{"Type":"Pass","End":true}}}`)})
	if err != nil {
		t.Fatal(err)
	}
	arn := aws.ToString(sm.StateMachineArn)
	hubStack(t, cfg, arn)
	load := func(context.Context) (aws.Config, error) { return cfg, nil }
	for _, tc := range []struct {
		name  string
		args  []string
		code  int
		input string // what the execution receives ("" when nothing starts)
	}{
		{"by finding ID", []string{"-finding-id", "16afba5c5c43e07c9e3e5e2e544e95df", "-detector-id", "3caf4e0aaa46ce4ccbcef949a8785353"}, ExitOK,
			`{"detectorId":"3caf4e0aaa46ce4ccbcef949a8785353","findingId":"16afba5c5c43e07c9e3e5e2e544e95df"}`},
		{"by resource and window", []string{"-state-machine", arn, "-resource-type", "Instance", "-resource-id", "i-0123456789abcdef0", "-start", "2024-05-01T10:00:00Z", "-end", "2024-05-01T18:00:00Z", "-reason", "drill"}, ExitOK,
			`{"reason":"drill","resource":{"id":"i-0123456789abcdef0","type":"Instance"},"window":{"end":"2024-05-01T18:00:00Z","start":"2024-05-01T10:00:00Z"}}`},
		{"from a file", []string{"-input", root("docs", "examples", "manual-bucket.json")}, ExitOK, "FILE"},
		{"refused before anything starts", []string{"-resource-type", "Instance", "-resource-id", "i-0123456789abcdef0", "-start", "yesterday", "-end", "today"}, ExitRejected, ""},
		{"no form", nil, ExitUsage, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before, err := client.ListExecutions(ctx, &sfn.ListExecutionsInput{StateMachineArn: aws.String(arn)})
			if err != nil {
				t.Fatal(err)
			}
			var stdout, stderr bytes.Buffer
			code := Start(ctx, tc.args, load, &stdout, &stderr)
			if code != tc.code {
				t.Fatalf("code %d, want %d: %s%s", code, tc.code, stdout.String(), stderr.String())
			}
			after, err := client.ListExecutions(ctx, &sfn.ListExecutionsInput{StateMachineArn: aws.String(arn)})
			if err != nil {
				t.Fatal(err)
			}
			if tc.input == "" {
				if len(after.Executions) != len(before.Executions) {
					t.Errorf("an execution started")
				}
				return
			}
			if len(after.Executions) != len(before.Executions)+1 {
				t.Fatalf("%d executions, want %d", len(after.Executions), len(before.Executions)+1)
			}
			line, _, _ := strings.Cut(strings.TrimPrefix(stdout.String(), "started  "), "\n")
			d, err := client.DescribeExecution(ctx, &sfn.DescribeExecutionInput{ExecutionArn: aws.String(line)})
			if err != nil {
				t.Fatal(err)
			}
			want := tc.input
			if want == "FILE" {
				b, _ := os.ReadFile(tc.args[1])
				want = string(b)
			}
			if aws.ToString(d.Input) != want {
				t.Errorf("the execution's input = %s, want %s", aws.ToString(d.Input), want)
			}
		})
	}
}
