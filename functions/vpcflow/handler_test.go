package main

import (
	"bytes"
	"context"
	"errors"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/smithy-go"

	"github.com/custody-ir/custody/shared/collect"
	"github.com/custody-ir/custody/shared/emulator/s3test"
	"github.com/custody-ir/custody/shared/evidence"
	"github.com/custody-ir/custody/shared/faults"
	"github.com/custody-ir/custody/shared/incident"
)

// TestS3FlowLog: a VPC flow log to S3, the scope an instance (its
// interface, VPC and address found through EC2). One file delivered in the
// window holds the scenario's six lines for the instance's interface
// (three in the window, three after it), the same six for another
// interface, a NODATA and a SKIPDATA line in the window and a line cut
// short; a file delivered after the window (plus the pad), one of another
// flow log, one of the day before, and a Parquet file in the window.
func TestS3FlowLog(t *testing.T) {
	e := setup(t)
	fl := e.flowLogToS3(t, ec2types.FlowLogsResourceTypeVpc, e.vpc, "")
	header := fileLines(t, "otel-collector-contrib/vpc_flow_v2_multi.log")[0]
	scen := scenarioLines(t)
	var mine []string
	for _, l := range scen {
		mine = append(mine, withENI(l, scenarioENI, e.eni))
	}
	nodataLine := fileLines(t, "otel-collector-contrib/vpc_flow_v2_nodata.log")[1]
	nodata := withTimes(withENI(nodataLine, "eni-0eb1e4178af74336c", e.eni), 1604266800, 1604266860)
	skip := strings.Replace(withTimes(withENI(nodataLine, "eni-0eb1e4178af74336c", e.eni), 1604267400, 1604267460), "NODATA", "SKIPDATA", 1)
	cut := strings.Join(strings.Fields(mine[0])[:10], " ")

	inWindow := e.putFlowFile(t, flowKey(fl, time.Date(2020, 11, 1, 21, 40, 0, 0, time.UTC), "a1b2c3d4", ".log.gz"),
		append(append(append([]string{header}, mine...), scen...), nodata, skip, cut)...)
	e.putFlowFile(t, flowKey(fl, time.Date(2020, 11, 1, 23, 20, 0, 0, time.UTC), "e5f6a7b8", ".log.gz"), header, mine[0], mine[1], mine[2])
	e.putFlowFile(t, flowKey("fl-0123456789abcdef0", time.Date(2020, 11, 1, 21, 45, 0, 0, time.UTC), "c9d0e1f2", ".log.gz"), header, mine[0])
	e.putFlowFile(t, flowKey(fl, time.Date(2020, 10, 31, 23, 55, 0, 0, time.UTC), "a3b4c5d6", ".log.gz"), header, mine[0])
	// An opaque stand-in for a Parquet file: copied, never read.
	parquetKey := flowKey(fl, time.Date(2020, 11, 1, 21, 50, 0, 0, time.UTC), "f7a8b9c0", ".log.parquet")
	parquet := []byte("PAR1 not parsed PAR1")
	e.put(t, flowBucket, parquetKey, parquet)

	inc := newIncident(incident.Scope{Instances: []string{e.instance}},
		incident.Window{Start: time.Date(2020, 11, 1, 21, 30, 0, 0, time.UTC), End: time.Date(2020, 11, 1, 22, 30, 0, 0, time.UTC)})
	res, r := e.collectCase(t, inc)

	inKey := flowKey(fl, time.Date(2020, 11, 1, 21, 40, 0, 0, time.UTC), "a1b2c3d4", ".log.gz")
	want := []string{"extract.jsonl.gz", "flowlogs.json", "s3/" + flowBucket + "/" + inKey, "s3/" + flowBucket + "/" + parquetKey}
	if got := artifactNames(inc, r); !reflect.DeepEqual(got, want) {
		t.Fatalf("artifacts %q, want %q", got, want)
	}
	if res.Status != incident.StatusOK || res.Artifacts != 4 || res.Gaps != 1 {
		t.Errorf("result %+v", res)
	}
	// The copies are the originals, byte for byte.
	for name, orig := range map[string][]byte{"s3/" + flowBucket + "/" + inKey: inWindow, "s3/" + flowBucket + "/" + parquetKey: parquet} {
		a := artifact(t, inc, r, name)
		body := s3test.Body(t, e.s3, testBucket, a.Key)
		if !bytes.Equal(body, orig) || a.SHA256 != sha256Hex(orig) {
			t.Errorf("%s is not the original", name)
		}
		if a.API != "s3:CopyObject" || a.Origin == nil || a.Origin.Bucket != flowBucket {
			t.Errorf("%s: api %s origin %+v", name, a.API, a.Origin)
		}
	}

	// The extract: the interface's three lines in the window, its NODATA
	// and SKIPDATA lines; not its lines after the window, not the other
	// interface's, not the files outside the window or of another flow log.
	ext := artifact(t, inc, r, "extract.jsonl.gz")
	lines := jsonLines[Line](t, e, ext.Key)
	wantMsgs := []string{mine[0], mine[1], mine[2], nodata, skip}
	var msgs []string
	for _, l := range lines {
		msgs = append(msgs, l.Message)
		if l.FlowLogID != fl || l.Origin.Bucket != flowBucket || l.Origin.Key != inKey || l.FormatFrom != "header" || len(l.Record) != 14 || l.Record["interface-id"] != e.eni {
			t.Errorf("extract line %+v", l)
		}
	}
	if !reflect.DeepEqual(msgs, wantMsgs) {
		t.Fatalf("extract messages\n%q\nwant\n%q", msgs, wantMsgs)
	}
	if lines[3].Record["log-status"] != "NODATA" || lines[3].Record["srcaddr"] != nil || lines[4].Record["log-status"] != "SKIPDATA" {
		t.Errorf("NODATA/SKIPDATA %+v %+v", lines[3].Record, lines[4].Record)
	}
	if lines[0].Record["dstport"] != float64(22) || !lines[0].Start.Equal(utc(1604266544)) || !lines[0].End.Equal(utc(1604266560)) {
		t.Errorf("first line %+v", lines[0])
	}
	if ext.Records != 5 || !ext.FirstEvent.Equal(utc(1604266544)) || !ext.LastEvent.Equal(utc(1604267400)) {
		t.Errorf("extract entry records %d first %v last %v", ext.Records, ext.FirstEvent, ext.LastEvent)
	}
	fls := artifact(t, inc, r, "flowlogs.json")
	if fls.Records != 1 || fls.API != "ec2:DescribeFlowLogs" {
		t.Errorf("flowlogs.json %+v", fls)
	}

	if len(r.Gaps) != 1 || !strings.Contains(r.Gaps[0].Reason, "parquet flow logs are copied but not parsed") {
		t.Errorf("gaps %+v", r.Gaps)
	}
	// The cut line is counted; the rest of its file is collected.
	if len(r.Warnings) != 1 || !strings.Contains(r.Warnings[0], "flow log "+fl+": 1 of 15 lines in 1 objects could not be read") ||
		!strings.Contains(r.Warnings[0], "line 16: vpcflow: malformed record: 10 fields, the format has 14 (too few)") {
		t.Errorf("warnings %q", r.Warnings)
	}
}

