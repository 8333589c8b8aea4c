package scenario

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudtrail"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs"
	cwltypes "github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs/types"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/inspector2"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/custody-ir/custody/shared/awsconfig"
	"github.com/custody-ir/custody/shared/emulator"
	"github.com/custody-ir/custody/shared/emulator/s3test"
)

var emu *emulator.Server

func TestMain(m *testing.M) { emulator.Main(m, &emu) }

func s3client(cfg aws.Config) *s3.Client {
	return s3.NewFromConfig(cfg, awsconfig.S3Options, func(o *s3.Options) { o.UsePathStyle = true })
}

func applyDir(t *testing.T, dir string) (aws.Config, *Seeded) {
	t.Helper()
	cfg := emu.Fresh(t)
	sc, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	seeded, err := Apply(context.Background(), cfg, emu.Endpoint, sc, dir)
	if err != nil {
		t.Fatal(err)
	}
	return cfg, seeded
}

func gunzip(t *testing.T, b []byte) []byte {
	t.Helper()
	zr, err := gzip.NewReader(bytes.NewReader(b))
	if err != nil {
		t.Fatalf("gunzip: %v", err)
	}
	out, err := io.ReadAll(zr)
	if err != nil {
		t.Fatalf("gunzip: %v", err)
	}
	return out
}

