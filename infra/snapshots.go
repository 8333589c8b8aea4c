package main

import (
	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/aws-cdk-go/awscdk/v2/awskms"
	"github.com/aws/jsii-runtime-go"
	"github.com/cdklabs/cdk-nag-go/cdknag/v2"
)

// newSnapshotKey is custody's snapshot key (custody:copySnapshotsToHub): a
// member's encrypted snapshot is re-encrypted under it in the member (its
// own key, often aws/ebs, cannot be shared), shared with the hub, and the
// hub's copy is encrypted under it too. Its policy lets the organization's
// accounts (only the hub's, without custody:organizationId) use it through
// EC2 alone; like the evidence key it is kept, and only the break-glass
// role may disable it or schedule its deletion.
func newSnapshotKey(stack awscdk.Stack, cfg Config) awskms.Key {
	use := jsii.Strings("kms:Encrypt", "kms:Decrypt", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:DescribeKey")
	via := map[string]any{"StringLike": map[string]any{"kms:ViaService": "ec2.*.amazonaws.com"}}
	grant := map[string]any{"Bool": map[string]any{"kms:GrantIsForAWSResource": "true"}, "StringLike": map[string]any{"kms:ViaService": "ec2.*.amazonaws.com"}}
	var users awsiam.IPrincipal = awsiam.NewAccountRootPrincipal()
	if cfg.OrganizationID != "" {
		users = awsiam.NewOrganizationPrincipal(jsii.String(cfg.OrganizationID))
	}
	policy := awsiam.NewPolicyDocument(&awsiam.PolicyDocumentProps{Statements: &[]awsiam.PolicyStatement{
		awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
			Sid: jsii.String("AccountAdministersThroughIAM"), Actions: jsii.Strings("kms:*"), Resources: jsii.Strings("*"),
			Principals: &[]awsiam.IPrincipal{awsiam.NewAccountRootPrincipal()},
		}),
		breakGlassOnly(stack, cfg),
		awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
			Sid: jsii.String("SnapshotCopiesThroughEC2"), Actions: use, Resources: jsii.Strings("*"),
			Principals: &[]awsiam.IPrincipal{users}, Conditions: &via,
		}),
		awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
			Sid: jsii.String("EC2GrantsForTheCopies"), Actions: jsii.Strings("kms:CreateGrant"), Resources: jsii.Strings("*"),
			Principals: &[]awsiam.IPrincipal{users}, Conditions: &grant,
		}),
	}})
	return awskms.NewKey(stack, jsii.String("SnapshotKey"), &awskms.KeyProps{
		Description:       jsii.String("custody: encrypts the members' EBS snapshots copied into the hub"),
		EnableKeyRotation: jsii.Bool(true),
		RemovalPolicy:     awscdk.RemovalPolicy_RETAIN,
		Policy:            policy,
	})
}

// allowHubSnapshotCopy lets the hub's EC2 collector copy a snapshot a
// member shared, encrypted under the snapshot key, tagging the copy as it
// makes it (its LockSnapshot grant, on tagged snapshots, covers the copy).
func (s *custodyStack) allowHubSnapshotCopy(f custodyFunction) {
	p := *s.stack.Partition()
	f.role.AddToPolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Actions:   jsii.Strings("ec2:CopySnapshot"),
		Resources: jsii.Strings("arn:" + p + ":ec2:*::snapshot/*"),
		// Only copies tagged with a case as they are made.
		Conditions: &map[string]any{"Null": map[string]any{"aws:RequestTag/custody:case-id": "false"}},
	}))
	f.role.AddToPolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Actions:    jsii.Strings("ec2:CreateTags"),
		Resources:  jsii.Strings("arn:" + p + ":ec2:*::snapshot/*"),
		Conditions: &map[string]any{"StringEquals": map[string]any{"ec2:CreateAction": "CopySnapshot"}},
	}))
	f.role.AddToPolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Actions:    jsii.Strings("kms:Encrypt", "kms:Decrypt", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:DescribeKey", "kms:CreateGrant"),
		Resources:  &[]*string{s.snapshotKey.KeyArn()},
		Conditions: &map[string]any{"StringLike": map[string]any{"kms:ViaService": "ec2.*.amazonaws.com"}},
	}))
	suppressWildcards(f, "IAM allows ec2:CopySnapshot on snapshots (the shared source and the copy are known at run time), CreateTags only as CopySnapshot makes the copy, and the snapshot key's use (ReEncrypt*, GenerateDataKey*) only through EC2.",
		&cdknag.RegexAppliesTo{Regex: jsii.String(`/^Resource::arn:<AWS::Partition>:ec2:\*::snapshot\/\*$/g`)},
		&cdknag.RegexAppliesTo{Regex: jsii.String(`/^Action::kms:(ReEncrypt|GenerateDataKey)\*$/g`)})
}

// allowMemberSnapshotShare is the member role's part of a hub copy: copy
// custody's own snapshots (tagged with a case) re-encrypted under a key of
// the hub account, and share them with the hub account only.
func (s *custodyStack) allowMemberSnapshotShare(f custodyFunction, hubAccount *string) {
	p := *s.stack.Partition()
	f.role.AddToPolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Actions: jsii.Strings("ec2:CopySnapshot"), Resources: jsii.Strings("arn:" + p + ":ec2:*::snapshot/*"),
		// Only copies tagged with a case as they are made.
		Conditions: &map[string]any{"Null": map[string]any{"aws:RequestTag/custody:case-id": "false"}},
	}))
	f.role.AddToPolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Actions: jsii.Strings("ec2:ModifySnapshotAttribute"), Resources: jsii.Strings("arn:" + p + ":ec2:*::snapshot/*"),
		Conditions: &map[string]any{
			"Null":         map[string]any{"ec2:ResourceTag/custody:case-id": "false"},
			"StringEquals": map[string]any{"ec2:Add/userId": hubAccount},
		},
	}))
	f.role.AddToPolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Actions: jsii.Strings("ec2:CreateTags"), Resources: jsii.Strings("arn:" + p + ":ec2:*::snapshot/*"),
		Conditions: &map[string]any{"StringEquals": map[string]any{"ec2:CreateAction": "CopySnapshot"}},
	}))
	f.role.AddToPolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Actions:    jsii.Strings("kms:Encrypt", "kms:Decrypt", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:DescribeKey", "kms:CreateGrant"),
		Resources:  jsii.Strings("arn:" + p + ":kms:*:" + *hubAccount + ":key/*"),
		Conditions: &map[string]any{"StringLike": map[string]any{"kms:ViaService": "ec2.*.amazonaws.com"}},
	}))
}