// TestS3Formats: each real sample file as S3 delivers it (gzip, with its
// header line), one flow log each; a custom format read by the flow log's
// LogFormat when the file has no header; the scope the sample's interface
// in the emulator's VPC.
func TestS3Formats(t *testing.T) {
	const ecsFormat = "${version} ${account-id} ${interface-id} ${srcaddr} ${dstaddr} ${srcport} ${dstport} ${protocol} ${packets} ${bytes} ${start} ${end} ${action} ${log-status} " +
		"${ecs-cluster-arn} ${ecs-cluster-name} ${ecs-container-instance-arn} ${ecs-container-instance-id} ${ecs-container-id} ${ecs-second-container-id} ${ecs-service-name} ${ecs-task-definition-arn} ${ecs-task-arn} ${ecs-task-id}"
	cases := []struct {
		name       string
		file       string
		dropHeader bool // DERIVED: the header line removed
		logFormat  string
		eni        string
		start      int64 // the records' start
		records    int
		fields     int
		formatFrom string
		status     string
		malformed  int
	}{
		{name: "v2 default", file: "vpc_flow_v2_multi.log", eni: "eni-1235b8ca123456789", start: 1418530010, records: 2, fields: 14, formatFrom: "header", status: "OK"},
		{name: "v2 NODATA", file: "vpc_flow_v2_nodata.log", eni: "eni-0eb1e4178af74336c", start: 1742570089, records: 1, fields: 14, formatFrom: "header", status: "NODATA"},
		{name: "ECS custom by header", file: "vpc_flow_v5_custom_ecs.log", eni: "eni-0abc1234def567890", start: 1700000000, records: 1, fields: 24, formatFrom: "header", status: "OK"},
		{name: "ECS custom by LogFormat", file: "vpc_flow_v5_custom_ecs.log", dropHeader: true, logFormat: ecsFormat, eni: "eni-0abc1234def567890", start: 1700000000, records: 1, fields: 24, formatFrom: "logFormat", status: "OK"},
		{name: "ECS custom with neither", file: "vpc_flow_v5_custom_ecs.log", dropHeader: true, eni: "eni-0abc1234def567890", start: 1700000000, malformed: 1},
		{name: "Transit Gateway v6 by header", file: "tgw_flow_v6_custom.log", eni: "eni-0abc12345def67890", start: 1700000000, records: 1, fields: 31, formatFrom: "header", status: "OK"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			e := setup(t)
			fl := e.flowLogToS3(t, ec2types.FlowLogsResourceTypeVpc, e.vpc, c.logFormat)
			lines := fileLines(t, "otel-collector-contrib/"+c.file)
			if c.dropHeader {
				lines = lines[1:]
			}
			start := utc(c.start)
			key := flowKey(fl, start.Truncate(5*time.Minute).Add(10*time.Minute), "0a1b2c3d", ".log.gz")
			orig := e.putFlowFile(t, key, lines...)
			inc := newIncident(incident.Scope{ENIs: []string{c.eni}, VPCs: []string{e.vpc}},
				incident.Window{Start: start.Add(-30 * time.Minute), End: start.Add(30 * time.Minute)})
			_, r := e.collectCase(t, inc)

			cp := artifact(t, inc, r, "s3/"+flowBucket+"/"+key)
			if body := s3test.Body(t, e.s3, testBucket, cp.Key); !bytes.Equal(body, orig) {
				t.Errorf("copy is not the original")
			}
			got := jsonLines[Line](t, e, artifact(t, inc, r, "extract.jsonl.gz").Key)
			if len(got) != c.records {
				t.Fatalf("%d records, want %d", len(got), c.records)
			}
			for _, l := range got {
				if len(l.Record) != c.fields || l.FormatFrom != c.formatFrom || l.Record["log-status"] != c.status || !l.Start.Equal(start) {
					t.Errorf("record %d fields, from %s, status %v, start %v: %+v", len(l.Record), l.FormatFrom, l.Record["log-status"], l.Start, l)
				}
			}
			if len(r.Gaps) != 0 {
				t.Errorf("gaps %+v", r.Gaps)
			}
			if c.malformed > 0 {
				if len(r.Warnings) != 1 || !strings.Contains(r.Warnings[0], "1 of 1 lines in 1 objects could not be read") {
					t.Errorf("warnings %q", r.Warnings)
				}
			} else if len(r.Warnings) != 0 {
				t.Errorf("warnings %q", r.Warnings)
			}
		})
	}
}