func TestApplySeedFolder(t *testing.T) {
	ctx := context.Background()
	cfg, s := applyDir(t, "testdata/seed")
	acct := s.Account
	if acct != emulator.AccountID || s.Region != emulator.Region {
		t.Fatalf("account %q region %q", acct, s.Region)
	}
	web := s.Instances["web"]
	if !strings.HasPrefix(web, "i-") || !strings.HasPrefix(s.ENIs["web"], "eni-") || !strings.HasPrefix(s.ENIs["web-2"], "eni-") ||
		!strings.HasPrefix(s.VPCs["main"], "vpc-") || !strings.HasPrefix(s.Subnets["app"], "subnet-") || !strings.HasPrefix(s.SecurityGroups["web-sg"], "sg-") {
		t.Fatalf("ids: %+v %+v %+v %+v %+v", s.Instances, s.ENIs, s.VPCs, s.Subnets, s.SecurityGroups)
	}
	if s.PrivateIPs["web"] != "10.0.1.10" || s.PrivateIPs["web-2"] != "10.0.1.20" {
		t.Errorf("private IPs %v", s.PrivateIPs)
	}

	t.Run("ec2", func(t *testing.T) {
		c := ec2.NewFromConfig(cfg)
		out, err := c.DescribeInstances(ctx, &ec2.DescribeInstancesInput{InstanceIds: []string{web}})
		if err != nil {
			t.Fatal(err)
		}
		inst := out.Reservations[0].Instances[0]
		if aws.ToString(inst.SubnetId) != s.Subnets["app"] || aws.ToString(inst.VpcId) != s.VPCs["main"] {
			t.Errorf("instance in %s/%s", aws.ToString(inst.VpcId), aws.ToString(inst.SubnetId))
		}
		if inst.IamInstanceProfile == nil || !strings.HasSuffix(aws.ToString(inst.IamInstanceProfile.Arn), "instance-profile/web-role") {
			t.Errorf("instance profile %+v", inst.IamInstanceProfile)
		}
		if len(inst.SecurityGroups) != 1 || aws.ToString(inst.SecurityGroups[0].GroupId) != s.SecurityGroups["web-sg"] {
			t.Errorf("security groups %+v", inst.SecurityGroups)
		}
		enis, err := c.DescribeNetworkInterfaces(ctx, &ec2.DescribeNetworkInterfacesInput{Filters: []ec2types.Filter{{Name: aws.String("attachment.instance-id"), Values: []string{web}}}})
		if err != nil {
			t.Fatal(err)
		}
		if len(enis.NetworkInterfaces) != 2 {
			t.Errorf("instance has %d ENIs, want 2", len(enis.NetworkInterfaces))
		}
		ud, err := c.DescribeInstanceAttribute(ctx, &ec2.DescribeInstanceAttributeInput{InstanceId: aws.String(web), Attribute: ec2types.InstanceAttributeNameUserData})
		if err != nil {
			t.Fatal(err)
		}
		if ud.UserData == nil || aws.ToString(ud.UserData.Value) == "" {
			t.Errorf("no user data")
		}
		fl, err := c.DescribeFlowLogs(ctx, &ec2.DescribeFlowLogsInput{})
		if err != nil {
			t.Fatal(err)
		}
		if len(fl.FlowLogs) != 3 {
			t.Fatalf("%d flow logs, want 3", len(fl.FlowLogs))
		}
		byID := map[string]ec2types.FlowLog{}
		for _, f := range fl.FlowLogs {
			byID[aws.ToString(f.FlowLogId)] = f
		}
		if f := byID[s.FlowLogs["main-cw"]]; aws.ToString(f.ResourceId) != s.VPCs["main"] || aws.ToString(f.LogGroupName) != "/vpc/flow" {
			t.Errorf("cw flow log %+v", f)
		}
		if f := byID[s.FlowLogs["app-s3"]]; aws.ToString(f.ResourceId) != s.Subnets["app"] || aws.ToString(f.LogDestination) != "arn:aws:s3:::flow-bucket" {
			t.Errorf("s3 flow log %+v", f)
		}
		if f := byID[s.FlowLogs["web-s3"]]; aws.ToString(f.ResourceId) != s.ENIs["web"] || !strings.Contains(aws.ToString(f.LogFormat), "${interface-id}") {
			t.Errorf("eni flow log %+v", f)
		}
		if len(s.Warnings) != 1 || !strings.Contains(s.Warnings[0], "web-s3") {
			t.Errorf("warnings %q, want one about the web-s3 prefix", s.Warnings)
		}
	})

	t.Run("iam", func(t *testing.T) {
		c := iam.NewFromConfig(cfg)
		keys, err := c.ListAccessKeys(ctx, &iam.ListAccessKeysInput{UserName: aws.String("alice")})
		if err != nil {
			t.Fatal(err)
		}
		if len(keys.AccessKeyMetadata) != 1 || aws.ToString(keys.AccessKeyMetadata[0].AccessKeyId) != s.AccessKeys["alice"][0] {
			t.Errorf("alice keys %+v, seeded %v", keys.AccessKeyMetadata, s.AccessKeys["alice"])
		}
		bob, err := c.ListAccessKeys(ctx, &iam.ListAccessKeysInput{UserName: aws.String("bob")})
		if err != nil {
			t.Fatal(err)
		}
		if len(bob.AccessKeyMetadata) != 2 || s.Placeholders()["{{accesskey:bob:2}}"] != s.AccessKeys["bob"][1] {
			t.Errorf("bob keys %+v", bob.AccessKeyMetadata)
		}
		for _, k := range bob.AccessKeyMetadata {
			want := "Active"
			if aws.ToString(k.AccessKeyId) == s.AccessKeys["bob"][1] {
				want = "Inactive"
			}
			if string(k.Status) != want {
				t.Errorf("bob key %s is %s, want %s", aws.ToString(k.AccessKeyId), k.Status, want)
			}
		}
		up, err := c.ListUserPolicies(ctx, &iam.ListUserPoliciesInput{UserName: aws.String("alice")})
		if err != nil {
			t.Fatal(err)
		}
		if len(up.PolicyNames) != 1 || up.PolicyNames[0] != "describe" {
			t.Errorf("alice inline policies %v", up.PolicyNames)
		}
		ap, err := c.ListAttachedUserPolicies(ctx, &iam.ListAttachedUserPoliciesInput{UserName: aws.String("alice")})
		if err != nil {
			t.Fatal(err)
		}
		if len(ap.AttachedPolicies) != 1 || aws.ToString(ap.AttachedPolicies[0].PolicyName) != "read-data" {
			t.Errorf("alice attached %+v", ap.AttachedPolicies)
		}
		prof, err := c.GetInstanceProfile(ctx, &iam.GetInstanceProfileInput{InstanceProfileName: aws.String("web-role")})
		if err != nil {
			t.Fatal(err)
		}
		if len(prof.InstanceProfile.Roles) != 1 || aws.ToString(prof.InstanceProfile.Roles[0].RoleName) != "web-role" {
			t.Errorf("profile roles %+v", prof.InstanceProfile.Roles)
		}
		rp, err := c.ListRolePolicies(ctx, &iam.ListRolePoliciesInput{RoleName: aws.String("web-role")})
		if err != nil {
			t.Fatal(err)
		}
		if len(rp.PolicyNames) != 1 {
			t.Errorf("role inline policies %v", rp.PolicyNames)
		}
	})

	t.Run("trail", func(t *testing.T) {
		c := cloudtrail.NewFromConfig(cfg)
		out, err := c.DescribeTrails(ctx, &cloudtrail.DescribeTrailsInput{})
		if err != nil {
			t.Fatal(err)
		}
		if len(out.TrailList) != 1 {
			t.Fatalf("%d trails", len(out.TrailList))
		}
		tr := out.TrailList[0]
		if aws.ToString(tr.S3BucketName) != "trail-bucket" || aws.ToString(tr.S3KeyPrefix) != "p" || aws.ToString(tr.KmsKeyId) != s.TrailKeys["main"] || !aws.ToBool(tr.IsMultiRegionTrail) {
			t.Errorf("trail %+v", tr)
		}
		st, err := c.GetTrailStatus(ctx, &cloudtrail.GetTrailStatusInput{Name: aws.String("main")})
		if err != nil {
			t.Fatal(err)
		}
		if !aws.ToBool(st.IsLogging) {
			t.Errorf("trail not logging")
		}
	})

	t.Run("s3", func(t *testing.T) {
		c := s3client(cfg)
		key := "p/AWSLogs/" + acct + "/CloudTrail/us-east-1/2024/08/02/" + acct + "_CloudTrail_us-east-1_20240802T0825Z_testA.json.gz"
		var doc struct {
			Records []struct {
				RecipientAccountID string `json:"recipientAccountId"`
				UserIdentity       struct {
					AccessKeyID string `json:"accessKeyId"`
				} `json:"userIdentity"`
				RequestParameters struct {
					InstanceIDs []string `json:"instanceIds"`
				} `json:"requestParameters"`
			}
		}
		if err := json.Unmarshal(gunzip(t, s3test.Body(t, c, "trail-bucket", key)), &doc); err != nil {
			t.Fatal(err)
		}
		if len(doc.Records) != 1 || doc.Records[0].RequestParameters.InstanceIDs[0] != web ||
			doc.Records[0].UserIdentity.AccessKeyID != s.AccessKeys["alice"][0] || doc.Records[0].RecipientAccountID != acct {
			t.Errorf("trail record %+v", doc.Records)
		}
		flowKey := "AWSLogs/" + acct + "/vpcflowlogs/us-east-1/2024/08/02/" + acct + "_vpcflowlogs_us-east-1_" + s.FlowLogs["app-s3"] + "_20240802T0825Z_test.log.gz"
		flow := string(gunzip(t, s3test.Body(t, c, "flow-bucket", flowKey)))
		if !strings.Contains(flow, " "+s.ENIs["web"]+" 172.31.16.139 10.0.1.10 ") || HasPlaceholder([]byte(flow)) {
			t.Errorf("flow log %q", flow)
		}
		plain := s3test.Body(t, c, "data", "plain.bin")
		want, _ := os.ReadFile("testdata/seed/s3/data/plain.bin")
		if !bytes.Equal(plain, want) {
			t.Errorf("plain.bin changed on upload")
		}
		if len(s.Objects) != 3 {
			t.Errorf("%d objects seeded, want 3", len(s.Objects))
		}
		wantRewritten := []string{
			"logs/app/web.jsonl",
			"logs/vpc/flow/{{eni:web}}-all.jsonl",
			"s3/flow-bucket/AWSLogs/{{account}}/vpcflowlogs/us-east-1/2024/08/02/{{account}}_vpcflowlogs_us-east-1_{{flowlog:app-s3}}_20240802T0825Z_test.log.gz",
			"s3/trail-bucket/p/AWSLogs/{{account}}/CloudTrail/us-east-1/2024/08/02/{{account}}_CloudTrail_us-east-1_20240802T0825Z_testA.json.gz",
		}
		if strings.Join(s.Rewritten, "\n") != strings.Join(wantRewritten, "\n") {
			t.Errorf("rewritten:\n%s\nwant:\n%s", strings.Join(s.Rewritten, "\n"), strings.Join(wantRewritten, "\n"))
		}
		v, err := c.GetBucketVersioning(ctx, &s3.GetBucketVersioningInput{Bucket: aws.String("data")})
		if err != nil || v.Status != "Enabled" {
			t.Errorf("data versioning %v %v", v, err)
		}
		ol, err := c.GetObjectLockConfiguration(ctx, &s3.GetObjectLockConfigurationInput{Bucket: aws.String("locked")})
		if err != nil || ol.ObjectLockConfiguration == nil || ol.ObjectLockConfiguration.ObjectLockEnabled != "Enabled" {
			t.Errorf("locked bucket object lock %+v %v", ol, err)
		}
		for _, tc := range []struct{ bucket, prefix string }{{"data", "simple/"}, {"data2", "part/"}} {
			lg, err := c.GetBucketLogging(ctx, &s3.GetBucketLoggingInput{Bucket: aws.String(tc.bucket)})
			if err != nil {
				t.Fatal(err)
			}
			if lg.LoggingEnabled == nil || aws.ToString(lg.LoggingEnabled.TargetBucket) != "access-logs" || aws.ToString(lg.LoggingEnabled.TargetPrefix) != tc.prefix {
				t.Errorf("%s logging %+v", tc.bucket, lg.LoggingEnabled)
			}
		}
	})

	t.Run("logs", func(t *testing.T) {
		c := cloudwatchlogs.NewFromConfig(cfg)
		for _, tc := range []struct {
			group, stream string
			n             int
			first         string
		}{
			{"/app", "web", 3, "server started"},
			{"/vpc/flow", s.ENIs["web"] + "-all", 2, "2 " + acct + " " + s.ENIs["web"] + " 172.31.16.139 10.0.1.10 "},
		} {
			out, err := c.GetLogEvents(ctx, &cloudwatchlogs.GetLogEventsInput{LogGroupName: aws.String(tc.group), LogStreamName: aws.String(tc.stream), StartFromHead: aws.Bool(true)})
			if err != nil {
				t.Fatalf("%s %s: %v", tc.group, tc.stream, err)
			}
			if len(out.Events) != tc.n {
				t.Fatalf("%s %s: %d events, want %d", tc.group, tc.stream, len(out.Events), tc.n)
			}
			if !strings.HasPrefix(aws.ToString(out.Events[0].Message), tc.first) {
				t.Errorf("%s first event %q, want prefix %q (sorted by time)", tc.group, aws.ToString(out.Events[0].Message), tc.first)
			}
		}
		g, err := c.DescribeLogGroups(ctx, &cloudwatchlogs.DescribeLogGroupsInput{LogGroupNamePrefix: aws.String("/app")})
		if err != nil || len(g.LogGroups) != 1 || aws.ToInt32(g.LogGroups[0].RetentionInDays) != 30 {
			t.Errorf("/app group %+v %v", g, err)
		}
	})

	t.Run("dynamodb", func(t *testing.T) {
		c := dynamodb.NewFromConfig(cfg)
		d, err := c.DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: aws.String("orders")})
		if err != nil {
			t.Fatal(err)
		}
		if d.Table.StreamSpecification == nil || !aws.ToBool(d.Table.StreamSpecification.StreamEnabled) || aws.ToString(d.Table.LatestStreamArn) == "" {
			t.Errorf("stream %+v", d.Table.StreamSpecification)
		}
		sc, err := c.Scan(ctx, &dynamodb.ScanInput{TableName: aws.String("orders")})
		if err != nil {
			t.Fatal(err)
		}
		if len(sc.Items) != 2 {
			t.Fatalf("%d items, want 2", len(sc.Items))
		}
		for _, it := range sc.Items {
			switch it["id"].(*ddbtypes.AttributeValueMemberS).Value {
			case "o-1":
				if it["by"].(*ddbtypes.AttributeValueMemberS).Value != s.AccessKeys["alice"][0] {
					t.Errorf("o-1 %+v", it)
				}
			case "o-2":
				if it["host"].(*ddbtypes.AttributeValueMemberS).Value != web || !it["paid"].(*ddbtypes.AttributeValueMemberBOOL).Value {
					t.Errorf("o-2 %+v", it)
				}
				if _, ok := it["lines"].(*ddbtypes.AttributeValueMemberL); !ok {
					t.Errorf("o-2 lines %T", it["lines"])
				}
			}
		}
	})

	t.Run("inspector2", func(t *testing.T) {
		c := inspector2.NewFromConfig(cfg)
		out, err := c.ListFindings(ctx, &inspector2.ListFindingsInput{})
		if err != nil {
			t.Fatal(err)
		}
		if len(out.Findings) != 1 {
			t.Fatalf("%d findings, want 1", len(out.Findings))
		}
		f := out.Findings[0]
		if aws.ToString(f.Resources[0].Id) != web || aws.ToString(f.AwsAccountId) != acct {
			t.Errorf("finding resource %s account %s", aws.ToString(f.Resources[0].Id), aws.ToString(f.AwsAccountId))
		}
		if f.FirstObservedAt == nil || !f.FirstObservedAt.Equal(time.Date(2024, 8, 2, 8, 0, 0, 0, time.UTC)) {
			t.Errorf("firstObservedAt %v", f.FirstObservedAt)
		}
	})

	t.Run("rewrite finding", func(t *testing.T) {
		out, err := s.Rewrite([]byte(`{"instanceId":"{{instance:web}}","eni":"{{eni:web-2}}","acct":"{{account}}"}`))
		if err != nil {
			t.Fatal(err)
		}
		want := `{"instanceId":"` + web + `","eni":"` + s.ENIs["web-2"] + `","acct":"` + acct + `"}`
		if string(out) != want {
			t.Errorf("got %s, want %s", out, want)
		}
	})
}

