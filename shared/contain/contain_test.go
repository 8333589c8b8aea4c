package contain

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	iamtypes "github.com/aws/aws-sdk-go-v2/service/iam/types"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	kmstypes "github.com/aws/aws-sdk-go-v2/service/kms/types"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/custody-ir/custody/shared/emulator"
	"github.com/custody-ir/custody/shared/evidence"
	"github.com/custody-ir/custody/shared/incident"
)

var emu *emulator.Server

func TestMain(m *testing.M) { emulator.Main(m, &emu) }

const testBucket = "custody-evidence-test"

// world is what one test sets up in the emulator.
type world struct {
	h         *Handler
	s3        *s3.Client
	ec2       *ec2.Client
	iam       *iam.Client
	vpc       string
	instance  string // two ENIs, each with two groups
	protected string // tagged custody:protected=true
	groups    []string
	key       string
}

func setup(t *testing.T, modes map[Class]Mode) *world {
	t.Helper()
	ctx := context.Background()
	s3c := emu.FreshLockedBucket(t, testBucket)
	cfg, err := emu.Config(ctx)
	if err != nil {
		t.Fatal(err)
	}
	w := &world{s3: s3c, ec2: ec2.NewFromConfig(cfg), iam: iam.NewFromConfig(cfg)}
	vpc, err := w.ec2.CreateVpc(ctx, &ec2.CreateVpcInput{CidrBlock: aws.String("10.9.0.0/16")})
	if err != nil {
		t.Fatal(err)
	}
	w.vpc = aws.ToString(vpc.Vpc.VpcId)
	subnet, err := w.ec2.CreateSubnet(ctx, &ec2.CreateSubnetInput{VpcId: vpc.Vpc.VpcId, CidrBlock: aws.String("10.9.1.0/24")})
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"web", "ssh"} {
		g, err := w.ec2.CreateSecurityGroup(ctx, &ec2.CreateSecurityGroupInput{GroupName: aws.String(name), Description: aws.String(name), VpcId: vpc.Vpc.VpcId})
		if err != nil {
			t.Fatal(err)
		}
		w.groups = append(w.groups, aws.ToString(g.GroupId))
	}
	slices.Sort(w.groups)
	run := func(tags []ec2types.Tag) string {
		spec := []ec2types.TagSpecification{}
		if tags != nil {
			spec = append(spec, ec2types.TagSpecification{ResourceType: ec2types.ResourceTypeInstance, Tags: tags})
		}
		out, err := w.ec2.RunInstances(ctx, &ec2.RunInstancesInput{
			ImageId: aws.String("ami-12c6146b"), MinCount: aws.Int32(1), MaxCount: aws.Int32(1),
			SubnetId: subnet.Subnet.SubnetId, SecurityGroupIds: w.groups, TagSpecifications: spec,
		})
		if err != nil {
			t.Fatal(err)
		}
		id := aws.ToString(out.Instances[0].InstanceId)
		eni, err := w.ec2.CreateNetworkInterface(ctx, &ec2.CreateNetworkInterfaceInput{SubnetId: subnet.Subnet.SubnetId, Groups: w.groups})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := w.ec2.AttachNetworkInterface(ctx, &ec2.AttachNetworkInterfaceInput{
			InstanceId: aws.String(id), NetworkInterfaceId: eni.NetworkInterface.NetworkInterfaceId, DeviceIndex: aws.Int32(1),
		}); err != nil {
			t.Fatal(err)
		}
		return id
	}
	w.instance = run(nil)
	w.protected = run([]ec2types.Tag{{Key: aws.String("custody:protected"), Value: aws.String("true")}})

	for _, u := range []struct {
		name string
		tags []iamtypes.Tag
	}{{"mallory", nil}, {"breakglass", []iamtypes.Tag{{Key: aws.String("custody:protected"), Value: aws.String("true")}}}} {
		if _, err := w.iam.CreateUser(ctx, &iam.CreateUserInput{UserName: aws.String(u.name), Tags: u.tags}); err != nil {
			t.Fatal(err)
		}
		k, err := w.iam.CreateAccessKey(ctx, &iam.CreateAccessKeyInput{UserName: aws.String(u.name)})
		if err != nil {
			t.Fatal(err)
		}
		if u.name == "mallory" {
			w.key = aws.ToString(k.AccessKey.AccessKeyId)
		}
	}
	if _, err := w.iam.CreateRole(ctx, &iam.CreateRoleInput{RoleName: aws.String("app"), AssumeRolePolicyDocument: aws.String(`{"Version":"2012-10-17","Statement":[]}`)}); err != nil {
		t.Fatal(err)
	}
	// A real RSA signing key in the emulator's KMS: every step's
	// statement is signed and checkable (checkStatements).
	kmsc := kms.NewFromConfig(cfg)
	k, err := kmsc.CreateKey(ctx, &kms.CreateKeyInput{KeySpec: kmstypes.KeySpecRsa2048, KeyUsage: kmstypes.KeyUsageTypeSignVerify})
	if err != nil {
		t.Fatal(err)
	}
	keyARN := aws.ToString(k.KeyMetadata.Arn)
	h, err := FromEnv(func(k string) string {
		if k == EnvSigningKey {
			return keyARN
		}
		return ""
	})
	if err != nil {
		t.Fatal(err)
	}
	h.Signer = kmsc
	h.Reader, h.Lister, h.Bucket = s3c, s3c, testBucket
	h.Modes = modes
	h.AccountID = emulator.AccountID
	h.EC2, h.IAM = w.ec2, w.iam
	h.Writer = evidence.NewWriter(s3c, testBucket)
	h.Now = func() time.Time { return time.Date(2026, 12, 2, 20, 0, 0, 0, time.UTC) }
	w.h = h
	return w
}