// TestCloudWatchFlowLog: a flow log on the instance's interface to a log
// group. The scenario's lines, shifted to the last hours (the emulator
// refuses events older than 14 days), in <eni>-all: three in the window, a
// NODATA record, a line cut short, one before the window; the other
// interface's stream in the same group with three lines in the window.
func TestCloudWatchFlowLog(t *testing.T) {
	e := setup(t)
	const group = "/custody/vpc/flowlogs"
	if _, err := e.logs.CreateLogGroup(context.Background(), &cloudwatchlogs.CreateLogGroupInput{LogGroupName: aws.String(group)}); err != nil {
		t.Fatal(err)
	}
	fl := e.flowLogToCW(t, ec2types.FlowLogsResourceTypeNetworkInterface, e.eni, group)

	scen := scenarioLines(t)
	base := time.Now().UTC().Truncate(time.Minute).Add(-2 * time.Hour)
	delta := base.Unix() - 1604266544 // DERIVED: times shifted so the first line starts at base
	var mine, others []string
	var at []time.Time
	for _, l := range scen[:3] {
		s := shifted(withENI(l, scenarioENI, e.eni), delta)
		mine = append(mine, s)
		others = append(others, shifted(withENI(l, scenarioENI, e.otherENI), delta))
	}
	for _, l := range mine {
		at = append(at, utc(mustInt(t, strings.Fields(l)[10])))
	}
	nodataLine := fileLines(t, "otel-collector-contrib/vpc_flow_v2_nodata.log")[1]
	nodata := withTimes(withENI(nodataLine, "eni-0eb1e4178af74336c", e.eni), base.Unix()+300, base.Unix()+360)
	cut := strings.Join(strings.Fields(mine[2])[:10], " ")
	before := shifted(withENI(scen[0], scenarioENI, e.eni), delta-3600) // an hour before: outside the window
	e.putEvents(t, group, e.eni+"-all",
		[]time.Time{base.Add(-time.Hour), at[0], at[1], at[2], base.Add(300 * time.Second), base.Add(400 * time.Second)},
		[]string{before, mine[0], mine[1], mine[2], nodata, cut})
	e.putEvents(t, group, e.otherENI+"-all", at, others)

	inc := newIncident(incident.Scope{Instances: []string{e.instance}}, incident.Window{Start: base.Add(-10 * time.Minute), End: base.Add(30 * time.Minute)})
	res, r := e.collectCase(t, inc)
	cwl := "cwl-custody_vpc_flowlogs-" + e.eni + ".jsonl.gz"
	if got, want := artifactNames(inc, r), []string{cwl, "extract.jsonl.gz", "flowlogs.json"}; !reflect.DeepEqual(got, want) {
		t.Fatalf("artifacts %q, want %q", got, want)
	}
	if res.Status != incident.StatusOK || len(r.Gaps) != 0 {
		t.Errorf("result %+v gaps %+v", res, r.Gaps)
	}

	// The raw events: the interface's stream in the window, as it came.
	raw := artifact(t, inc, r, cwl)
	events := jsonLines[Event](t, e, raw.Key)
	var msgs []string
	for _, ev := range events {
		msgs = append(msgs, ev.Message)
		if ev.LogStream != e.eni+"-all" || ev.Timestamp == 0 {
			t.Errorf("event %+v", ev)
		}
	}
	if want := []string{mine[0], mine[1], mine[2], nodata, cut}; !reflect.DeepEqual(msgs, want) {
		t.Fatalf("raw events\n%q\nwant\n%q", msgs, want)
	}
	if raw.Records != 5 || raw.API != "logs:FilterLogEvents" || raw.Origin == nil || raw.Origin.LogGroup != group ||
		raw.Request["logStreamNamePrefix"] != e.eni || raw.Request["startTime"] != float64(inc.Window.Start.UnixMilli()) {
		t.Errorf("raw entry %+v", raw)
	}

	// The extract: the interface's records in the window, NODATA kept,
	// the cut line counted and left out, the other interface's not read.
	lines := jsonLines[Line](t, e, artifact(t, inc, r, "extract.jsonl.gz").Key)
	msgs = nil
	for _, l := range lines {
		msgs = append(msgs, l.Message)
		if l.FlowLogID != fl || l.Origin.LogGroup != group || l.Origin.LogStream != e.eni+"-all" || l.EventID == "" || l.EventTime == nil || l.FormatFrom != "logFormat" {
			t.Errorf("extract line %+v", l)
		}
	}
	if want := []string{mine[0], mine[1], mine[2], nodata}; !reflect.DeepEqual(msgs, want) {
		t.Fatalf("extract\n%q\nwant\n%q", msgs, want)
	}
	if len(r.Warnings) != 1 || !strings.Contains(r.Warnings[0], "flow log "+fl+": 1 of 5 events in "+group+" for "+e.eni+" could not be read") {
		t.Errorf("warnings %q", r.Warnings)
	}
}