func TestRewriteUnknownPlaceholder(t *testing.T) {
	s := newSeeded("us-east-1")
	s.Account = "123456789012"
	s.Instances["web"] = "i-0123"
	for _, tc := range []struct {
		in      string
		wantErr string // placeholder named in the error; "" = no error
		want    string
	}{
		{in: "{{instance:web}} in {{account}}", want: "i-0123 in 123456789012"},
		{in: "{{ not one }} {{.Go}} {{}}", want: "{{ not one }} {{.Go}} {{}}"},
		{in: "{{instance:db}}", wantErr: "{{instance:db}}"},
		{in: "x {{vpc:prod}}", wantErr: "{{vpc:prod}}"},
		{in: "{{epochms:soon}}", wantErr: "{{epochms:soon}}"},
	} {
		out, err := s.Rewrite([]byte(tc.in))
		if tc.wantErr != "" {
			var ue *UnknownPlaceholderError
			if !errors.As(err, &ue) || ue.Placeholder != tc.wantErr || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("%q: err %v, want UnknownPlaceholderError naming %s", tc.in, err, tc.wantErr)
			}
			continue
		}
		if err != nil || string(out) != tc.want {
			t.Errorf("%q: got %q, %v; want %q", tc.in, out, err, tc.want)
		}
	}
	fixed := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	s.now = func() time.Time { return fixed }
	out, err := s.Rewrite([]byte("{{epochms:-1h}} {{epoch}} {{epoch:+2m}}"))
	if err != nil || string(out) != "1767319445000 1767323045 1767323165" {
		t.Errorf("time placeholders: %q %v", out, err)
	}
}