func (w *world) incident() incident.Incident {
	return incident.Incident{CaseID: "case-1", RunID: "run-1", Scope: incident.Scope{
		AccountID: emulator.AccountID,
		Instances: []string{w.instance, w.protected},
		UserNames: []string{"mallory", "breakglass"},
		RoleNames: []string{"app"},
	}}
}

// eniGroups is each of the instance's ENIs' whole group list, as EC2 says.
func (w *world) eniGroups(t *testing.T, instance string) map[string][]string {
	t.Helper()
	g, err := (&Handler{EC2: w.ec2}).eniGroups(context.Background(), instance)
	if err != nil {
		t.Fatal(err)
	}
	if len(g) != 2 {
		t.Fatalf("instance %s has %d ENIs, want 2", instance, len(g))
	}
	return g
}

func (w *world) keyStatus(t *testing.T, user string) []string {
	t.Helper()
	out, err := w.iam.ListAccessKeys(context.Background(), &iam.ListAccessKeysInput{UserName: aws.String(user)})
	if err != nil {
		t.Fatal(err)
	}
	var s []string
	for _, k := range out.AccessKeyMetadata {
		s = append(s, string(k.Status))
	}
	return s
}

func (w *world) storedPlan(t *testing.T, name string) Plan {
	t.Helper()
	out, err := w.s3.GetObject(context.Background(), &s3.GetObjectInput{Bucket: aws.String(testBucket), Key: aws.String("cases/case-1/runs/run-1/containment/" + name)})
	if err != nil {
		t.Fatal(err)
	}
	defer out.Body.Close()
	b, _ := io.ReadAll(out.Body)
	var p Plan
	if err := json.Unmarshal(b, &p); err != nil {
		t.Fatal(err)
	}
	return p
}

func byTarget(actions []Action) map[string]Action {
	m := map[string]Action{}
	for _, a := range actions {
		m[a.Target] = a
	}
	return m
}

