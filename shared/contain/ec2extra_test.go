package contain

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/autoscaling"
	astypes "github.com/aws/aws-sdk-go-v2/service/autoscaling/types"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	elbv2 "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"
	elbv2types "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2/types"

	"github.com/custody-ir/custody/shared/incident"
)

// fleet is an Auto Scaling group of one instance, registered in a target
// group, in the world's VPC.
type fleet struct {
	asg      *autoscaling.Client
	elb      *elbv2.Client
	instance string
	group    string // target group ARN
}

func (w *world) newFleet(t *testing.T) fleet {
	t.Helper()
	ctx := context.Background()
	cfg, err := emu.Config(ctx)
	if err != nil {
		t.Fatal(err)
	}
	f := fleet{asg: autoscaling.NewFromConfig(cfg), elb: elbv2.NewFromConfig(cfg)}
	subnets, err := w.ec2.DescribeSubnets(ctx, &ec2.DescribeSubnetsInput{Filters: []ec2types.Filter{{Name: aws.String("vpc-id"), Values: []string{w.vpc}}}})
	if err != nil || len(subnets.Subnets) == 0 {
		t.Fatalf("subnets: %v", err)
	}
	lt, err := w.ec2.CreateLaunchTemplate(ctx, &ec2.CreateLaunchTemplateInput{LaunchTemplateName: aws.String("web"),
		LaunchTemplateData: &ec2types.RequestLaunchTemplateData{ImageId: aws.String("ami-12c6146b"), SecurityGroupIds: w.groups}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.asg.CreateAutoScalingGroup(ctx, &autoscaling.CreateAutoScalingGroupInput{
		AutoScalingGroupName: aws.String("web"), MinSize: aws.Int32(1), MaxSize: aws.Int32(3), DesiredCapacity: aws.Int32(1),
		LaunchTemplate:    &astypes.LaunchTemplateSpecification{LaunchTemplateId: lt.LaunchTemplate.LaunchTemplateId},
		VPCZoneIdentifier: subnets.Subnets[0].SubnetId,
	}); err != nil {
		t.Fatal(err)
	}
	f.instance = f.members(t)[0]
	tg, err := f.elb.CreateTargetGroup(ctx, &elbv2.CreateTargetGroupInput{Name: aws.String("web"), Protocol: elbv2types.ProtocolEnumHttp,
		Port: aws.Int32(80), VpcId: aws.String(w.vpc), TargetType: elbv2types.TargetTypeEnumInstance})
	if err != nil {
		t.Fatal(err)
	}
	f.group = aws.ToString(tg.TargetGroups[0].TargetGroupArn)
	if _, err := f.elb.RegisterTargets(ctx, &elbv2.RegisterTargetsInput{TargetGroupArn: aws.String(f.group),
		Targets: []elbv2types.TargetDescription{{Id: aws.String(f.instance), Port: aws.Int32(8080)}}}); err != nil {
		t.Fatal(err)
	}
	w.h.AutoScaling, w.h.ELB = f.asg, f.elb
	w.h.Reader, w.h.Bucket = w.s3, testBucket
	return f
}

func (f fleet) members(t *testing.T) []string {
	t.Helper()
	out, err := f.asg.DescribeAutoScalingGroups(context.Background(), &autoscaling.DescribeAutoScalingGroupsInput{AutoScalingGroupNames: []string{"web"}})
	if err != nil || len(out.AutoScalingGroups) != 1 {
		t.Fatalf("group: %v", err)
	}
	var ids []string
	for _, i := range out.AutoScalingGroups[0].Instances {
		ids = append(ids, aws.ToString(i.InstanceId))
	}
	slices.Sort(ids)
	return ids
}

func (f fleet) registered(t *testing.T, w *world) []Target {
	t.Helper()
	got, err := w.h.registrations(context.Background(), f.instance)
	if err != nil {
		t.Fatal(err)
	}
	return got
}

func byClass(actions []Action, c Class) (Action, int) {
	var found Action
	n := 0
	for i, a := range actions {
		if a.Class == c {
			found = a
			n = i
		}
	}
	return found, n
}

func TestContainEC2LeavesGroupsFirst(t *testing.T) {
	ctx := context.Background()
	w := setup(t, map[Class]Mode{ClassEC2: ModeAuto})
	f := w.newFleet(t)
	inc := w.incident()
	inc.Scope.Instances = []string{f.instance}
	out, err := w.h.Handle(ctx, Input{Incident: inc})
	if err != nil {
		t.Fatal(err)
	}
	detach, di := byClass(out.Actions, ClassASGDetach)
	dereg, ri := byClass(out.Actions, ClassTargetDeregister)
	iso, ii := byClass(out.Actions, ClassEC2)
	if di >= ii || ri >= ii {
		t.Errorf("order: detach %d, deregister %d, isolate %d; the isolation must come last", di, ri, ii)
	}
	for _, a := range []Action{detach, dereg, iso} {
		if a.Status != StatusApplied {
			t.Fatalf("%s: %+v", a.Class, a)
		}
	}
	if detach.Before.AutoScalingGroup != "web" || detach.After.AutoScalingGroup != "" {
		t.Errorf("detach: before %+v after %+v", detach.Before, detach.After)
	}
	if m := f.members(t); slices.Contains(m, f.instance) || len(m) != 1 {
		t.Errorf("group's instances after detach: %v; want a replacement, not %s", m, f.instance)
	}
	if want := []Target{{Group: f.group, Port: aws.Int32(8080)}}; !sameTargets(dereg.Before.Targets, want) || len(f.registered(t, w)) != 0 {
		t.Errorf("deregister: before %+v, now %+v", dereg.Before.Targets, f.registered(t, w))
	}
	rec := w.storedPlan(t, "applied.json")
	if _, err := w.h.Handle(ctx, Input{Action: ActionRollback, Incident: inc, By: "alice"}); err != nil {
		t.Fatalf("rollback: %v (record %+v)", err, rec.Actions)
	}
	if m := f.members(t); !slices.Contains(m, f.instance) {
		t.Errorf("after rollback the group holds %v, not %s", m, f.instance)
	}
	if got := f.registered(t, w); !sameTargets(got, []Target{{Group: f.group, Port: aws.Int32(8080)}}) {
		t.Errorf("after rollback registered in %+v", got)
	}
}

func TestContainEC2MembershipDrift(t *testing.T) {
	ctx := context.Background()
	w := setup(t, map[Class]Mode{ClassEC2: ModeAuto})
	f := w.newFleet(t)
	inc := w.incident()
	inc.Scope.Instances = []string{f.instance}
	out, err := w.h.Handle(ctx, Input{Incident: inc})
	if err != nil {
		t.Fatal(err)
	}
	dereg, _ := byClass(out.Actions, ClassTargetDeregister)
	// A responder registered it again by hand.
	if _, err := f.elb.RegisterTargets(ctx, &elbv2.RegisterTargetsInput{TargetGroupArn: aws.String(f.group),
		Targets: []elbv2types.TargetDescription{{Id: aws.String(f.instance), Port: aws.Int32(8080)}}}); err != nil {
		t.Fatal(err)
	}
	var drift *DriftError
	if err := w.h.Rollback(ctx, &dereg); !errors.As(err, &drift) {
		t.Fatalf("rollback after drift: %v, want a DriftError", err)
	}
}

func TestLeads(t *testing.T) {
	for _, tc := range []struct {
		cluster, want string
	}{
		{"arn:aws:eks:us-east-1:123456789012:cluster/prod", "EKS cluster: no safe generic action"},
		{"arn:aws:ecs:us-east-1:123456789012:cluster/prod", "ECS cluster: no safe generic action"},
		{"prod", "no safe generic action"},
	} {
		got := leads(incidentScope(tc.cluster))
		if len(got) != 1 || got[0].Status != StatusLead || !strings.Contains(got[0].Reason, tc.want) || got[0].Change != nil {
			t.Errorf("%s: %+v", tc.cluster, got)
		}
	}
	// A lead is never applied, whatever the mode.
	w := setup(t, map[Class]Mode{ClassRole: ModeAuto})
	inc := w.incident()
	inc.Scope.Clusters = []string{"arn:aws:eks:us-east-1:123456789012:cluster/prod"}
	out, err := w.h.Handle(context.Background(), Input{Incident: inc})
	if err != nil {
		t.Fatal(err)
	}
	if a := byTarget(out.Actions)[inc.Scope.Clusters[0]]; a.Status != StatusLead {
		t.Errorf("lead in an auto plan: %+v", a)
	}
}

func incidentScope(cluster string) incident.Scope {
	return incident.Scope{Clusters: []string{cluster}, KubernetesUsers: []string{"system:serviceaccount:default:web"}}
}