// An unknown placeholder inside a gzip file in s3/ fails Apply, naming the file.
func TestApplyUnknownPlaceholderInFile(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "scenario.json"), []byte(`{"vpcs":[{"name":"prod","cidr":"10.0.0.0/16"}]}`))
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	zw.Write([]byte(`{"Records":[{"vpc":"{{vpc:prod}}","i":"{{instance:gone}}"}]}`))
	zw.Close()
	writeFile(t, filepath.Join(dir, "s3", "bkt", "k.json.gz"), buf.Bytes())
	cfg := emu.Fresh(t)
	sc, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	_, err = Apply(context.Background(), cfg, emu.Endpoint, sc, dir)
	var ue *UnknownPlaceholderError
	if !errors.As(err, &ue) || ue.Placeholder != "{{instance:gone}}" || ue.Where != "s3/bkt/k.json.gz" {
		t.Fatalf("err %v, want unknown {{instance:gone}} in s3/bkt/k.json.gz", err)
	}
}

// Log events older than CloudWatch Logs accepts are an error, not a silent loss.
func TestApplyTooOldLogEvents(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "scenario.json"), []byte(`{}`))
	writeFile(t, filepath.Join(dir, "logs", "g", "s.jsonl"), []byte("{\"timestamp\": 1722586959000, \"message\": \"2024\"}\n{\"timestamp\": {{epochms:-1m}}, \"message\": \"now\"}\n"))
	cfg := emu.Fresh(t)
	sc, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	_, err = Apply(context.Background(), cfg, emu.Endpoint, sc, dir)
	var re *LogEventsRejectedError
	if !errors.As(err, &re) || re.TooOld != 1 || re.FirstLine != 1 || re.File != "logs/g/s.jsonl" {
		t.Fatalf("err %v, want LogEventsRejectedError with 1 too old at line 1", err)
	}
}