func TestContainModes(t *testing.T) {
	all := func(m Mode) map[Class]Mode {
		return map[Class]Mode{ClassEC2: m, ClassAccessKey: m, ClassRole: m}
	}
	for _, tc := range []struct {
		name    string
		modes   map[Class]Mode
		applied bool
		status  Status
	}{
		{"dry-run changes nothing", all(ModeDryRun), false, StatusPlanned},
		{"approve waits", all(ModeApprove), false, StatusAwaiting},
		{"auto applies", all(ModeAuto), true, StatusApplied},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			w := setup(t, tc.modes)
			before := w.eniGroups(t, w.instance)
			out, err := w.h.Handle(ctx, Input{Incident: w.incident()})
			if err != nil {
				t.Fatal(err)
			}
			got := byTarget(out.Actions)
			if a := got[w.protected]; a.Status != StatusProtected {
				t.Errorf("protected instance: status %q, want %q", a.Status, StatusProtected)
			}
			if a := got[w.instance]; a.Status != tc.status || len(a.Before.ENIGroups) != 2 {
				t.Errorf("instance: status %q with before %v, want %q with 2 ENIs", a.Status, a.Before, tc.status)
			}
			if a := got[w.key]; a.Status != tc.status || a.Before.KeyStatus != "Active" {
				t.Errorf("key: %+v", a)
			}
			if a := got["app"]; a.Status != tc.status {
				t.Errorf("role: %+v", a)
			}
			// The plan is in the case whatever the mode, with the before-state.
			plan := w.storedPlan(t, "plan.json")
			if p := byTarget(plan.Actions)[w.instance]; len(p.Before.ENIGroups) != 2 {
				t.Errorf("stored plan: instance before %v", p.Before)
			}
			// The protected instance is untouched in every mode.
			for eni, g := range w.eniGroups(t, w.protected) {
				if !slices.Equal(g, w.groups) {
					t.Errorf("protected %s: groups %v, want %v", eni, g, w.groups)
				}
			}
			if s := w.keyStatus(t, "breakglass"); !slices.Equal(s, []string{"Active"}) {
				t.Errorf("protected user's key: %v", s)
			}
			after := w.eniGroups(t, w.instance)
			if !tc.applied {
				for eni, g := range after {
					if !slices.Equal(g, before[eni]) {
						t.Errorf("%s changed in %s: %v -> %v", eni, tc.name, before[eni], g)
					}
				}
				if s := w.keyStatus(t, "mallory"); !slices.Equal(s, []string{"Active"}) {
					t.Errorf("key changed in %s: %v", tc.name, s)
				}
				return
			}
			iso := got[w.instance].IsolationGroup
			if iso == "" || slices.Contains(w.groups, iso) {
				t.Fatalf("isolation group %q", iso)
			}
			for eni, g := range after {
				if !slices.Equal(g, []string{iso}) {
					t.Errorf("%s: groups %v, want only %s", eni, g, iso)
				}
			}
			sg, err := w.ec2.DescribeSecurityGroups(ctx, &ec2.DescribeSecurityGroupsInput{GroupIds: []string{iso}})
			if err != nil {
				t.Fatal(err)
			}
			if g := sg.SecurityGroups[0]; len(g.IpPermissions) != 0 || len(g.IpPermissionsEgress) != 0 {
				t.Errorf("isolation group has rules: in %v out %v", g.IpPermissions, g.IpPermissionsEgress)
			}
			if s := w.keyStatus(t, "mallory"); !slices.Equal(s, []string{"Inactive"}) {
				t.Errorf("key after apply: %v, want Inactive", s)
			}
			pol, err := w.iam.GetRolePolicy(ctx, &iam.GetRolePolicyInput{RoleName: aws.String("app"), PolicyName: aws.String(RoleDenyPolicy)})
			if err != nil {
				t.Fatalf("role deny: %v", err)
			}
			if doc, _ := url.QueryUnescape(aws.ToString(pol.PolicyDocument)); !containsAll(doc, "aws:TokenIssueTime", "2026-12-02T20:00:00Z", "Deny") {
				t.Errorf("role deny document: %s", doc)
			}
			rec := w.storedPlan(t, "applied.json")
			if a := byTarget(rec.Actions)[w.instance]; a.Status != StatusApplied || len(a.After.ENIGroups) != 2 {
				t.Errorf("stored record: %+v", a)
			}

			// Rollback restores every before-state.
			for _, a := range rec.Actions {
				if a.Status != StatusApplied {
					continue
				}
				if err := w.h.Rollback(ctx, &a); err != nil {
					t.Fatalf("rollback %s: %v", a.Target, err)
				}
			}
			for eni, g := range w.eniGroups(t, w.instance) {
				if !slices.Equal(g, before[eni]) {
					t.Errorf("%s after rollback: %v, want %v", eni, g, before[eni])
				}
			}
			if s := w.keyStatus(t, "mallory"); !slices.Equal(s, []string{"Active"}) {
				t.Errorf("key after rollback: %v", s)
			}
			if _, err := w.iam.GetRolePolicy(ctx, &iam.GetRolePolicyInput{RoleName: aws.String("app"), PolicyName: aws.String(RoleDenyPolicy)}); !notFound(err) {
				t.Errorf("role deny after rollback: %v, want NoSuchEntity", err)
			}
		})
	}
}

