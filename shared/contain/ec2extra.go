package contain

import (
	"context"
	"fmt"
	"slices"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/autoscaling"
	elbv2 "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"
	elbv2types "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2/types"

	"github.com/custody-ir/custody/shared/faults"
)

// autoscalingAPI is the Auto Scaling calls EC2 containment makes.
type autoscalingAPI interface {
	DescribeAutoScalingInstances(ctx context.Context, in *autoscaling.DescribeAutoScalingInstancesInput, optFns ...func(*autoscaling.Options)) (*autoscaling.DescribeAutoScalingInstancesOutput, error)
	DetachInstances(ctx context.Context, in *autoscaling.DetachInstancesInput, optFns ...func(*autoscaling.Options)) (*autoscaling.DetachInstancesOutput, error)
	AttachInstances(ctx context.Context, in *autoscaling.AttachInstancesInput, optFns ...func(*autoscaling.Options)) (*autoscaling.AttachInstancesOutput, error)
}

// elbv2API is the Elastic Load Balancing calls EC2 containment makes.
type elbv2API interface {
	DescribeTargetGroups(ctx context.Context, in *elbv2.DescribeTargetGroupsInput, optFns ...func(*elbv2.Options)) (*elbv2.DescribeTargetGroupsOutput, error)
	DescribeTargetHealth(ctx context.Context, in *elbv2.DescribeTargetHealthInput, optFns ...func(*elbv2.Options)) (*elbv2.DescribeTargetHealthOutput, error)
	DeregisterTargets(ctx context.Context, in *elbv2.DeregisterTargetsInput, optFns ...func(*elbv2.Options)) (*elbv2.DeregisterTargetsOutput, error)
	RegisterTargets(ctx context.Context, in *elbv2.RegisterTargetsInput, optFns ...func(*elbv2.Options)) (*elbv2.RegisterTargetsOutput, error)
}

// Target is an instance's registration in a target group.
type Target struct {
	Group string `json:"targetGroup"`
	Port  *int32 `json:"port,omitempty"`
}

// planMemberships plans, for an instance about to be isolated, its detach
// from its Auto Scaling group and its deregistration from its target
// groups. Both go before the isolation: an isolated instance fails its
// health checks, and a group would then terminate it (and its evidence)
// or a load balancer keep sending it traffic it cannot answer.
func (h *Handler) planMemberships(ctx context.Context, id string, m Mode) ([]Action, error) {
	var out []Action
	if h.AutoScaling != nil {
		got, err := h.AutoScaling.DescribeAutoScalingInstances(ctx, &autoscaling.DescribeAutoScalingInstancesInput{InstanceIds: []string{id}})
		if err != nil {
			return nil, faults.Classify("DescribeAutoScalingInstances", err, contained("DescribeAutoScalingInstances"))
		}
		for _, i := range got.AutoScalingInstances {
			g := aws.ToString(i.AutoScalingGroupName)
			out = append(out, Action{Class: ClassASGDetach, Mode: m, Target: id, Status: StatusPlanned,
				Before: &State{AutoScalingGroup: g},
				Change: []string{fmt.Sprintf("instance %s: detached from Auto Scaling group %s, desired capacity kept (the group launches a replacement; this instance is neither stopped nor terminated)", id, g)}})
		}
	}
	if h.ELB != nil {
		targets, err := h.registrations(ctx, id)
		if err != nil {
			return nil, err
		}
		if len(targets) > 0 {
			a := Action{Class: ClassTargetDeregister, Mode: m, Target: id, Status: StatusPlanned, Before: &State{Targets: targets}}
			for _, t := range targets {
				a.Change = append(a.Change, fmt.Sprintf("instance %s: deregistered from target group %s (after its deregistration delay)", id, t.Group))
			}
			out = append(out, a)
		}
	}
	return out, nil
}

// registrations are the instance-type target groups the instance is
// registered in (draining ones left out: it is on its way out of them).
func (h *Handler) registrations(ctx context.Context, id string) ([]Target, error) {
	var out []Target
	p := elbv2.NewDescribeTargetGroupsPaginator(h.ELB, &elbv2.DescribeTargetGroupsInput{})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, faults.Classify("DescribeTargetGroups", err, contained("DescribeTargetGroups"))
		}
		for _, g := range page.TargetGroups {
			if g.TargetType != elbv2types.TargetTypeEnumInstance && g.TargetType != "" {
				continue
			}
			health, err := h.ELB.DescribeTargetHealth(ctx, &elbv2.DescribeTargetHealthInput{TargetGroupArn: g.TargetGroupArn})
			if err != nil {
				return nil, faults.Classify("DescribeTargetHealth", err, contained("DescribeTargetHealth"))
			}
			for _, d := range health.TargetHealthDescriptions {
				if d.Target == nil || aws.ToString(d.Target.Id) != id {
					continue
				}
				if d.TargetHealth != nil && d.TargetHealth.State == elbv2types.TargetHealthStateEnumDraining {
					continue
				}
				out = append(out, Target{Group: aws.ToString(g.TargetGroupArn), Port: d.Target.Port})
			}
		}
	}
	slices.SortFunc(out, func(a, b Target) int {
		if a.Group < b.Group {
			return -1
		}
		if a.Group > b.Group {
			return 1
		}
		return 0
	})
	return out, nil
}