func TestLoadErrors(t *testing.T) {
	for _, tc := range []struct {
		name, json, want string
	}{
		{"unknown field", `{"vpc": []}`, `unknown field "vpc"`},
		{"subnet names missing vpc", `{"subnets":[{"name":"a","vpc":"x","cidr":"10.0.0.0/24"}]}`, `subnets[0] "a": vpc "x" is not in vpcs`},
		{"duplicate", `{"vpcs":[{"name":"a","cidr":"10.0.0.0/16"},{"name":"a","cidr":"10.1.0.0/16"}]}`, `vpcs[1] "a": duplicate name`},
		{"flow log ref", `{"vpcs":[{"name":"a","cidr":"10.0.0.0/16"}],"flowLogs":[{"resource":"{{vpc:b}}","destinationType":"s3","destination":"x"}]}`, `names no vpc`},
		{"flow log type", `{"vpcs":[{"name":"a","cidr":"10.0.0.0/16"}],"flowLogs":[{"resource":"{{vpc:a}}","destinationType":"kinesis","destination":"x"}]}`, `destinationType "kinesis"`},
		{"profile", `{"vpcs":[{"name":"v","cidr":"10.0.0.0/16"}],"subnets":[{"name":"s","vpc":"v","cidr":"10.0.0.0/24"}],"instances":[{"name":"i","subnet":"s","iamInstanceProfile":"r"}]}`, `iamInstanceProfile "r"`},
		{"keys", `{"iam":{"users":[{"name":"u","accessKeys":3}]}}`, `IAM allows 0 to 2`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			writeFile(t, filepath.Join(dir, "scenario.json"), []byte(tc.json))
			_, err := Load(dir)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err %v, want %q", err, tc.want)
			}
		})
	}
}