func containsAll(s string, subs ...string) bool {
	for _, sub := range subs {
		if !json.Valid([]byte(s)) || !strings.Contains(s, sub) {
			return false
		}
	}
	return true
}

func TestContainRollbackRefusesDrift(t *testing.T) {
	ctx := context.Background()
	w := setup(t, map[Class]Mode{ClassEC2: ModeAuto})
	out, err := w.h.Handle(ctx, Input{Incident: w.incident()})
	if err != nil {
		t.Fatal(err)
	}
	a := byTarget(out.Actions)[w.instance]
	var eni string
	for e := range a.After.ENIGroups {
		eni = e
	}
	// Someone changed the ENI after containment: rollback must not undo it.
	if _, err := w.ec2.ModifyNetworkInterfaceAttribute(ctx, &ec2.ModifyNetworkInterfaceAttributeInput{NetworkInterfaceId: aws.String(eni), Groups: w.groups[:1]}); err != nil {
		t.Fatal(err)
	}
	drifted := w.eniGroups(t, w.instance)
	var drift *DriftError
	if err := w.h.Rollback(ctx, &a); !errors.As(err, &drift) {
		t.Fatalf("rollback after drift: %v, want a DriftError", err)
	}
	for e, g := range w.eniGroups(t, w.instance) {
		if !slices.Equal(g, drifted[e]) {
			t.Errorf("%s changed by a refused rollback: %v -> %v", e, drifted[e], g)
		}
	}
}

func TestContainRefusesAnotherAccount(t *testing.T) {
	w := setup(t, map[Class]Mode{ClassEC2: ModeAuto, ClassAccessKey: ModeAuto, ClassRole: ModeAuto})
	inc := w.incident()
	inc.Scope.AccountID = "210987654321"
	var ce *ContainError
	if _, err := w.h.Handle(context.Background(), Input{Incident: inc}); !errors.As(err, &ce) {
		t.Fatalf("a member account's case: %v, want a ContainError", err)
	}
	if s := w.keyStatus(t, "mallory"); !slices.Equal(s, []string{"Active"}) {
		t.Errorf("key of a same-named user here changed: %v", s)
	}
}

func TestContainOffPlansNothing(t *testing.T) {
	w := setup(t, map[Class]Mode{})
	out, err := w.h.Handle(context.Background(), Input{Incident: w.incident()})
	if err != nil {
		t.Fatal(err)
	}
	if len(out.Actions) != 0 {
		t.Errorf("off planned %+v", out.Actions)
	}
}

func TestContainFromEnv(t *testing.T) {
	for _, tc := range []struct {
		env     map[string]string
		wantErr bool
		ec2     Mode
		key     string
	}{
		{map[string]string{}, false, ModeOff, "custody:protected"},
		{map[string]string{EnvEC2: "auto", EnvProtectedTag: "keep=yes"}, false, ModeAuto, "keep"},
		{map[string]string{EnvEC2: "on"}, true, "", ""},
		{map[string]string{EnvProtectedTag: "nokey"}, true, "", ""},
		{map[string]string{EnvLambda: "throttle"}, true, "", ""},
		{map[string]string{EnvS3Bucket: "on"}, true, "", ""},
		{map[string]string{EnvSubnetNACL: "yes"}, true, "", ""},
		{map[string]string{EnvLambda: "auto", EnvS3Bucket: "approve", EnvSubnetNACL: "dry-run"}, false, ModeOff, "custody:protected"},
		// No containment key: nothing could be signed, so the function
		// does not start.
		{map[string]string{EnvSigningKey: ""}, true, "", ""},
	} {
		h, err := FromEnv(func(k string) string {
			if v, ok := tc.env[k]; ok || k != EnvSigningKey {
				return v
			}
			return "arn:aws:kms:us-east-1:123456789012:key/contain"
		})
		if (err != nil) != tc.wantErr {
			t.Errorf("%v: err %v, want error %v", tc.env, err, tc.wantErr)
			continue
		}
		if err == nil && (h.Modes[ClassEC2] != tc.ec2 || h.ProtectedKey != tc.key) {
			t.Errorf("%v: ec2 %q key %q", tc.env, h.Modes[ClassEC2], h.ProtectedKey)
		}
	}
}
