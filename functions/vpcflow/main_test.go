package main

// Test data: the real flow log samples in shared/logs/vpcflow/testdata
// (origin and license in its SOURCES.md). The tests seed the emulator with
// them as they are, or DERIVED in code and said so where it happens: an
// interface ID replaced by the emulator's, capture times shifted into a
// window (CloudWatch Logs refuses events older than 14 days), a header
// line dropped, a line cut short, a NODATA line's status made SKIPDATA.

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs"
	cwtypes "github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs/types"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/custody-ir/custody/shared/awsconfig"
	"github.com/custody-ir/custody/shared/collect"
	"github.com/custody-ir/custody/shared/emulator"
	"github.com/custody-ir/custody/shared/emulator/s3test"
	"github.com/custody-ir/custody/shared/evidence"
	"github.com/custody-ir/custody/shared/incident"
)

var emu *emulator.Server

func TestMain(m *testing.M) { emulator.Main(m, &emu) }

const (
	testBucket = "custody-evidence-test"
	flowBucket = "custody-flow-logs-test"
	account    = emulator.AccountID
	region     = emulator.Region
	// The image the scenario seeding uses; moto accepts it.
	imageID = "ami-12c6146b"
)

// fixedNow is the driver's clock.
var fixedNow = time.Date(2024, 5, 6, 7, 8, 9, 0, time.UTC)

const testdata = "../../shared/logs/vpcflow/testdata"

func readTestdata(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(testdata, name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// fileLines returns the lines of a flow log file.
func fileLines(t testing.TB, name string) []string {
	var out []string
	sc := bufio.NewScanner(bytes.NewReader(readTestdata(t, name)))
	for sc.Scan() {
		out = append(out, sc.Text())
	}
	return out
}

// scenarioLines returns the six raw v2 lines of the panther-analysis
// scenario (one interface, eni-0b13344793d4fde67, 2020-11-01 21:35–23:01).
func scenarioLines(t testing.TB) []string {
	var out []string
	for _, l := range strings.Split(string(readTestdata(t, "panther-analysis/attacker_vpc.yml")), "\n") {
		if s, ok := strings.CutPrefix(l, "  - "); ok {
			out = append(out, s)
		}
	}
	if len(out) != 6 {
		t.Fatalf("%d scenario lines", len(out))
	}
	return out
}

const scenarioENI = "eni-0b13344793d4fde67"

// DERIVED: a line's interface ID replaced.
func withENI(line, from, to string) string { return strings.Replace(line, " "+from+" ", " "+to+" ", 1) }

// DERIVED: a default-format line's start and end (fields 11 and 12)
// replaced.
func withTimes(line string, start, end int64) string {
	f := strings.Fields(line)
	f[10], f[11] = strconv.FormatInt(start, 10), strconv.FormatInt(end, 10)
	return strings.Join(f, " ")
}

// DERIVED: a default-format line's times shifted by d seconds.
func shifted(line string, d int64) string {
	f := strings.Fields(line)
	s, _ := strconv.ParseInt(f[10], 10, 64)
	e, _ := strconv.ParseInt(f[11], 10, 64)
	return withTimes(line, s+d, e+d)
}

// env is one test's emulator state: the evidence bucket, a VPC with a
// subnet, an instance (its interface and private address) and another
// interface in the same subnet.
type env struct {
	s3       *s3.Client
	ec2      *ec2.Client
	logs     *cloudwatchlogs.Client
	vpc      string
	subnet   string
	instance string
	eni      string
	eniIP    string
	otherENI string
}

func setup(t *testing.T) *env {
	t.Helper()
	ctx := context.Background()
	cfg := emu.Fresh(t)
	e := &env{s3: s3.NewFromConfig(cfg, awsconfig.S3Options), ec2: ec2.NewFromConfig(cfg), logs: cloudwatchlogs.NewFromConfig(cfg)}
	if err := emulator.LockedBucket(ctx, e.s3, testBucket); err != nil {
		t.Fatal(err)
	}
	vpc, err := e.ec2.CreateVpc(ctx, &ec2.CreateVpcInput{CidrBlock: aws.String("10.0.0.0/16")})
	if err != nil {
		t.Fatalf("CreateVpc: %v", err)
	}
	e.vpc = aws.ToString(vpc.Vpc.VpcId)
	sub, err := e.ec2.CreateSubnet(ctx, &ec2.CreateSubnetInput{VpcId: aws.String(e.vpc), CidrBlock: aws.String("10.0.1.0/24")})
	if err != nil {
		t.Fatalf("CreateSubnet: %v", err)
	}
	e.subnet = aws.ToString(sub.Subnet.SubnetId)
	run, err := e.ec2.RunInstances(ctx, &ec2.RunInstancesInput{ImageId: aws.String(imageID), MinCount: aws.Int32(1), MaxCount: aws.Int32(1),
		InstanceType: ec2types.InstanceTypeT3Micro, SubnetId: aws.String(e.subnet)})
	if err != nil {
		t.Fatalf("RunInstances: %v", err)
	}
	inst := run.Instances[0]
	e.instance = aws.ToString(inst.InstanceId)
	if len(inst.NetworkInterfaces) != 1 {
		t.Fatalf("instance has %d interfaces", len(inst.NetworkInterfaces))
	}
	e.eni, e.eniIP = aws.ToString(inst.NetworkInterfaces[0].NetworkInterfaceId), aws.ToString(inst.NetworkInterfaces[0].PrivateIpAddress)
	other, err := e.ec2.CreateNetworkInterface(ctx, &ec2.CreateNetworkInterfaceInput{SubnetId: aws.String(e.subnet)})
	if err != nil {
		t.Fatalf("CreateNetworkInterface: %v", err)
	}
	e.otherENI = aws.ToString(other.NetworkInterface.NetworkInterfaceId)
	if e.eni == "" || e.eniIP == "" || e.otherENI == "" {
		t.Fatalf("setup: %+v", e)
	}
	return e
}

// flowLogToS3 creates a flow log on resource delivering to flowBucket (no
// prefix: the emulator refuses one).
func (e *env) flowLogToS3(t *testing.T, resourceType ec2types.FlowLogsResourceType, resource, logFormat string) string {
	t.Helper()
	ctx := context.Background()
	if _, err := e.s3.HeadBucket(ctx, &s3.HeadBucketInput{Bucket: aws.String(flowBucket)}); err != nil {
		if _, err := e.s3.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(flowBucket)}); err != nil {
			t.Fatalf("CreateBucket: %v", err)
		}
	}
	in := &ec2.CreateFlowLogsInput{ResourceType: resourceType, ResourceIds: []string{resource}, TrafficType: ec2types.TrafficTypeAll,
		LogDestinationType: ec2types.LogDestinationTypeS3, LogDestination: aws.String("arn:aws:s3:::" + flowBucket)}
	if logFormat != "" {
		in.LogFormat = aws.String(logFormat)
	}
	return e.createFlowLog(t, in)
}

