package readiness

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudtrail"
	cttypes "github.com/aws/aws-sdk-go-v2/service/cloudtrail/types"
)

// TestWriteGolden: the text table and the JSON of a fixed report
// (go test -update rewrites testdata/report.txt and report.json).
func TestWriteGolden(t *testing.T) {
	r := &Report{GeneratedAt: time.Date(2026, 12, 2, 17, 0, 0, 0, time.UTC), Lookback: "6h0m0s", Results: []Result{
		{Check: CheckTrail, Account: "111111111111", Region: "eu-west-1", Status: Pass, Detail: "org (organization, s3://archive)"},
		{Check: CheckGuardDutyProtection, Account: "111111111111", Region: "eu-west-1", Status: Fail, Detail: "off: EKS_AUDIT_LOGS"},
		{Check: CheckStreams, Account: "111111111111", Region: "eu-west-1", Status: Fail, Detail: "no stream: plain"},
		{Check: CheckInspector, Account: "111111111111", Region: "eu-west-1", Status: Unknown, Detail: "inspector2:BatchGetAccountStatus: denied"},
	}}
	for _, tc := range []struct {
		file  string
		write func(*bytes.Buffer) error
	}{
		{"report.txt", func(b *bytes.Buffer) error { return r.WriteText(b) }},
		{"report.json", func(b *bytes.Buffer) error { return r.WriteJSON(b) }},
	} {
		t.Run(tc.file, func(t *testing.T) {
			var got bytes.Buffer
			if err := tc.write(&got); err != nil {
				t.Fatal(err)
			}
			path := filepath.Join("testdata", tc.file)
			if *update {
				if err := os.WriteFile(path, got.Bytes(), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got.Bytes(), want) {
				t.Errorf("%s differs (go test -update to accept):\n%s", path, got.String())
			}
		})
	}
	if got := r.Failing(); len(got) != 2 || got[0] != "111111111111/eu-west-1/dynamodb.streams" {
		t.Errorf("Failing() = %v", got)
	}
}

// TestS3Covers: which selectors record a bucket's objects.
func TestS3Covers(t *testing.T) {
	basic := func(values ...string) cloudtrail.GetEventSelectorsOutput {
		return cloudtrail.GetEventSelectorsOutput{EventSelectors: []cttypes.EventSelector{{ReadWriteType: cttypes.ReadWriteTypeAll,
			DataResources: []cttypes.DataResource{{Type: aws.String("AWS::S3::Object"), Values: values}}}}}
	}
	advanced := func(arnField *cttypes.AdvancedFieldSelector) cloudtrail.GetEventSelectorsOutput {
		fs := []cttypes.AdvancedFieldSelector{{Field: aws.String("eventCategory"), Equals: []string{"Data"}}, {Field: aws.String("resources.type"), Equals: []string{"AWS::S3::Object"}}}
		if arnField != nil {
			fs = append(fs, *arnField)
		}
		return cloudtrail.GetEventSelectorsOutput{AdvancedEventSelectors: []cttypes.AdvancedEventSelector{{FieldSelectors: fs}}}
	}
	for _, tc := range []struct {
		name string
		sel  cloudtrail.GetEventSelectorsOutput
		want bool
	}{
		{"basic, every bucket", basic("arn:aws:s3"), true},
		{"basic, the bucket", basic("arn:aws:s3:::data/"), true},
		{"basic, another bucket", basic("arn:aws:s3:::database/"), false},
		{"advanced, no ARN field", advanced(nil), true},
		{"advanced, StartsWith the bucket", advanced(&cttypes.AdvancedFieldSelector{Field: aws.String("resources.ARN"), StartsWith: []string{"arn:aws:s3:::data/"}}), true},
		{"advanced, another bucket", advanced(&cttypes.AdvancedFieldSelector{Field: aws.String("resources.ARN"), StartsWith: []string{"arn:aws:s3:::logs/"}}), false},
		{"none", cloudtrail.GetEventSelectorsOutput{}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := s3Covers(&tc.sel, "data"); got != tc.want {
				t.Errorf("s3Covers = %v, want %v", got, tc.want)
			}
		})
	}
}

// TestSelectors: which event selectors record what, basic and advanced.
func TestSelectors(t *testing.T) {
	adv := func(fields ...[2]string) cttypes.AdvancedEventSelector {
		var fs []cttypes.AdvancedFieldSelector
		for _, f := range fields {
			fs = append(fs, cttypes.AdvancedFieldSelector{Field: aws.String(f[0]), Equals: []string{f[1]}})
		}
		return cttypes.AdvancedEventSelector{FieldSelectors: fs}
	}
	for _, tc := range []struct {
		name                   string
		sel                    cloudtrail.GetEventSelectorsOutput
		mgmtR, mgmtW, s3R, s3W bool
	}{
		{"no selectors: CloudTrail's default", cloudtrail.GetEventSelectorsOutput{}, true, true, false, false},
		{"write-only management", cloudtrail.GetEventSelectorsOutput{EventSelectors: []cttypes.EventSelector{
			{ReadWriteType: cttypes.ReadWriteTypeWriteOnly, IncludeManagementEvents: aws.Bool(true)}}}, false, true, false, false},
		{"basic S3 data, no management", cloudtrail.GetEventSelectorsOutput{EventSelectors: []cttypes.EventSelector{
			{ReadWriteType: cttypes.ReadWriteTypeAll, IncludeManagementEvents: aws.Bool(false),
				DataResources: []cttypes.DataResource{{Type: aws.String("AWS::S3::Object"), Values: []string{"arn:aws:s3"}}}}}}, false, false, true, true},
		{"advanced: management, S3 reads only", cloudtrail.GetEventSelectorsOutput{AdvancedEventSelectors: []cttypes.AdvancedEventSelector{
			adv([2]string{"eventCategory", "Management"}),
			adv([2]string{"eventCategory", "Data"}, [2]string{"resources.type", "AWS::S3::Object"}, [2]string{"readOnly", "true"}),
		}}, true, true, true, false},
		{"advanced: Lambda data only", cloudtrail.GetEventSelectorsOutput{AdvancedEventSelectors: []cttypes.AdvancedEventSelector{
			adv([2]string{"eventCategory", "Data"}, [2]string{"resources.type", "AWS::Lambda::Function"}),
		}}, false, false, false, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			mr, mw := management(&tc.sel)
			sr, sw := dataEvents(&tc.sel, "AWS::S3::Object")
			if mr != tc.mgmtR || mw != tc.mgmtW || sr != tc.s3R || sw != tc.s3W {
				t.Errorf("management %v/%v, S3 %v/%v; want %v/%v, %v/%v", mr, mw, sr, sw, tc.mgmtR, tc.mgmtW, tc.s3R, tc.s3W)
			}
		})
	}
}
