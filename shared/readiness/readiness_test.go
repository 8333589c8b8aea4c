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
	"github.com/aws/aws-sdk-go-v2/service/cloudtrail"
	cttypes "github.com/aws/aws-sdk-go-v2/service/cloudtrail/types"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/guardduty"
	gdtypes "github.com/aws/aws-sdk-go-v2/service/guardduty/types"
	"github.com/aws/aws-sdk-go-v2/service/inspector2"

	"github.com/custody-ir/custody/shared/emulator"
	"github.com/custody-ir/custody/shared/scenario"
)

var update = flag.Bool("update", false, "rewrite the golden files")

var emu *emulator.Server

func TestMain(m *testing.M) { emulator.Main(m, &emu) }

// recordedInspectorStatus answers Inspector2 BatchGetAccountStatus, which
// the emulator lacks, with the documented wire shape in testdata, through
// the real SDK client's deserializer.
func recordedInspectorStatus(t *testing.T, file string) InspectorReader {
	t.Helper()
	body, err := os.ReadFile(filepath.Join("testdata", file))
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/status/batch/get" {
			http.Error(w, `{"message":"unexpected `+r.URL.Path+`"}`, http.StatusNotFound)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.Write(body)
	}))
	t.Cleanup(srv.Close)
	return inspector2.New(inspector2.Options{Region: "us-east-1", BaseEndpoint: aws.String(srv.URL), Credentials: aws.AnonymousCredentials{}})
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
	clients.Inspector = recordedInspectorStatus(t, "inspector2-account-status.json")
	r := Audit(context.Background(), Options{Lookback: 72 * time.Hour, Tables: []string{"orders", "plain"}},
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
	if strings.Contains(r.Results[5].Detail, "(prod)") {
		t.Errorf("vpc.flowLogs names prod, which has a flow log: %s", r.Results[5].Detail)
	}
}