// flowLogToCW creates a flow log on resource delivering to a log group
// (the emulator wants a role ARN and does not check it).
func (e *env) flowLogToCW(t *testing.T, resourceType ec2types.FlowLogsResourceType, resource, group string) string {
	t.Helper()
	return e.createFlowLog(t, &ec2.CreateFlowLogsInput{ResourceType: resourceType, ResourceIds: []string{resource}, TrafficType: ec2types.TrafficTypeAll,
		LogDestinationType: ec2types.LogDestinationTypeCloudWatchLogs, LogGroupName: aws.String(group),
		DeliverLogsPermissionArn: aws.String("arn:aws:iam::" + account + ":role/flow-logs-delivery")})
}

func (e *env) createFlowLog(t *testing.T, in *ec2.CreateFlowLogsInput) string {
	t.Helper()
	out, err := e.ec2.CreateFlowLogs(context.Background(), in)
	if err != nil || len(out.FlowLogIds) != 1 {
		t.Fatalf("CreateFlowLogs: %v %+v", err, out)
	}
	return out.FlowLogIds[0]
}

// flowKey is where AWS delivers a flow log file.
func flowKey(flowLogID string, at time.Time, hash, ext string) string {
	return "AWSLogs/" + account + "/vpcflowlogs/" + region + "/" + at.UTC().Format("2006/01/02") + "/" +
		account + "_vpcflowlogs_" + region + "_" + flowLogID + "_" + at.UTC().Format("20060102T1504Z") + "_" + hash + ext
}

// putFlowFile stores lines as a gzip flow log file and returns the stored
// bytes.
func (e *env) putFlowFile(t *testing.T, key string, lines ...string) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	zw.Write([]byte(strings.Join(lines, "\n") + "\n"))
	zw.Close()
	e.put(t, flowBucket, key, buf.Bytes())
	return buf.Bytes()
}

func (e *env) put(t *testing.T, bucket, key string, body []byte) {
	t.Helper()
	if _, err := e.s3.PutObject(context.Background(), &s3.PutObjectInput{Bucket: aws.String(bucket), Key: aws.String(key), Body: bytes.NewReader(body)}); err != nil {
		t.Fatalf("PutObject %s: %v", key, err)
	}
}