// asgOf is the Auto Scaling group the instance is in ("" for none).
func (h *Handler) asgOf(ctx context.Context, id string) (string, error) {
	got, err := h.AutoScaling.DescribeAutoScalingInstances(ctx, &autoscaling.DescribeAutoScalingInstancesInput{InstanceIds: []string{id}})
	if err != nil {
		return "", err
	}
	for _, i := range got.AutoScalingInstances {
		return aws.ToString(i.AutoScalingGroupName), nil
	}
	return "", nil
}

// detach takes the instance out of its group without lowering the
// desired capacity: the service keeps its capacity, and the group no
// longer manages (or terminates) the suspect instance.
func (h *Handler) detach(ctx context.Context, a *Action) error {
	if _, err := h.AutoScaling.DetachInstances(ctx, &autoscaling.DetachInstancesInput{
		AutoScalingGroupName: aws.String(a.Before.AutoScalingGroup), InstanceIds: []string{a.Target},
		ShouldDecrementDesiredCapacity: aws.Bool(false),
	}); err != nil {
		return err
	}
	g, err := h.asgOf(ctx, a.Target)
	if err != nil {
		return err
	}
	a.After = &State{AutoScalingGroup: g}
	return nil
}

func (h *Handler) deregister(ctx context.Context, a *Action) error {
	for _, t := range a.Before.Targets {
		if _, err := h.ELB.DeregisterTargets(ctx, &elbv2.DeregisterTargetsInput{
			TargetGroupArn: aws.String(t.Group), Targets: []elbv2types.TargetDescription{{Id: aws.String(a.Target), Port: t.Port}},
		}); err != nil {
			return err
		}
	}
	now, err := h.registrations(ctx, a.Target)
	if err != nil {
		return err
	}
	a.After = &State{Targets: now}
	return nil
}

func (h *Handler) membershipDrift(ctx context.Context, a *Action) error {
	switch a.Class {
	case ClassASGDetach:
		g, err := h.asgOf(ctx, a.Target)
		if err != nil {
			return err
		}
		if g != a.After.AutoScalingGroup {
			return &DriftError{Target: a.Target, Detail: fmt.Sprintf("in Auto Scaling group %q, containment left it in %q", g, a.After.AutoScalingGroup)}
		}
	case ClassTargetDeregister:
		now, err := h.registrations(ctx, a.Target)
		if err != nil {
			return err
		}
		if !sameTargets(now, a.After.Targets) {
			return &DriftError{Target: a.Target, Detail: fmt.Sprintf("registered in %v, containment left %v", now, a.After.Targets)}
		}
	}
	return nil
}

func sameTargets(a, b []Target) bool {
	return slices.EqualFunc(a, b, func(x, y Target) bool {
		return x.Group == y.Group && aws.ToInt32(x.Port) == aws.ToInt32(y.Port)
	})
}

// restoreMembership re-attaches the instance to its group (which raises
// the group's desired capacity by one: the replacement stays, for the
// responder to scale in) or re-registers it in its target groups.
func (h *Handler) restoreMembership(ctx context.Context, a *Action) error {
	switch a.Class {
	case ClassASGDetach:
		if _, err := h.AutoScaling.AttachInstances(ctx, &autoscaling.AttachInstancesInput{
			AutoScalingGroupName: aws.String(a.Before.AutoScalingGroup), InstanceIds: []string{a.Target},
		}); err != nil {
			return err
		}
		g, err := h.asgOf(ctx, a.Target)
		if err != nil {
			return err
		}
		a.After = &State{AutoScalingGroup: g}
	case ClassTargetDeregister:
		for _, t := range a.Before.Targets {
			if _, err := h.ELB.RegisterTargets(ctx, &elbv2.RegisterTargetsInput{
				TargetGroupArn: aws.String(t.Group), Targets: []elbv2types.TargetDescription{{Id: aws.String(a.Target), Port: t.Port}},
			}); err != nil {
				return err
			}
		}
		now, err := h.registrations(ctx, a.Target)
		if err != nil {
			return err
		}
		a.After = &State{Targets: now}
	}
	return nil
}