func mustInt(t *testing.T, s string) int64 {
	t.Helper()
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// TestGaps: no flow log for the scope, and flow logs whose bucket or log
// group is gone: gaps, never a failure.
func TestGaps(t *testing.T) {
	w := incident.Window{Start: time.Date(2020, 11, 1, 21, 30, 0, 0, time.UTC), End: time.Date(2020, 11, 1, 22, 30, 0, 0, time.UTC)}
	t.Run("no flow log for the instance", func(t *testing.T) {
		e := setup(t)
		// A flow log on another VPC does not cover this one.
		other, err := e.ec2.CreateVpc(context.Background(), &ec2.CreateVpcInput{CidrBlock: aws.String("10.9.0.0/16")})
		if err != nil {
			t.Fatal(err)
		}
		e.flowLogToS3(t, ec2types.FlowLogsResourceTypeVpc, aws.ToString(other.Vpc.VpcId), "")
		inc := newIncident(incident.Scope{Instances: []string{e.instance}}, w)
		res, r := e.collectCase(t, inc)
		if got := artifactNames(inc, r); !reflect.DeepEqual(got, []string{"flowlogs.json"}) {
			t.Errorf("artifacts %q", got)
		}
		want := []evidence.Gap{{Source: "vpcflow",
			Reason: "no flow log records traffic of " + e.eni + " (no flow log on it, its subnet or its VPC " + e.vpc + ")",
			Fix:    "create a VPC flow log for " + e.vpc + " to S3 or CloudWatch Logs (ec2:CreateFlowLogs, traffic type ALL)"}}
		if !reflect.DeepEqual(r.Gaps, want) || res.Status != incident.StatusOK || res.Records != 0 {
			t.Errorf("gaps %+v result %+v", r.Gaps, res)
		}
	})
	t.Run("no flow log for the VPC", func(t *testing.T) {
		e := setup(t)
		inc := newIncident(incident.Scope{VPCs: []string{e.vpc}}, w)
		_, r := e.collectCase(t, inc)
		if len(r.Gaps) != 1 || r.Gaps[0].Reason != "no flow log records traffic of "+e.vpc || !strings.HasPrefix(r.Gaps[0].Fix, "create a VPC flow log for "+e.vpc+" to S3 or CloudWatch Logs") {
			t.Errorf("gaps %+v", r.Gaps)
		}
	})
	t.Run("bucket and log group gone", func(t *testing.T) {
		e := setup(t)
		s3fl := e.flowLogToS3(t, ec2types.FlowLogsResourceTypeVpc, e.vpc, "")
		if _, err := e.s3.DeleteBucket(context.Background(), &s3.DeleteBucketInput{Bucket: aws.String(flowBucket)}); err != nil {
			t.Fatal(err)
		}
		cwfl := e.flowLogToCW(t, ec2types.FlowLogsResourceTypeVpc, e.vpc, "/custody/never-created")
		inc := newIncident(incident.Scope{Instances: []string{e.instance}}, w)
		res, r := e.collectCase(t, inc)
		if got := artifactNames(inc, r); !reflect.DeepEqual(got, []string{"flowlogs.json"}) {
			t.Errorf("artifacts %q", got)
		}
		if res.Status != incident.StatusOK || len(r.Gaps) != 2 {
			t.Fatalf("result %+v gaps %+v", res, r.Gaps)
		}
		var reasons []string
		for _, g := range r.Gaps {
			reasons = append(reasons, g.Reason)
		}
		all := strings.Join(reasons, "\n")
		if !strings.Contains(all, "flow log "+s3fl+": bucket s3://"+flowBucket+" missing") || !strings.Contains(all, "flow log "+cwfl+": log group /custody/never-created does not exist") {
			t.Errorf("gaps %q", reasons)
		}
		// The emulator reports the flow log to a missing group as failing.
		if len(r.Warnings) != 1 || !strings.Contains(r.Warnings[0], "flow log "+cwfl+" on "+e.vpc+": delivery status FAILED") {
			t.Errorf("warnings %q", r.Warnings)
		}
	})
}

// throttlingEC2 answers DescribeFlowLogs with a throttling error.
type throttlingEC2 struct{ ec2API }

func (throttlingEC2) DescribeFlowLogs(context.Context, *ec2.DescribeFlowLogsInput, ...func(*ec2.Options)) (*ec2.DescribeFlowLogsOutput, error) {
	return nil, &smithy.GenericAPIError{Code: "RequestLimitExceeded", Message: "Request limit exceeded."}
}

func TestThrottled(t *testing.T) {
	e := setup(t)
	inc := newIncident(incident.Scope{VPCs: []string{e.vpc}}, incident.Window{Start: fixedNow.Add(-time.Hour), End: fixedNow})
	_, err := e.handler(t, throttlingEC2{e.ec2}).Handle(context.Background(), collect.Input{Incident: *inc, Item: inc.Plan[0]})
	var thr *faults.ThrottledError
	if !errors.As(err, &thr) || thr.Op != "ec2:DescribeFlowLogs" {
		t.Fatalf("Handle: %T %v, want *faults.ThrottledError", err, err)
	}
}

func TestParseKeyName(t *testing.T) {
	n, ok := ParseKeyName("prefix/AWSLogs/123456789012/vpcflowlogs/us-east-1/2024/08/02/123456789012_vpcflowlogs_us-east-1_fl-1234abcd_20240802T0825Z_a1b2c3d4.log.gz")
	if !ok || n.FlowLogID != "fl-1234abcd" || !n.Time.Equal(time.Date(2024, 8, 2, 8, 25, 0, 0, time.UTC)) {
		t.Errorf("%+v %v", n, ok)
	}
	for _, k := range []string{"AWSLogs/1/vpcflowlogs/r/2024/08/02/notes.txt", "123456789012_CloudTrail_us-east-1_20240802T0825Z_a.json.gz",
		"123456789012_vpcflowlogs_us-east-1_fl-1_2024-08-02_a.log.gz"} {
		if _, ok := ParseKeyName(k); ok {
			t.Errorf("%s read as a flow log key", k)
		}
	}
}

func TestS3Destination(t *testing.T) {
	d, err := ParseS3Destination("arn:aws:s3:::my-bucket/flow/logs/")
	if err != nil || d != (S3Destination{Bucket: "my-bucket", Prefix: "flow/logs"}) {
		t.Errorf("%+v %v", d, err)
	}
	base, layout := d.Base("123456789012", "eu-west-1", false)
	if base != "flow/logs/AWSLogs/123456789012/vpcflowlogs/eu-west-1/" || layout != "2006/01/02/" {
		t.Errorf("%s %s", base, layout)
	}
	d, _ = ParseS3Destination("arn:aws-us-gov:s3:::b")
	base, layout = d.Base("123456789012", "us-gov-west-1", true)
	if base != "AWSLogs/aws-account-id=123456789012/aws-service=vpcflowlogs/aws-region=us-gov-west-1/" || layout != "year=2006/month=01/day=02/" {
		t.Errorf("%s %s", base, layout)
	}
	for _, bad := range []string{"my-bucket", "arn:aws:logs:us-east-1:1:log-group:x", "arn:aws:s3:::"} {
		if _, err := ParseS3Destination(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

func TestPadFromEnv(t *testing.T) {
	env := func(v string) func(string) string { return func(string) string { return v } }
	if d, err := PadFromEnv(env("")); err != nil || d != DefaultPad {
		t.Errorf("%v %v", d, err)
	}
	if d, err := PadFromEnv(env("1h")); err != nil || d != time.Hour {
		t.Errorf("%v %v", d, err)
	}
	for _, bad := range []string{"15", "-5m"} {
		var cfg *faults.ConfigurationError
		if _, err := PadFromEnv(env(bad)); !errors.As(err, &cfg) || cfg.Setting != EnvPad {
			t.Errorf("%q: %v", bad, err)
		}
	}
}

func TestCWLName(t *testing.T) {
	if got := CWLName("/aws/vpc/flow logs", "eni-1"); got != "cwl-aws_vpc_flow_logs-eni-1.jsonl.gz" {
		t.Errorf("%s", got)
	}
}
