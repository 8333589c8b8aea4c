package main

import (
	"context"
	"encoding/base64"
	"errors"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/custody-ir/custody/shared/awsconfig"
	"github.com/custody-ir/custody/shared/collect"
	"github.com/custody-ir/custody/shared/emulator"
	"github.com/custody-ir/custody/shared/evidence"
	"github.com/custody-ir/custody/shared/incident"
)

var emu *emulator.Server

func TestMain(m *testing.M) { emulator.Main(m, &emu) }

const (
	testBucket = "custody-evidence-test"
	// testAMI is one of the images moto serves.
	testAMI      = "ami-12c6146b"
	testUserData = "#!/bin/bash\necho custody-test > /tmp/marker\n"
	findingID    = "b4b01b60fc24a199139f8f5f490edd81"
)

// fixedNow is the collector's clock in every test.
var fixedNow = time.Date(2024, 5, 6, 7, 8, 9, 0, time.UTC)

// world is one emulator state: the evidence bucket and an instance with an
// extra volume, a security group, an instance profile and user data.
type world struct {
	s3  *s3.Client
	ec2 *ec2.Client
	iam *iam.Client

	vpc, subnet, sg  string
	instance         string
	bootVol, dataVol string
	eni              string
	profileArn       string
}

// newWorld resets the emulator and builds the world.
func newWorld(t testing.TB) *world {
	t.Helper()
	ctx := context.Background()
	cfg := emu.Fresh(t)
	w := &world{s3: s3.NewFromConfig(cfg, awsconfig.S3Options), ec2: ec2.NewFromConfig(cfg), iam: iam.NewFromConfig(cfg)}
	must(t, "LockedBucket", emulator.LockedBucket(ctx, w.s3, testBucket))

	vpc, err := w.ec2.CreateVpc(ctx, &ec2.CreateVpcInput{CidrBlock: aws.String("10.0.0.0/16")})
	must(t, "CreateVpc", err)
	w.vpc = aws.ToString(vpc.Vpc.VpcId)
	sub, err := w.ec2.CreateSubnet(ctx, &ec2.CreateSubnetInput{VpcId: vpc.Vpc.VpcId, CidrBlock: aws.String("10.0.1.0/24"), AvailabilityZone: aws.String("us-east-1a")})
	must(t, "CreateSubnet", err)
	w.subnet = aws.ToString(sub.Subnet.SubnetId)
	sg, err := w.ec2.CreateSecurityGroup(ctx, &ec2.CreateSecurityGroupInput{GroupName: aws.String("web"), Description: aws.String("web"), VpcId: vpc.Vpc.VpcId})
	must(t, "CreateSecurityGroup", err)
	w.sg = aws.ToString(sg.GroupId)
	_, err = w.ec2.AuthorizeSecurityGroupIngress(ctx, &ec2.AuthorizeSecurityGroupIngressInput{
		GroupId: sg.GroupId, IpProtocol: aws.String("tcp"), FromPort: aws.Int32(22), ToPort: aws.Int32(22), CidrIp: aws.String("10.0.0.0/8"),
	})
	must(t, "AuthorizeSecurityGroupIngress", err)

	_, err = w.iam.CreateRole(ctx, &iam.CreateRoleInput{RoleName: aws.String("web-role"),
		AssumeRolePolicyDocument: aws.String(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"ec2.amazonaws.com"},"Action":"sts:AssumeRole"}]}`)})
	must(t, "CreateRole", err)
	prof, err := w.iam.CreateInstanceProfile(ctx, &iam.CreateInstanceProfileInput{InstanceProfileName: aws.String("web-profile")})
	must(t, "CreateInstanceProfile", err)
	w.profileArn = aws.ToString(prof.InstanceProfile.Arn)
	_, err = w.iam.AddRoleToInstanceProfile(ctx, &iam.AddRoleToInstanceProfileInput{InstanceProfileName: aws.String("web-profile"), RoleName: aws.String("web-role")})
	must(t, "AddRoleToInstanceProfile", err)

	w.instance = w.runInstance(t, base64.StdEncoding.EncodeToString([]byte(testUserData)))
	vol, err := w.ec2.CreateVolume(ctx, &ec2.CreateVolumeInput{AvailabilityZone: aws.String("us-east-1a"), Size: aws.Int32(8),
		TagSpecifications: []ec2types.TagSpecification{{ResourceType: ec2types.ResourceTypeVolume, Tags: []ec2types.Tag{{Key: aws.String("Name"), Value: aws.String("data")}}}}})
	must(t, "CreateVolume", err)
	w.dataVol = aws.ToString(vol.VolumeId)
	_, err = w.ec2.AttachVolume(ctx, &ec2.AttachVolumeInput{VolumeId: vol.VolumeId, InstanceId: aws.String(w.instance), Device: aws.String("/dev/sdf")})
	must(t, "AttachVolume", err)

	inst := w.describe(t, w.instance)
	for _, m := range inst.BlockDeviceMappings {
		if v := aws.ToString(m.Ebs.VolumeId); v != w.dataVol {
			w.bootVol = v
		}
	}
	if w.bootVol == "" || len(inst.NetworkInterfaces) != 1 {
		t.Fatalf("instance %s: block devices %+v, %d ENIs", w.instance, inst.BlockDeviceMappings, len(inst.NetworkInterfaces))
	}
	w.eni = aws.ToString(inst.NetworkInterfaces[0].NetworkInterfaceId)
	return w
}

func (w *world) runInstance(t testing.TB, userData string) string {
	t.Helper()
	run, err := w.ec2.RunInstances(context.Background(), &ec2.RunInstancesInput{
		ImageId: aws.String(testAMI), MinCount: aws.Int32(1), MaxCount: aws.Int32(1), InstanceType: ec2types.InstanceTypeT3Micro,
		SubnetId: aws.String(w.subnet), SecurityGroupIds: []string{w.sg}, UserData: aws.String(userData),
		IamInstanceProfile: &ec2types.IamInstanceProfileSpecification{Name: aws.String("web-profile")},
		TagSpecifications: []ec2types.TagSpecification{{ResourceType: ec2types.ResourceTypeInstance,
			Tags: []ec2types.Tag{{Key: aws.String("Name"), Value: aws.String("web-1")}, {Key: aws.String("team"), Value: aws.String("payments")}}}},
	})
	must(t, "RunInstances", err)
	return aws.ToString(run.Instances[0].InstanceId)
}

func (w *world) describe(t testing.TB, id string) ec2types.Instance {
	t.Helper()
	out, err := w.ec2.DescribeInstances(context.Background(), &ec2.DescribeInstancesInput{InstanceIds: []string{id}})
	must(t, "DescribeInstances", err)
	if len(out.Reservations) != 1 || len(out.Reservations[0].Instances) != 1 {
		t.Fatalf("DescribeInstances %s: %+v", id, out.Reservations)
	}
	return out.Reservations[0].Instances[0]
}

// snapshotsOf lists the snapshots tagged with the case, by volume.
func (w *world) snapshotsOf(t testing.TB, caseID string) []ec2types.Snapshot {
	t.Helper()
	out, err := w.ec2.DescribeSnapshots(context.Background(), &ec2.DescribeSnapshotsInput{
		OwnerIds: []string{"self"}, Filters: []ec2types.Filter{{Name: aws.String("tag:" + TagCaseID), Values: []string{caseID}}},
	})
	must(t, "DescribeSnapshots", err)
	sort.Slice(out.Snapshots, func(i, j int) bool {
		return aws.ToString(out.Snapshots[i].VolumeId) < aws.ToString(out.Snapshots[j].VolumeId)
	})
	return out.Snapshots
}

// incidentFor is the run Triage would build for a finding on the instances.
func incidentFor(instances ...string) incident.Incident {
	return incident.Incident{
		CaseID:  incident.CaseIDForFinding(findingID),
		RunID:   incident.RunIDFor(fixedNow.Add(-time.Hour)),
		Finding: &incident.FindingSummary{ID: findingID, Type: "Backdoor:EC2/C&CActivity.B", AccountID: emulator.AccountID, Region: emulator.Region, ResourceType: "Instance"},
		Scope:   incident.Scope{AccountID: emulator.AccountID, Region: emulator.Region, Instances: instances},
		Plan:    []incident.PlanItem{{Collector: collectorName}},
	}
}

func (w *world) collector() *InstanceCollector {
	return &InstanceCollector{EC2: w.ec2, Snapshots: w.ec2, IAM: w.iam, AccountID: emulator.AccountID, Region: emulator.Region}
}

func (w *world) writer(t testing.TB) *evidence.Writer {
	return evidence.NewWriter(w.s3, testBucket, evidence.WithTempDir(t.TempDir()), evidence.WithClock(func() time.Time { return fixedNow }))
}

// handler runs c through the shared driver, answering re-invocations from
// the stored result as deployed.
func (w *world) handler(t testing.TB, c collect.Collector) *Handler {
	return &Handler{
		Driver: &collect.Driver{Writer: w.writer(t), Version: "test", Now: func() time.Time { return fixedNow },
			Results: w.s3, Bucket: testBucket},
		Collector: c,
	}
}

// crashingWriter is the evidence writer of a Lambda that dies after the
// collector's work and before its result is stored.
type crashingWriter struct{ collect.Writer }

var errCrash = errors.New("the Lambda ran out of time")

func (c crashingWriter) PutJSON(ctx context.Context, key string, v any, meta evidence.PutMeta) (evidence.Artifact, error) {
	if strings.HasSuffix(key, "/results/"+collectorName+".json") {
		return evidence.Artifact{}, errCrash
	}
	return c.Writer.PutJSON(ctx, key, v, meta)
}

// faultyEC2 is the emulator's EC2 with some calls answered by an error (or,
// for LockSnapshot, which moto does not implement, by success), recording
// the LockSnapshot calls.
type faultyEC2 struct {
	*ec2.Client
	fail map[string]error
	// latestErr answers GetConsoleOutput with Latest=true only.
	latestErr error
	lockOK    bool

	mu    sync.Mutex
	locks []*ec2.LockSnapshotInput
}

func (f *faultyEC2) DescribeInstances(ctx context.Context, in *ec2.DescribeInstancesInput, opts ...func(*ec2.Options)) (*ec2.DescribeInstancesOutput, error) {
	if err := f.fail["DescribeInstances"]; err != nil {
		return nil, err
	}
	return f.Client.DescribeInstances(ctx, in, opts...)
}

func (f *faultyEC2) GetConsoleOutput(ctx context.Context, in *ec2.GetConsoleOutputInput, opts ...func(*ec2.Options)) (*ec2.GetConsoleOutputOutput, error) {
	if err := f.fail["GetConsoleOutput"]; err != nil {
		return nil, err
	}
	if f.latestErr != nil && aws.ToBool(in.Latest) {
		return nil, f.latestErr
	}
	return f.Client.GetConsoleOutput(ctx, in, opts...)
}

func (f *faultyEC2) CreateSnapshots(ctx context.Context, in *ec2.CreateSnapshotsInput, opts ...func(*ec2.Options)) (*ec2.CreateSnapshotsOutput, error) {
	if err := f.fail["CreateSnapshots"]; err != nil {
		return nil, err
	}
	return f.Client.CreateSnapshots(ctx, in, opts...)
}

func (f *faultyEC2) LockSnapshot(ctx context.Context, in *ec2.LockSnapshotInput, opts ...func(*ec2.Options)) (*ec2.LockSnapshotOutput, error) {
	f.mu.Lock()
	f.locks = append(f.locks, in)
	f.mu.Unlock()
	if err := f.fail["LockSnapshot"]; err != nil {
		return nil, err
	}
	if f.lockOK {
		return &ec2.LockSnapshotOutput{SnapshotId: in.SnapshotId, LockState: ec2types.LockStateGovernance, LockDuration: in.LockDuration}, nil
	}
	return f.Client.LockSnapshot(ctx, in, opts...)
}

func must(t testing.TB, op string, err error) {
	t.Helper()
	if err != nil {
		t.Fatalf("%s: %v", op, err)
	}
}