// An emulator failure names the scenario entry.
func TestApplyNamesFailingEntry(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "scenario.json"), []byte(`{"vpcs":[{"name":"ok","cidr":"10.0.0.0/16"},{"name":"bad","cidr":"not-a-cidr"}]}`))
	cfg := emu.Fresh(t)
	sc, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	_, err = Apply(context.Background(), cfg, emu.Endpoint, sc, dir)
	var ee *EntryError
	if !errors.As(err, &ee) || ee.List != "vpcs" || ee.Index != 1 || ee.Name != "bad" {
		t.Fatalf("err %v, want EntryError for vpcs[1] bad", err)
	}
}

func TestBatches(t *testing.T) {
	mk := func(n int, msgLen int, step time.Duration) []cwlEvent {
		return makeEvents(n, msgLen, step)
	}
	for _, tc := range []struct {
		name   string
		events []cwlEvent
		want   []int
	}{
		{"empty", nil, nil},
		{"count", mk(10001, 1, time.Millisecond), []int{10000, 1}},
		{"bytes", mk(3, 500000, time.Millisecond), []int{2, 1}},
		{"span", mk(3, 1, 13*time.Hour), []int{2, 1}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var got []int
			for _, b := range batches(tc.events) {
				got = append(got, len(b))
			}
			if len(got) != len(tc.want) {
				t.Fatalf("batches %v, want %v", got, tc.want)
			}
			for i := range got {
				if got[i] != tc.want[i] {
					t.Fatalf("batches %v, want %v", got, tc.want)
				}
			}
		})
	}
}

func writeFile(t *testing.T, p string, b []byte) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

type cwlEvent = cwltypes.InputLogEvent

func makeEvents(n, msgLen int, step time.Duration) []cwlEvent {
	msg := strings.Repeat("x", msgLen)
	out := make([]cwlEvent, n)
	for i := range out {
		out[i] = cwlEvent{Timestamp: aws.Int64(int64(i) * step.Milliseconds()), Message: aws.String(msg)}
	}
	return out
}

