package contain

import (
	"context"
	"fmt"
	"slices"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"

	"github.com/custody-ir/custody/shared/faults"
)

// NACLTag marks custody's deny-all network ACL; its value is the subnet.
const NACLTag = "custody:isolation-nacl"

// naclAPI is the EC2 calls the subnet ACL step makes.
type naclAPI interface {
	DescribeInstances(ctx context.Context, in *ec2.DescribeInstancesInput, optFns ...func(*ec2.Options)) (*ec2.DescribeInstancesOutput, error)
	DescribeSubnets(ctx context.Context, in *ec2.DescribeSubnetsInput, optFns ...func(*ec2.Options)) (*ec2.DescribeSubnetsOutput, error)
	DescribeNetworkAcls(ctx context.Context, in *ec2.DescribeNetworkAclsInput, optFns ...func(*ec2.Options)) (*ec2.DescribeNetworkAclsOutput, error)
	CreateNetworkAcl(ctx context.Context, in *ec2.CreateNetworkAclInput, optFns ...func(*ec2.Options)) (*ec2.CreateNetworkAclOutput, error)
	ReplaceNetworkAclAssociation(ctx context.Context, in *ec2.ReplaceNetworkAclAssociationInput, optFns ...func(*ec2.Options)) (*ec2.ReplaceNetworkAclAssociationOutput, error)
}

// planSubnets plans one deny-all ACL per subnet of the scope's instances.
// An ACL is stateless, so it cuts the connections a security group
// already tracks; it also cuts every other instance of the subnet, which
// the plan names, and a subnet holding a protected instance (or itself
// protected) is skipped.
func (h *Handler) planSubnets(ctx context.Context, instances []string, m Mode) ([]Action, error) {
	if h.NACL == nil {
		return nil, &faults.ConfigurationError{Setting: EnvSubnetNACL, Reason: "no EC2 client"}
	}
	var subnets []string
	if len(instances) > 0 {
		out, err := h.NACL.DescribeInstances(ctx, &ec2.DescribeInstancesInput{InstanceIds: instances})
		if err != nil {
			return nil, faults.Classify("DescribeInstances", err, contained("DescribeInstances"))
		}
		for _, r := range out.Reservations {
			for _, i := range r.Instances {
				for _, n := range i.NetworkInterfaces {
					subnets = append(subnets, aws.ToString(n.SubnetId))
				}
				subnets = append(subnets, aws.ToString(i.SubnetId))
			}
		}
	}
	slices.Sort(subnets)
	subnets = slices.DeleteFunc(slices.Compact(subnets), func(s string) bool { return s == "" })
	var out []Action
	for _, s := range subnets {
		a, err := h.planSubnet(ctx, s, instances, m)
		if err != nil {
			return nil, err
		}
		out = append(out, a)
	}
	return out, nil
}

func (h *Handler) planSubnet(ctx context.Context, subnet string, finding []string, m Mode) (Action, error) {
	a := Action{Class: ClassSubnetNACL, Mode: m, Target: subnet, Status: StatusPlanned}
	sn, err := h.NACL.DescribeSubnets(ctx, &ec2.DescribeSubnetsInput{SubnetIds: []string{subnet}})
	if err != nil {
		return a, faults.Classify("DescribeSubnets", err, contained("DescribeSubnets"))
	}
	for _, s := range sn.Subnets {
		for _, t := range s.Tags {
			if h.protected(t.Key, t.Value) {
				a.Status, a.Reason = StatusProtected, h.protectedReason()
				return a, nil
			}
		}
	}
	// Every instance of the subnet: the ACL hits them all.
	var others []string
	p := ec2.NewDescribeInstancesPaginator(h.NACL, &ec2.DescribeInstancesInput{Filters: []ec2types.Filter{
		{Name: aws.String("subnet-id"), Values: []string{subnet}},
		{Name: aws.String("instance-state-name"), Values: []string{"pending", "running", "stopping", "stopped"}},
	}})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return a, faults.Classify("DescribeInstances", err, contained("DescribeInstances"))
		}
		for _, r := range page.Reservations {
			for _, i := range r.Instances {
				id := aws.ToString(i.InstanceId)
				for _, t := range i.Tags {
					if h.protected(t.Key, t.Value) {
						a.Status, a.Reason = StatusProtected, fmt.Sprintf("subnet holds %s, %s", id, h.protectedReason())
						return a, nil
					}
				}
				if !slices.Contains(finding, id) {
					others = append(others, id)
				}
			}
		}
	}
	slices.Sort(others)
	assoc, acl, err := h.subnetACL(ctx, subnet)
	if err != nil {
		return a, err
	}
	a.Before, a.Shared = &State{NetworkACL: acl, NetworkACLAssociation: assoc}, others
	a.Change = []string{fmt.Sprintf("subnet %s: network ACL %s -> a new custody ACL denying all traffic in and out (cuts tracked connections)", subnet, acl)}
	if len(others) > 0 {
		a.Change = append(a.Change, fmt.Sprintf("subnet %s: also cuts %d other instances: %v", subnet, len(others), others))
	}
	return a, nil
}