// putEvents writes messages to a log stream, one event each, at the given
// times.
func (e *env) putEvents(t *testing.T, group, stream string, at []time.Time, messages []string) {
	t.Helper()
	ctx := context.Background()
	if _, err := e.logs.CreateLogStream(ctx, &cloudwatchlogs.CreateLogStreamInput{LogGroupName: aws.String(group), LogStreamName: aws.String(stream)}); err != nil {
		t.Fatalf("CreateLogStream: %v", err)
	}
	var evs []cwtypes.InputLogEvent
	for i, m := range messages {
		evs = append(evs, cwtypes.InputLogEvent{Timestamp: aws.Int64(at[i].UnixMilli()), Message: aws.String(m)})
	}
	if _, err := e.logs.PutLogEvents(ctx, &cloudwatchlogs.PutLogEventsInput{LogGroupName: aws.String(group), LogStreamName: aws.String(stream), LogEvents: evs}); err != nil {
		t.Fatalf("PutLogEvents: %v", err)
	}
}

func newIncident(sc incident.Scope, w incident.Window) *incident.Incident {
	if sc.AccountID == "" {
		sc.AccountID = account
	}
	if sc.Region == "" {
		sc.Region = region
	}
	return &incident.Incident{CaseID: "gd-vpcflow-test", RunID: incident.RunIDFor(fixedNow), Scope: sc, Window: w, OpenedAt: fixedNow,
		Plan: []incident.PlanItem{{Collector: Name}}}
}

func (e *env) handler(t *testing.T, ec2c ec2API) *Handler {
	if ec2c == nil {
		ec2c = e.ec2
	}
	w := evidence.NewWriter(e.s3, testBucket, evidence.WithTempDir(t.TempDir()), evidence.WithClock(func() time.Time { return fixedNow }))
	return &Handler{
		Driver:    &collect.Driver{Writer: w, Version: "test", Now: func() time.Time { return fixedNow }},
		Collector: &FlowLogCollector{EC2: ec2c, Logs: e.logs, Objects: e.s3, Region: region, Pad: DefaultPad},
	}
}

// collectCase runs the collector and returns its summary and stored result.
func (e *env) collectCase(t *testing.T, inc *incident.Incident) (incident.Result, evidence.CollectorResult) {
	t.Helper()
	res, err := e.handler(t, nil).Handle(context.Background(), collect.Input{Incident: *inc, Item: inc.Plan[0]})
	if err != nil {
		t.Fatalf("Handle: %v", err)
	}
	return res, e.stored(t, res.ResultKey)
}

// stored reads the collector result at key and checks each artifact's
// manifest entry against the stored object.
func (e *env) stored(t *testing.T, key string) evidence.CollectorResult {
	t.Helper()
	var stored evidence.CollectorResult
	s3test.ObjectJSON(t, e.s3, testBucket, key, &stored)
	for _, a := range stored.Artifacts {
		body, version := s3test.Object(t, e.s3, testBucket, a.Key)
		if a.SHA256 != sha256Hex(body) || a.Size != int64(len(body)) || a.VersionID != version || a.Source != evidence.SourceVPCFlow || a.Collector != Name {
			t.Errorf("%s: manifest entry %+v; stored sha256 %s size %d version %s", a.Key, a, sha256Hex(body), len(body), version)
		}
	}
	return stored
}

func runPrefix(inc *incident.Incident) string {
	return "cases/" + inc.CaseID + "/runs/" + inc.RunID + "/vpcflow/"
}

// artifactNames lists the stored artifacts' names under the collector's
// folder.
func artifactNames(inc *incident.Incident, r evidence.CollectorResult) []string {
	var out []string
	for _, a := range r.Artifacts {
		out = append(out, strings.TrimPrefix(a.Key, runPrefix(inc)))
	}
	sort.Strings(out)
	return out
}

func artifact(t *testing.T, inc *incident.Incident, r evidence.CollectorResult, name string) evidence.Artifact {
	t.Helper()
	for _, a := range r.Artifacts {
		if a.Key == runPrefix(inc)+name {
			return a
		}
	}
	t.Fatalf("no artifact %s in %q", name, artifactNames(inc, r))
	return evidence.Artifact{}
}

// jsonLines reads a stored .jsonl.gz artifact.
func jsonLines[T any](t *testing.T, e *env, key string) []T {
	t.Helper()
	b := s3test.Body(t, e.s3, testBucket, key)
	zr, err := gzip.NewReader(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	var out []T
	dec := json.NewDecoder(zr)
	for {
		var v T
		if err := dec.Decode(&v); err == io.EOF {
			break
		} else if err != nil {
			t.Fatal(err)
		}
		out = append(out, v)
	}
	return out
}

func sha256Hex(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

func utc(sec int64) time.Time { return time.Unix(sec, 0).UTC() }