// The demo seed folder shipped for make demo seeds without error, and its
// finding rewrites with no placeholder left.
func TestDemoSeedFolder(t *testing.T) {
	ctx := context.Background()
	dir := filepath.Join("..", "..", "cmd", "custody", "scenarios", "demo")
	cfg, s := applyDir(t, dir)
	raw, err := os.ReadFile(filepath.Join(dir, "finding.json"))
	if err != nil {
		t.Fatal(err)
	}
	out, err := s.Rewrite(raw)
	if err != nil {
		t.Fatal(err)
	}
	if HasPlaceholder(out) || bytes.Contains(out, []byte("{{")) {
		t.Fatalf("placeholder left in the finding:\n%s", out)
	}
	var env struct {
		Detail struct {
			AccountID string `json:"accountId"`
			Resource  struct {
				InstanceDetails struct {
					InstanceID        string `json:"instanceId"`
					NetworkInterfaces []struct {
						NetworkInterfaceID string `json:"networkInterfaceId"`
						SubnetID           string `json:"subnetId"`
						VpcID              string `json:"vpcId"`
					} `json:"networkInterfaces"`
				} `json:"instanceDetails"`
			} `json:"resource"`
			Service struct {
				EventFirstSeen string `json:"eventFirstSeen"`
				EventLastSeen  string `json:"eventLastSeen"`
			} `json:"service"`
		} `json:"detail"`
	}
	if err := json.Unmarshal(out, &env); err != nil {
		t.Fatal(err)
	}
	d := env.Detail
	ni := d.Resource.InstanceDetails.NetworkInterfaces[0]
	if d.AccountID != s.Account || d.Resource.InstanceDetails.InstanceID != s.Instances["web"] || ni.NetworkInterfaceID != s.ENIs["web"] ||
		ni.SubnetID != s.Subnets["app"] || ni.VpcID != s.VPCs["prod"] {
		t.Errorf("finding ids %+v, seeded %+v %+v", d, s.Instances, s.ENIs)
	}
	// The incident lands one day before today, same time of day.
	first := s.Shift.Time(time.Date(2024, 8, 2, 8, 22, 39, 0, time.UTC))
	last := s.Shift.Time(time.Date(2024, 8, 2, 8, 23, 56, 0, time.UTC))
	if y := time.Now().UTC().AddDate(0, 0, -1).Format("2006-01-02"); first.Format("2006-01-02") != y {
		t.Errorf("incident day %s, want yesterday %s", first.Format("2006-01-02"), y)
	}
	if d.Service.EventFirstSeen != first.Format(time.RFC3339) || d.Service.EventLastSeen != last.Format(time.RFC3339) {
		t.Errorf("incident window %s..%s, want %s..%s", d.Service.EventFirstSeen, d.Service.EventLastSeen, first.Format(time.RFC3339), last.Format(time.RFC3339))
	}
	// The collectors' window: [first - 6h, last + 1h].
	wStart, wEnd := first.Add(-6*time.Hour), last.Add(time.Hour)
	inWindow := func(t0 time.Time) bool { return !t0.Before(wStart) && !t0.After(wEnd) }

	// The in-window trail file names the real instance and alice's key.
	c := s3client(cfg)
	dayPath, compact := first.Format("2006/01/02"), first.Format("20060102")
	prefix := "AWSLogs/" + s.Account + "/CloudTrail/us-east-1/" + dayPath + "/" + s.Account + "_CloudTrail_us-east-1_" + compact
	ct := gunzip(t, s3test.Body(t, c, "custody-demo-trail", prefix+"T0825Z_Qm3xT7aK2fLp9VwD.json.gz"))
	if !bytes.Contains(ct, []byte(s.Instances["web"])) || !bytes.Contains(ct, []byte(s.AccessKeys["alice"][0])) || HasPlaceholder(ct) {
		t.Errorf("trail file not rewritten")
	}
	// Exact counts per trail file: records in the collectors' window and not.
	for _, tc := range []struct {
		key     string
		in, out int
	}{
		{"T0825Z_Qm3xT7aK2fLp9VwD.json.gz", 45, 0},
		{"T0825Z_Hn5cW2rT8yBq4ZeK.json.gz", 10, 0}, // another principal
		{"T0220Z_Lp7dR3xN9kTz2VaQ.json.gz", 0, 4},  // alice, just before
		{"T0930Z_Gf4sK8wM1cYj6PbE.json.gz", 0, 15}, // web-role, just after
	} {
		var doc struct {
			Records []struct {
				EventTime time.Time `json:"eventTime"`
			}
		}
		if err := json.Unmarshal(gunzip(t, s3test.Body(t, c, "custody-demo-trail", prefix+tc.key)), &doc); err != nil {
			t.Fatal(err)
		}
		in := 0
		for _, r := range doc.Records {
			if inWindow(r.EventTime) {
				in++
			}
		}
		if in != tc.in || len(doc.Records)-in != tc.out {
			t.Errorf("%s: %d records in the window, %d out; want %d, %d", tc.key, in, len(doc.Records)-in, tc.in, tc.out)
		}
	}
	if n := len(s3test.Keys(t, c, "custody-demo-trail", "")); n != 7+len(s.Digests) {
		t.Errorf("%d trail objects, want 7 log files and %d digests", n, len(s.Digests))
	}
	// Hourly digests from the first log file's hour to the hour after the
	// last's (2024-07-31T13 to 2024-08-02T10, shifted), and two for the
	// other account's one log file.
	if n := len(s3test.Keys(t, c, "custody-demo-trail", "AWSLogs/"+s.Account+"/CloudTrail-Digest/")); n != 46 || len(s.Digests) != 48 {
		t.Errorf("%d digests of the account, %d seeded; want 46, 48", n, len(s.Digests))
	}
	// Flow log objects: two formats, keys on the shifted day.
	if n := len(s3test.Keys(t, c, "custody-demo-flowlogs", "AWSLogs/"+s.Account+"/vpcflowlogs/us-east-1/"+dayPath+"/")); n != 3 {
		t.Errorf("%d flow log objects on %s, want 3", n, dayPath)
	}
	ecsKey := "AWSLogs/" + s.Account + "/vpcflowlogs/us-east-1/" + dayPath + "/" + s.Account + "_vpcflowlogs_us-east-1_" + s.FlowLogs["prod-ecs"] + "_" + compact + "T0825Z_7a3e9c51.log.gz"
	ecs := string(gunzip(t, s3test.Body(t, c, "custody-demo-flowlogs-ecs", ecsKey)))
	wantECS := "5 " + s.Account + " " + s.ENIs["web"] + " " + s.PrivateIPs["web"] + " 18.236.253.47 49152 22 6 15 3500 " +
		strconv.FormatInt(s.Shift.Time(time.Unix(1722586965, 0)).Unix(), 10) + " " + strconv.FormatInt(s.Shift.Time(time.Unix(1722587025, 0)).Unix(), 10) + " ACCEPT OK "
	if !strings.HasPrefix(ecs, "version account-id interface-id") || !strings.Contains(ecs, "\n"+wantECS) {
		t.Errorf("ECS flow log:\n%s\nwant a line starting %s", ecs, wantECS)
	}
	// S3 access logs: simple keys on the shifted days.
	accKeys := s3test.Keys(t, c, "custody-demo-access-logs", "custody-demo-data/")
	prev := first.AddDate(0, 0, -1).Format("2006-01-02")
	wantAcc := []string{"custody-demo-data/2023-01-31-09-40-12-0A1B2C3D4E5F6789", "custody-demo-data/" + prev + "-14-05-12-5B8E1C7A3D9F2046",
		"custody-demo-data/" + first.Format("2006-01-02") + "-08-35-41-7D4E3A1F9C2B6E50", "custody-demo-data/" + first.Format("2006-01-02") + "-09-52-17-E1F3A5C7092B4D68"}
	if strings.Join(accKeys, " ") != strings.Join(wantAcc, " ") {
		t.Errorf("access log keys %v, want %v", accKeys, wantAcc)
	}

	// CloudWatch Logs: every event accepted; exact counts in the window.
	logs := cloudwatchlogs.NewFromConfig(cfg)
	for _, tc := range []struct {
		group, stream string
		in, out       int
	}{
		{"/custody-demo/app", s.Instances["web"], 3, 3},
		{"/vpc/flow", s.ENIs["web"] + "-all", 3, 2},
		{"/vpc/flow", s.ENIs["ops-1"] + "-all", 1, 0},
	} {
		ev, err := logs.GetLogEvents(ctx, &cloudwatchlogs.GetLogEventsInput{LogGroupName: aws.String(tc.group), LogStreamName: aws.String(tc.stream), StartFromHead: aws.Bool(true)})
		if err != nil {
			t.Fatal(err)
		}
		in := 0
		for _, e := range ev.Events {
			if inWindow(time.UnixMilli(aws.ToInt64(e.Timestamp))) {
				in++
			}
		}
		if in != tc.in || len(ev.Events)-in != tc.out {
			t.Errorf("%s %s: %d events in the window, %d out; want %d, %d", tc.group, tc.stream, in, len(ev.Events)-in, tc.in, tc.out)
		}
	}
	insp, err := inspector2.NewFromConfig(cfg).ListFindings(ctx, &inspector2.ListFindingsInput{})
	if err != nil {
		t.Fatal(err)
	}
	if len(insp.Findings) != 1 || aws.ToString(insp.Findings[0].Resources[0].Id) != s.Instances["web"] {
		t.Errorf("inspector findings %+v", insp.Findings)
	}
	for _, r := range s.Rewritten {
		t.Logf("derived: %s", r)
	}
	for _, w := range s.Warnings {
		t.Logf("warning: %s", w)
	}
}

