package readiness

import (
	"bytes"
	"context"
	"flag"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudformation"
	"github.com/aws/aws-sdk-go-v2/service/cloudtrail"
	cttypes "github.com/aws/aws-sdk-go-v2/service/cloudtrail/types"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/guardduty"
	gdtypes "github.com/aws/aws-sdk-go-v2/service/guardduty/types"
	"github.com/aws/aws-sdk-go-v2/service/inspector2"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/custody-ir/custody/shared/awsconfig"
	"github.com/custody-ir/custody/shared/emulator"
	"github.com/custody-ir/custody/shared/scenario"
)

var update = flag.Bool("update", false, "rewrite the golden files")

var emu *emulator.Server

func TestMain(m *testing.M) { emulator.Main(m, &emu) }

// documentedShape serves a testdata file at path, as the service would
// answer it, for a real SDK client (testdata/README.md: the shapes).
func documentedShape(t *testing.T, path, file string) string {
	t.Helper()
	body, err := os.ReadFile(filepath.Join("testdata", file))
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != path {
			http.Error(w, `{"message":"unexpected `+r.URL.Path+`"}`, http.StatusNotFound)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.Write(body)
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

// documentedInspectorStatus answers Inspector2 BatchGetAccountStatus, which
// the emulator lacks.
func documentedInspectorStatus(t *testing.T, file string) InspectorReader {
	url := documentedShape(t, "/status/batch/get", file)
	return inspector2.New(inspector2.Options{Region: "us-east-1", BaseEndpoint: aws.String(url), Credentials: aws.AnonymousCredentials{}})
}

// membersFromDocumentedShape is the emulator's GuardDuty but for
// ListMembers (the emulator answers 404), answered from testdata.
type membersFromDocumentedShape struct {
	DetectorReader
	members *guardduty.Client
}

func (m membersFromDocumentedShape) ListMembers(ctx context.Context, in *guardduty.ListMembersInput, opts ...func(*guardduty.Options)) (*guardduty.ListMembersOutput, error) {
	return m.members.ListMembers(ctx, in, opts...)
}

// TestGuardDutyMembers: at the hub, each member given must be an enabled
// member of its detector.
func TestGuardDutyMembers(t *testing.T) {
	ctx := context.Background()
	cfg := emu.Fresh(t)
	gd := guardduty.NewFromConfig(cfg)
	d, err := gd.CreateDetector(ctx, &guardduty.CreateDetectorInput{Enable: aws.Bool(true)})
	if err != nil {
		t.Fatal(err)
	}
	url := documentedShape(t, "/detector/"+aws.ToString(d.DetectorId)+"/member", "guardduty-list-members.json")
	clients := NewClients(cfg)
	clients.Detectors = membersFromDocumentedShape{DetectorReader: gd,
		members: guardduty.New(guardduty.Options{Region: "us-east-1", BaseEndpoint: aws.String(url), Credentials: aws.AnonymousCredentials{}})}
	for _, tc := range []struct {
		members []string
		status  Status
		detail  string
	}{
		{[]string{"111111111111"}, Pass, "1 members enabled"},
		{[]string{"111111111111", "222222222222", "333333333333"}, Fail, "not enabled: 222222222222 (Invited), 333333333333 (not a member)"},
	} {
		r := Audit(ctx, Options{Organization: true, Members: tc.members}, []Target{{Account: "123456789012", Region: cfg.Region, Clients: clients}})
		var got *Result
		for i := range r.Results {
			if r.Results[i].ID == "guardduty.members" {
				got = &r.Results[i]
			}
		}
		if got == nil || got.Status != tc.status || got.Detail != tc.detail {
			t.Errorf("members %v: %+v, want %s %q", tc.members, got, tc.status, tc.detail)
		}
	}
}

// seedAccount applies testdata/seed and what a seed folder cannot say:
// the trail's event selectors, a GuardDuty detector with S3 protection
// only, a table without a stream.
func seedAccount(t *testing.T) aws.Config {
	t.Helper()
	ctx := context.Background()
	cfg := emu.Fresh(t)
	sc, err := scenario.Load("testdata/seed")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := scenario.Apply(ctx, cfg, emu.Endpoint, sc, "testdata/seed"); err != nil {
		t.Fatal(err)
	}
	if _, err := cloudtrail.NewFromConfig(cfg).PutEventSelectors(ctx, &cloudtrail.PutEventSelectorsInput{
		TrailName: aws.String("main"),
		EventSelectors: []cttypes.EventSelector{{ReadWriteType: cttypes.ReadWriteTypeAll, IncludeManagementEvents: aws.Bool(true),
			DataResources: []cttypes.DataResource{{Type: aws.String("AWS::S3::Object"), Values: []string{"arn:aws:s3"}}}}},
	}); err != nil {
		t.Fatal(err)
	}
	gd := guardduty.NewFromConfig(cfg)
	if _, err := gd.CreateDetector(ctx, &guardduty.CreateDetectorInput{Enable: aws.Bool(true),
		Features: []gdtypes.DetectorFeatureConfiguration{
			{Name: gdtypes.DetectorFeatureS3DataEvents, Status: gdtypes.FeatureStatusEnabled},
			{Name: gdtypes.DetectorFeatureEksAuditLogs, Status: gdtypes.FeatureStatusDisabled},
		}}); err != nil {
		t.Fatal(err)
	}
	if _, err := dynamodb.NewFromConfig(cfg).CreateTable(ctx, &dynamodb.CreateTableInput{TableName: aws.String("plain"),
		KeySchema:            []ddbtypes.KeySchemaElement{{AttributeName: aws.String("id"), KeyType: ddbtypes.KeyTypeHash}},
		AttributeDefinitions: []ddbtypes.AttributeDefinition{{AttributeName: aws.String("id"), AttributeType: ddbtypes.ScalarAttributeTypeS}},
		BillingMode:          ddbtypes.BillingModePayPerRequest}); err != nil {
		t.Fatal(err)
	}
	return cfg
}

// TestAuditSeededAccount: the seeded account reports exactly the sources
// it left off, each with its Prowler ID where Prowler has one.
func TestAuditSeededAccount(t *testing.T) {
	cfg := seedAccount(t)
	clients := NewClients(cfg)
	clients.Inspector = documentedInspectorStatus(t, "inspector2-account-status.json")
	r := Audit(context.Background(), Options{Lookback: 72 * time.Hour, Tables: []string{"orders", "plain"}, DataBuckets: []string{"data"}},
		[]Target{{Account: "123456789012", Region: cfg.Region, Buckets: true, Clients: clients}})

	want := []struct {
		check   string
		status  Status
		prowler string
		detail  string // a part of the detail
	}{
		{"cloudtrail.trail", Pass, "cloudtrail_multi_region_enabled", "main (multi-region, s3://trail-logs)"},
		{"cloudtrail.managementEvents", Pass, "cloudtrail_multi_region_enabled_logging_management_events", "main (read and write)"},
		{"cloudtrail.s3DataEvents", Pass, "cloudtrail_s3_dataevents_read_enabled, cloudtrail_s3_dataevents_write_enabled", "main"},
		{"cloudtrail.lambdaDataEvents", Fail, "", "not selected by main"},
		{"cloudtrail.logsReadable", Pass, "", "read one log file of main (s3:GetObject)"},
		{"cloudtrail.logFileValidation", Fail, "cloudtrail_log_file_validation_enabled", "no digest files: main"},
		{"vpc.flowLogs", Fail, "vpc_flow_logs_enabled", "(dev)"},
		{"s3.accessLogging", Fail, "s3_bucket_server_access_logging_enabled", "no access logging: unlogged"},
		{"logs.retention", Fail, "cloudwatch_log_group_retention_policy_specific_days_enabled", "/app/short (1 days)"},
		{"guardduty.enabled", Pass, "guardduty_is_enabled", "detector "},
		{"guardduty.protection", Fail, "guardduty_s3_protection_enabled, guardduty_eks_audit_log_enabled, guardduty_ec2_malware_protection_enabled, guardduty_lambda_protection_enabled, guardduty_rds_protection_enabled", "EKS_AUDIT_LOGS"},
		{"dynamodb.streams", Fail, "", "no stream: plain"},
		{"inspector.enabled", Fail, "inspector2_is_enabled", "not scanning: LAMBDA"},
	}
	var text bytes.Buffer
	if err := r.WriteText(&text); err != nil {
		t.Fatal(err)
	}
	t.Log("\n" + text.String())
	if len(r.Results) != len(want) {
		t.Fatalf("%d results, want %d:\n%s", len(r.Results), len(want), text.String())
	}
	for i, w := range want {
		got := r.Results[i]
		if got.ID != w.check || got.Status != w.status || got.Prowler != w.prowler || !strings.Contains(got.Detail, w.detail) {
			t.Errorf("result %d = %s %s %q (%s), want %s %s %q containing %q", i, got.ID, got.Status, got.Prowler, got.Detail, w.check, w.status, w.prowler, w.detail)
		}
		if got.Status == Fail && (got.Lacks == "" || got.FixCLI == "" || got.FixCDK == "") {
			t.Errorf("%s fails without what it lacks and its fix", got.ID)
		}
	}
	if strings.Contains(r.Results[6].Detail, "(prod)") {
		t.Errorf("vpc.flowLogs names prod, which has a flow log: %s", r.Results[6].Detail)
	}
}

// TestEvidenceBucket: custody's own bucket, as an emulator deploy leaves
// it (no lock, policy or encryption) and as the stack makes it.
func TestEvidenceBucket(t *testing.T) {
	ctx := context.Background()
	cfg := emu.Fresh(t)
	client := s3.NewFromConfig(cfg, awsconfig.S3Options)
	if _, err := client.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("dropped")}); err != nil {
		t.Fatal(err)
	}
	if err := emulator.LockedBucket(ctx, client, "locked"); err != nil {
		t.Fatal(err)
	}
	if err := emulator.LockedBucket(ctx, client, "stack"); err != nil {
		t.Fatal(err)
	}
	if _, err := client.PutBucketPolicy(ctx, &s3.PutBucketPolicyInput{Bucket: aws.String("stack"), Policy: aws.String(`{"Version":"2012-10-17","Statement":[` +
		`{"Sid":"NoDelete","Effect":"Deny","Principal":"*","Action":["s3:DeleteObject","s3:DeleteObjectVersion"],"Resource":"arn:aws:s3:::stack/*"}]}`)}); err != nil {
		t.Fatal(err)
	}
	if _, err := client.PutBucketEncryption(ctx, &s3.PutBucketEncryptionInput{Bucket: aws.String("stack"), ServerSideEncryptionConfiguration: &s3types.ServerSideEncryptionConfiguration{
		Rules: []s3types.ServerSideEncryptionRule{{ApplyServerSideEncryptionByDefault: &s3types.ServerSideEncryptionByDefault{SSEAlgorithm: s3types.ServerSideEncryptionAwsKms, KMSMasterKeyID: aws.String("alias/custody")}}}}}); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		bucket string
		status Status
		detail string
	}{
		{"dropped", Fail, "lacks Object Lock, the bucket policy's deny of s3:DeleteObjectVersion, SSE-KMS"},
		{"locked", Fail, "lacks the bucket policy's deny of s3:DeleteObjectVersion, SSE-KMS"},
		{"stack", Pass, "stack: lock GOVERNANCE 1 days, policy, SSE-KMS"},
	} {
		t.Run(tc.bucket, func(t *testing.T) {
			a := &auditor{opts: Options{EvidenceBucket: tc.bucket}, t: Target{Account: "123456789012", Region: cfg.Region}, c: NewClients(cfg)}
			a.evidenceBucket(ctx)
			if len(a.out) != 1 || a.out[0].Status != tc.status || !strings.Contains(a.out[0].Detail, tc.detail) {
				t.Errorf("%+v, want %s containing %q", a.out, tc.status, tc.detail)
			}
		})
	}
}

