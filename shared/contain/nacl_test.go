package contain

import (
	"context"
	"errors"
	"slices"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
)

// subnetWith is a new subnet of the world's VPC with n instances.
func (w *world) subnetWith(t *testing.T, cidr string, n int) (string, []string) {
	t.Helper()
	ctx := context.Background()
	sn, err := w.ec2.CreateSubnet(ctx, &ec2.CreateSubnetInput{VpcId: aws.String(w.vpc), CidrBlock: aws.String(cidr)})
	if err != nil {
		t.Fatal(err)
	}
	out, err := w.ec2.RunInstances(ctx, &ec2.RunInstancesInput{ImageId: aws.String("ami-12c6146b"), MinCount: aws.Int32(int32(n)), MaxCount: aws.Int32(int32(n)),
		SubnetId: sn.Subnet.SubnetId, SecurityGroupIds: w.groups})
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, i := range out.Instances {
		ids = append(ids, aws.ToString(i.InstanceId))
	}
	slices.Sort(ids)
	return aws.ToString(sn.Subnet.SubnetId), ids
}

func TestContainSubnetNACL(t *testing.T) {
	for _, mode := range []Mode{ModeDryRun, ModeAuto} {
		t.Run(string(mode), func(t *testing.T) {
			ctx := context.Background()
			w := setup(t, map[Class]Mode{ClassSubnetNACL: mode})
			w.h.NACL, w.h.Reader, w.h.Bucket = w.ec2, w.s3, testBucket
			subnet, ids := w.subnetWith(t, "10.9.2.0/24", 2)
			_, oldACL, err := w.h.subnetACL(ctx, subnet)
			if err != nil {
				t.Fatal(err)
			}
			inc := w.incident()
			// The world's instances share a subnet with a protected one.
			inc.Scope.Instances = []string{ids[0], w.instance}
			out, err := w.h.Handle(ctx, Input{Incident: inc})
			if err != nil {
				t.Fatal(err)
			}
			got := byTarget(out.Actions)
			if len(got) != 2 {
				t.Fatalf("actions %+v, want one per subnet", out.Actions)
			}
			for target, a := range got {
				if target != subnet && a.Status != StatusProtected {
					t.Errorf("the protected instance's subnet %s: %+v", target, a)
				}
			}
			a := got[subnet]
			if !slices.Equal(a.Shared, ids[1:]) || a.Before.NetworkACL != oldACL {
				t.Errorf("plan: shared %v before %+v, want %v and %s", a.Shared, a.Before, ids[1:], oldACL)
			}
			_, now, _ := w.h.subnetACL(ctx, subnet)
			if mode == ModeDryRun {
				if a.Status != StatusPlanned || now != oldACL {
					t.Errorf("dry-run: %s, ACL %s -> %s", a.Status, oldACL, now)
				}
				return
			}
			if a.Status != StatusApplied || now == oldACL || a.After.NetworkACL != now {
				t.Fatalf("apply: %+v, ACL now %s", a, now)
			}
			acl, err := w.ec2.DescribeNetworkAcls(ctx, &ec2.DescribeNetworkAclsInput{NetworkAclIds: []string{now}})
			if err != nil {
				t.Fatal(err)
			}
			n := acl.NetworkAcls[0]
			if !slices.ContainsFunc(n.Tags, func(t ec2types.Tag) bool { return aws.ToString(t.Key) == NACLTag && aws.ToString(t.Value) == subnet }) {
				t.Errorf("custody's ACL tags: %+v", n.Tags)
			}
			for _, e := range n.Entries {
				if e.RuleAction != ec2types.RuleActionDeny {
					t.Errorf("custody's ACL allows: %+v", e)
				}
			}
			if _, err := w.h.Handle(ctx, Input{Action: ActionRollback, Incident: inc, By: "alice"}); err != nil {
				t.Fatal(err)
			}
			if _, back, _ := w.h.subnetACL(ctx, subnet); back != oldACL {
				t.Errorf("after rollback the subnet has %s, want %s", back, oldACL)
			}
		})
	}
}

func TestContainSubnetNACLDrift(t *testing.T) {
	ctx := context.Background()
	w := setup(t, map[Class]Mode{ClassSubnetNACL: ModeAuto})
	w.h.NACL = w.ec2
	subnet, ids := w.subnetWith(t, "10.9.3.0/24", 1)
	_, oldACL, _ := w.h.subnetACL(ctx, subnet)
	inc := w.incident()
	inc.Scope.Instances = ids
	out, err := w.h.Handle(ctx, Input{Incident: inc})
	if err != nil {
		t.Fatal(err)
	}
	a := byTarget(out.Actions)[subnet]
	// A responder put the old ACL back by hand.
	assoc, _, _ := w.h.subnetACL(ctx, subnet)
	if _, err := w.ec2.ReplaceNetworkAclAssociation(ctx, &ec2.ReplaceNetworkAclAssociationInput{AssociationId: aws.String(assoc), NetworkAclId: aws.String(oldACL)}); err != nil {
		t.Fatal(err)
	}
	var drift *DriftError
	if err := w.h.Rollback(ctx, &a); !errors.As(err, &drift) {
		t.Fatalf("rollback after drift: %v, want a DriftError", err)
	}
}