func TestItemFromJSON(t *testing.T) {
	// The NewImage of a DynamoDB Streams record in aws-lambda-go's
	// events/testdata/dynamodb-event.json (Apache-2.0), trimmed.
	typed := `{"key":{"S":"binary"},"asdf1":{"B":"AAEqQQ=="},"List":{"L":[{"S":"Cookies"},{"N":"3.14159"}]},"Map":{"M":{"Name":{"S":"Joe"},"Age":{"N":"35"}}},"NumberSet":{"NS":["1234","567.8"]},"Null":{"NULL":true},"Boolean":{"BOOL":true},"StringSet":{"SS":["Giraffe","Zebra"]}}`
	item, err := itemFromJSON([]byte(typed))
	if err != nil {
		t.Fatal(err)
	}
	if b := item["asdf1"].(*ddbtypes.AttributeValueMemberB).Value; !bytes.Equal(b, []byte{0, 1, 42, 65}) {
		t.Errorf("B %v", b)
	}
	if m := item["Map"].(*ddbtypes.AttributeValueMemberM).Value; m["Age"].(*ddbtypes.AttributeValueMemberN).Value != "35" {
		t.Errorf("M %+v", m)
	}
	if ns := item["NumberSet"].(*ddbtypes.AttributeValueMemberNS).Value; len(ns) != 2 {
		t.Errorf("NS %v", ns)
	}
	// A plain item whose value happens to be an object is plain JSON.
	plain, err := itemFromJSON([]byte(`{"id":"o-1","total":18.50,"meta":{"S":"x","n":1}}`))
	if err != nil {
		t.Fatal(err)
	}
	if n := plain["total"].(*ddbtypes.AttributeValueMemberN).Value; n != "18.50" {
		t.Errorf("N %q", n)
	}
	if _, ok := plain["meta"].(*ddbtypes.AttributeValueMemberM); !ok {
		t.Errorf("meta %T", plain["meta"])
	}
	if _, err := itemFromJSON([]byte(`{"id":{"S":1}}`)); err == nil {
		t.Errorf("want an error for {\"S\": 1}")
	}
}
