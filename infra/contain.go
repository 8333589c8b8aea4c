package main

import (
	"strings"

	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsstepfunctions"
	"github.com/aws/jsii-runtime-go"
	"github.com/cdklabs/cdk-nag-go/cdknag/v2"
)

// containSizing: a few describe and modify calls per resource in scope.
var containSizing = sealSizing

// newContainFunction is functions/contain with only the calls its enabled
// classes make; nil when every class is off, so the template holds no
// containment function, role or permission.
func (s *custodyStack) newContainFunction(cfg Config) *custodyFunction {
	if !cfg.ContainmentOn() {
		return nil
	}
	env := cfg.ContainEnv()
	// The stack's own account: a member account's case is not contained
	// (its names would be this account's resources).
	env["CUSTODY_ACCOUNT_ID"] = *s.stack.Account()
	f := s.newCustodyFunction("ContainFunction", "contain", containSizing, env)
	// The plan and the record of what changed go into the sealed run.
	s.allowObjects(f, []string{"s3:PutObject", "s3:AbortMultipartUpload", "s3:GetObject"}, casesPrefix)
	s.allowKey(f, "s3")
	protKey, protValue, _ := strings.Cut(cfg.ContainmentProtectedTag, "=")
	// A protected resource is refused by IAM as well as skipped by the plan.
	notProtected := func(prefix string) *map[string]any {
		return &map[string]any{"StringNotEquals": map[string]any{prefix + "/" + protKey: protValue}}
	}
	arn := func(svc, res string) *string {
		return jsii.String("arn:" + *s.stack.Partition() + ":" + svc + ":" + *s.stack.Region() + ":" + *s.stack.Account() + ":" + res)
	}
	iamARN := func(res string) *string {
		return jsii.String("arn:" + *s.stack.Partition() + ":iam::" + *s.stack.Account() + ":" + res)
	}
	add := func(actions []string, resources []*string, cond *map[string]any) {
		f.role.AddToPolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
			Actions: jsii.Strings(actions...), Resources: &resources, Conditions: cond,
		}))
	}
	var wild []any
	if cfg.ContainEC2 != "off" {
		// Describe* have no resource-level permissions.
		add([]string{"ec2:DescribeInstances", "ec2:DescribeNetworkInterfaces", "ec2:DescribeSecurityGroups"}, []*string{jsii.String("*")}, nil)
		// The isolation group is created only with its tag, and only such
		// a group's rules may be revoked.
		add([]string{"ec2:CreateSecurityGroup"}, []*string{arn("ec2", "vpc/*")}, nil)
		add([]string{"ec2:CreateSecurityGroup"}, []*string{arn("ec2", "security-group/*")},
			&map[string]any{"Null": map[string]any{"aws:RequestTag/custody:isolation": "false"}})
		add([]string{"ec2:CreateTags"}, []*string{arn("ec2", "security-group/*")},
			&map[string]any{"StringEquals": map[string]any{"ec2:CreateAction": "CreateSecurityGroup"}})
		add([]string{"ec2:RevokeSecurityGroupEgress"}, []*string{arn("ec2", "security-group/*")},
			&map[string]any{"Null": map[string]any{"aws:ResourceTag/custody:isolation": "false"}})
		// Apply and rollback set an ENI's (and the instance's) groups:
		// never on a protected instance or interface.
		add([]string{"ec2:ModifyInstanceAttribute"}, []*string{arn("ec2", "instance/*")}, notProtected("aws:ResourceTag"))
		add([]string{"ec2:ModifyNetworkInterfaceAttribute"}, []*string{arn("ec2", "network-interface/*")}, notProtected("aws:ResourceTag"))
		add([]string{"ec2:ModifyInstanceAttribute", "ec2:ModifyNetworkInterfaceAttribute"}, []*string{arn("ec2", "security-group/*")}, nil)
		wild = append(wild, "Resource::*")
	}
	if cfg.ContainAccessKey != "off" {
		add([]string{"iam:ListAccessKeys", "iam:ListUserTags", "iam:GetUserPolicy"}, []*string{iamARN("user/*")}, nil)
		add([]string{"iam:UpdateAccessKey", "iam:PutUserPolicy", "iam:DeleteUserPolicy"}, []*string{iamARN("user/*")}, notProtected("aws:ResourceTag"))
	}
	if cfg.ContainRole != "off" {
		add([]string{"iam:ListRoleTags", "iam:GetRolePolicy"}, []*string{iamARN("role/*")}, nil)
		add([]string{"iam:PutRolePolicy", "iam:DeleteRolePolicy"}, []*string{iamARN("role/*")}, notProtected("aws:ResourceTag"))
	}
	suppressWildcards(f, "IAM allows containment the EC2 Describe calls on * (no resource-level permissions); its writes are on the finding's resources, known only at run time, "+
		"and conditioned on their tags: never a resource tagged with the protected tag, and only custody's own isolation group's rules.",
		append(wild, objectWildcard(casesPrefix),
			jsiiRegex(`/^Resource::arn:<AWS::Partition>:(ec2|iam):.*:(vpc|security-group|instance|network-interface|user|role)\/\*$/g`))...)
	return &f
}

// containStates is Seal -> Contain -> Sealed: run only after the seal
// succeeded, with its failure caught into ContainmentFailed (recorded in
// the output) so it never touches the seal.
func (s *custodyStack) containStates(f custodyFunction, sealed awsstepfunctions.IChainable) awsstepfunctions.IChainable {
	sp := func(id string) *string { return jsii.String(id) }
	task := s.invokeInto("Contain", f, awsstepfunctions.TaskInput_FromObject(&map[string]any{
		"incident.$": "$.incident",
	}), "$.containment")
	failed := awsstepfunctions.NewPass(s.stack, sp("ContainmentFailed"), &awsstepfunctions.PassProps{
		StateName: sp("ContainmentFailed"),
		Comment:   sp("Containment failed after the seal; the run stays sealed, and the error is in $.containmentError."),
	})
	task.AddCatch(failed, &awsstepfunctions.CatchProps{Errors: jsii.Strings("States.ALL"), ResultPath: sp("$.containmentError")})
	failed.Next(sealed)
	return task.Next(sealed)
}

// jsiiRegex is a cdk-nag appliesTo pattern.
func jsiiRegex(re string) any { return &cdknag.RegexAppliesTo{Regex: jsii.String(re)} }