// TestOrganizationChecks: with the organization deployment, the hub's
// delegated administrator and each member's stack, before and after.
func TestOrganizationChecks(t *testing.T) {
	ctx := context.Background()
	cfg := emu.Fresh(t)
	audit := func(member bool) map[string]Result {
		r := Audit(ctx, Options{Organization: true}, []Target{{Account: "123456789012", Region: cfg.Region, Member: member, Clients: NewClients(cfg)}})
		out := map[string]Result{}
		for _, x := range r.Results {
			out[x.ID] = x
		}
		return out
	}
	before := func(t *testing.T) {}
	for _, tc := range []struct {
		name   string
		member bool
		setup  func(t *testing.T)
		check  string
		status Status
		detail string
	}{
		{"no delegated administrator", false, before, "guardduty.delegatedAdmin", Fail, "no delegated administrator"},
		{"delegated administrator", false, func(t *testing.T) {
			if _, err := guardduty.NewFromConfig(cfg).EnableOrganizationAdminAccount(ctx, &guardduty.EnableOrganizationAdminAccountInput{AdminAccountId: aws.String("111111111111")}); err != nil {
				t.Fatal(err)
			}
		}, "guardduty.delegatedAdmin", Pass, "delegated administrator 111111111111"},
		{"no member stack", true, before, "custody.memberStack", Fail, "no stack CustodyMember"},
		{"member stack", true, func(t *testing.T) {
			if _, err := cloudformation.NewFromConfig(cfg).CreateStack(ctx, &cloudformation.CreateStackInput{StackName: aws.String("CustodyMember"),
				TemplateBody: aws.String(`{"Resources":{"Handle":{"Type":"AWS::CloudFormation::WaitConditionHandle"}}}`)}); err != nil {
				t.Fatal(err)
			}
		}, "custody.memberStack", Pass, "CustodyMember CREATE_COMPLETE"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.setup(t)
			got, ok := audit(tc.member)[tc.check]
			if !ok || got.Status != tc.status || !strings.Contains(got.Detail, tc.detail) {
				t.Errorf("%s = %+v, want %s containing %q", tc.check, got, tc.status, tc.detail)
			}
		})
	}
	if _, ok := audit(false)["custody.memberStack"]; ok {
		t.Error("the hub's own account is checked for the member stack")
	}
}