// subnetACL is the subnet's ACL association and its ACL.
func (h *Handler) subnetACL(ctx context.Context, subnet string) (assoc, acl string, err error) {
	out, err := h.NACL.DescribeNetworkAcls(ctx, &ec2.DescribeNetworkAclsInput{Filters: []ec2types.Filter{
		{Name: aws.String("association.subnet-id"), Values: []string{subnet}},
	}})
	if err != nil {
		return "", "", faults.Classify("DescribeNetworkAcls", err, contained("DescribeNetworkAcls"))
	}
	for _, n := range out.NetworkAcls {
		for _, as := range n.Associations {
			if aws.ToString(as.SubnetId) == subnet {
				return aws.ToString(as.NetworkAclAssociationId), aws.ToString(n.NetworkAclId), nil
			}
		}
	}
	return "", "", faults.Invalid("subnet", "subnet %s has no network ACL association", subnet)
}

// denySubnet associates a new deny-all ACL with the subnet. A new ACL
// holds only the default deny-all entries, so none are added. The
// subnet must still have the ACL the plan recorded.
func (h *Handler) denySubnet(ctx context.Context, a *Action) error {
	assoc, acl, err := h.subnetACL(ctx, a.Target)
	if err != nil {
		return err
	}
	if acl != a.Before.NetworkACL {
		return &DriftError{Target: a.Target, Detail: fmt.Sprintf("network ACL is %s, the plan recorded %s", acl, a.Before.NetworkACL)}
	}
	sn, err := h.NACL.DescribeSubnets(ctx, &ec2.DescribeSubnetsInput{SubnetIds: []string{a.Target}})
	if err != nil || len(sn.Subnets) == 0 {
		return fmt.Errorf("DescribeSubnets %s: %v", a.Target, err)
	}
	created, err := h.NACL.CreateNetworkAcl(ctx, &ec2.CreateNetworkAclInput{
		VpcId: sn.Subnets[0].VpcId,
		TagSpecifications: []ec2types.TagSpecification{{ResourceType: ec2types.ResourceTypeNetworkAcl,
			Tags: []ec2types.Tag{{Key: aws.String(NACLTag), Value: aws.String(a.Target)}}}},
	})
	if err != nil {
		return err
	}
	if _, err := h.NACL.ReplaceNetworkAclAssociation(ctx, &ec2.ReplaceNetworkAclAssociationInput{
		AssociationId: aws.String(assoc), NetworkAclId: created.NetworkAcl.NetworkAclId,
	}); err != nil {
		return err
	}
	assoc, acl, err = h.subnetACL(ctx, a.Target)
	a.After = &State{NetworkACL: acl, NetworkACLAssociation: assoc}
	return err
}

func (h *Handler) subnetDrift(ctx context.Context, a *Action) error {
	_, acl, err := h.subnetACL(ctx, a.Target)
	if err != nil {
		return err
	}
	if acl != a.After.NetworkACL {
		return &DriftError{Target: a.Target, Detail: fmt.Sprintf("network ACL is %s, containment left %s", acl, a.After.NetworkACL)}
	}
	return nil
}

// restoreSubnet associates the recorded ACL again; custody's ACL is left
// in place (never deleted), unassociated.
func (h *Handler) restoreSubnet(ctx context.Context, a *Action) error {
	assoc, _, err := h.subnetACL(ctx, a.Target)
	if err != nil {
		return err
	}
	if _, err := h.NACL.ReplaceNetworkAclAssociation(ctx, &ec2.ReplaceNetworkAclAssociationInput{
		AssociationId: aws.String(assoc), NetworkAclId: aws.String(a.Before.NetworkACL),
	}); err != nil {
		return err
	}
	assoc, acl, err := h.subnetACL(ctx, a.Target)
	a.After = &State{NetworkACL: acl, NetworkACLAssociation: assoc}
	return err
}
