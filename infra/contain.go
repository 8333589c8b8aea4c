package main

import (
	"strings"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsstepfunctions"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsstepfunctionstasks"
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
	// A bucket policy's ARNs are the stack's partition's.
	env["CUSTODY_PARTITION"] = *s.stack.Partition()
	if cfg.MemberContainment {
		// A member's case is contained through the member stack's
		// containment role (newMemberContainRole), assumed for the case.
		env["CUSTODY_MEMBER_CONTAIN_ROLE"] = cfg.MemberContainRoleName
	}
	f := s.newCustodyFunction("ContainFunction", "contain", containSizing, env)
	if cfg.MemberContainment {
		s.allowAssumeRole(f, cfg.MemberContainRoleName)
	}
	// The plan and the record of what changed go into the sealed run.
	s.allowObjects(f, []string{"s3:PutObject", "s3:AbortMultipartUpload", "s3:GetObject"}, casesPrefix)
	// Apply and rollback read records that may not exist yet (approved.json,
	// rollback.json): without ListBucket S3 answers those 403, not 404.
	s.allowList(f, casesPrefix)
	s.allowKey(f, "s3")
	s.allowContainWrites(cfg, f)
	if cfg.ApprovalOn() {
		// The approval notice goes to the stack's topic (encrypted with the
		// evidence key, used through SNS only).
		f.fn.AddEnvironment(jsii.String("CASE_TOPIC_ARN"), s.topic.TopicArn(), nil)
		s.allowKey(f, "sns")
		f.role.AddToPolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
			Actions: jsii.Strings("sns:Publish"), Resources: &[]*string{s.topic.TopicArn()},
		}))
	}
	// custody rollback CASE invokes the function (its role holds the
	// writes that undo, and the evidence bucket takes the record from it).
	awscdk.NewCfnOutput(s.stack, jsii.String("ContainFunctionName"), &awscdk.CfnOutputProps{
		Value: f.fn.FunctionName(), Description: jsii.String("custody rollback CASE invokes it"),
	})
	// Each step's containment statement is signed with the containment
	// key, which names this role in its policy as the only signer (no IAM
	// statement: as for Seal and the seal key).
	key := newContainSigningKey(s.stack, cfg, f.role)
	f.fn.AddEnvironment(jsii.String("CUSTODY_CONTAIN_SIGNING_KEY_ARN"), key.KeyArn(), nil)
	containSigningKeyOutputs(s.stack, key)
	suppressWildcards(f, "IAM allows containment s3:PutObject, s3:AbortMultipartUpload and s3:GetObject on the evidence bucket's cases/*: every case's containment records.", objectWildcard(casesPrefix))
	return &f
}

// allowContainWrites is the calls of the enabled classes, on the
// stack's account: the hub's contain function's, and the member stack's
// containment role's (where there is no evidence bucket to deny).
func (s *custodyStack) allowContainWrites(cfg Config, f custodyFunction) {
	protKey, protValue, _ := strings.Cut(cfg.ContainmentProtectedTag, "=")
	// A protected resource is refused by IAM as well as skipped by the plan.
	notProtected := func(prefix string) *map[string]any {
		return &map[string]any{"StringNotEquals": map[string]any{prefix + "/" + protKey: protValue}}
	}
	arn := func(svc, res string) *string {
		return jsii.String("arn:" + *s.stack.Partition() + ":" + svc + ":" + s.region() + ":" + *s.stack.Account() + ":" + res)
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
		// Before isolation the instance leaves its Auto Scaling group and
		// target groups (their Describe calls have no resource-level
		// permissions); rollback puts it back.
		add([]string{"autoscaling:DescribeAutoScalingInstances", "elasticloadbalancing:DescribeTargetGroups", "elasticloadbalancing:DescribeTargetHealth"}, []*string{jsii.String("*")}, nil)
		add([]string{"autoscaling:DetachInstances", "autoscaling:AttachInstances"}, []*string{arn("autoscaling", "autoScalingGroup:*:autoScalingGroupName/*")}, nil)
		add([]string{"elasticloadbalancing:DeregisterTargets", "elasticloadbalancing:RegisterTargets"}, []*string{arn("elasticloadbalancing", "targetgroup/*/*")}, nil)
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
	if cfg.ContainEC2SubnetNACL != "off" {
		// The deny-all ACL is created only with its tag; the association is
		// replaced on a subnet that is not protected (and back, on rollback,
		// to the subnet's recorded ACL, whichever it is).
		add([]string{"ec2:DescribeInstances", "ec2:DescribeSubnets", "ec2:DescribeNetworkAcls"}, []*string{jsii.String("*")}, nil)
		add([]string{"ec2:CreateNetworkAcl"}, []*string{arn("ec2", "vpc/*")}, nil)
		add([]string{"ec2:CreateNetworkAcl"}, []*string{arn("ec2", "network-acl/*")},
			&map[string]any{"Null": map[string]any{"aws:RequestTag/custody:isolation-nacl": "false"}})
		add([]string{"ec2:CreateTags"}, []*string{arn("ec2", "network-acl/*")},
			&map[string]any{"StringEquals": map[string]any{"ec2:CreateAction": "CreateNetworkAcl"}})
		add([]string{"ec2:ReplaceNetworkAclAssociation"}, []*string{arn("ec2", "network-acl/*")}, nil)
		add([]string{"ec2:ReplaceNetworkAclAssociation"}, []*string{arn("ec2", "subnet/*")}, notProtected("aws:ResourceTag"))
		wild = append(wild, "Resource::*")
	}
	if cfg.ContainLambda != "off" {
		// A function's tags come with GetFunction; the writes are the
		// reservation only, and Lambda's ABAC gives PutFunctionConcurrency
		// and DeleteFunctionConcurrency aws:ResourceTag.
		add([]string{"lambda:GetFunction", "lambda:GetFunctionConcurrency"}, []*string{arn("lambda", "function:*")}, nil)
		add([]string{"lambda:PutFunctionConcurrency", "lambda:DeleteFunctionConcurrency"}, []*string{arn("lambda", "function:*")}, notProtected("aws:ResourceTag"))
	}
	if cfg.ContainS3Bucket != "off" {
		// S3 gives these bucket actions no aws:ResourceTag condition, so
		// the protected tag is kept by the plan (GetBucketTagging); the
		// evidence bucket is refused by IAM too. DeletePublicAccessBlock
		// is authorized as s3:PutBucketPublicAccessBlock.
		buckets := []*string{jsii.String("arn:" + *s.stack.Partition() + ":s3:::*")}
		add([]string{"s3:GetBucketTagging", "s3:GetBucketPolicy", "s3:GetBucketPublicAccessBlock"}, buckets, nil)
		add([]string{"s3:PutBucketPolicy", "s3:DeleteBucketPolicy", "s3:PutBucketPublicAccessBlock"}, buckets, nil)
		if s.bucket != nil {
			f.role.AddToPolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
				Effect:  awsiam.Effect_DENY,
				Actions: jsii.Strings("s3:PutBucketPolicy", "s3:DeleteBucketPolicy", "s3:PutBucketPublicAccessBlock"), Resources: &[]*string{s.bucket.BucketArn()},
			}))
		}
		wild = append(wild, "Resource::arn:<AWS::Partition>:s3:::*")
	}
	suppressWildcards(f, "IAM allows containment the EC2 Describe calls on * (no resource-level permissions); its writes are on the finding's resources, known only at run time, "+
		"and conditioned on their tags: never a resource tagged with the protected tag, and only custody's own isolation group's rules. "+
		"The Auto Scaling detach and attach and the target deregistration are on any group of the account: the groups are the instance's, known only at run time. "+
		"The subnet ACL association is replaced on any ACL (rollback restores the subnet's recorded one), only on an unprotected subnet. "+
		"The S3 bucket writes (policy, public access block) are on any bucket: S3 has no tag condition for them, so the plan skips a protected bucket, and IAM denies them on the evidence bucket.",
		append(wild,
			jsiiRegex(`/^Resource::arn:<AWS::Partition>:(ec2|iam):.*:(vpc|security-group|instance|network-interface|network-acl|subnet|user|role)\/\*$/g`),
			jsiiRegex(`/^Resource::arn:<AWS::Partition>:lambda:.*:function:\*$/g`),
			jsiiRegex(`/^Resource::arn:<AWS::Partition>:(autoscaling|elasticloadbalancing):.*:(autoScalingGroup:\*:autoScalingGroupName\/\*|targetgroup\/\*\/\*)$/g`))...)
}

// containStates is Seal -> Contain -> Sealed: run only after the seal
// succeeded, with its failure caught into ContainmentFailed (recorded in
// the output) so it never touches the seal. With a class in approve mode,
// Contain's awaiting answer goes on to the approval states
// (approvalStates); every one of their ends is Sealed.
func (s *custodyStack) containStates(cfg Config, f custodyFunction, sealed awsstepfunctions.IChainable) awsstepfunctions.IChainable {
	sp := func(id string) *string { return jsii.String(id) }
	task := s.invokeInto("Contain", f, awsstepfunctions.TaskInput_FromObject(&map[string]any{
		"incident.$": "$.incident",
	}), "$.containment")
	failed := awsstepfunctions.NewPass(s.stack, sp("ContainmentFailed"), &awsstepfunctions.PassProps{
		StateName: sp("ContainmentFailed"),
		Comment:   sp("Containment failed after the seal; the run stays sealed, and the error is in $.containmentError."),
	})
	catch := &awsstepfunctions.CatchProps{Errors: jsii.Strings("States.ALL"), ResultPath: sp("$.containmentError")}
	task.AddCatch(failed, catch)
	failed.Next(sealed)
	if !cfg.ApprovalOn() {
		return task.Next(sealed)
	}
	return task.Next(s.approvalStates(cfg, f, sealed, failed, catch))
}

// approvalStates wait for a responder when Contain left actions awaiting
// approval: AwaitApproval invokes the function with the task token (it
// stores the pending record and sends the notice) and waits, at most the
// approval timeout, for SendTaskSuccess (ContainApproved applies the
// plan) or SendTaskFailure (ContainRejected records that nothing
// changed). A timeout, and a failed request, are rejections too. The plan
// applied is the one in the state ($.containment.actions), never the
// approver's answer, which is only recorded.
func (s *custodyStack) approvalStates(cfg Config, f custodyFunction, sealed, failed awsstepfunctions.IChainable, catch *awsstepfunctions.CatchProps) awsstepfunctions.IChainable {
	sp := func(id string) *string { return jsii.String(id) }
	wait, _ := cfg.ApprovalWait() // validated with the config
	await := awsstepfunctionstasks.NewLambdaInvoke(s.stack, sp("AwaitApproval"), &awsstepfunctionstasks.LambdaInvokeProps{
		StateName:          sp("AwaitApproval"),
		Comment:            sp("Waits for custody approve|reject (the approver role's SendTaskSuccess/SendTaskFailure); a timeout rejects."),
		LambdaFunction:     f.fn,
		IntegrationPattern: awsstepfunctions.IntegrationPattern_WAIT_FOR_TASK_TOKEN,
		Payload: awsstepfunctions.TaskInput_FromObject(&map[string]any{
			"action":     "request",
			"incident.$": "$.incident",
			"actions.$":  "$.containment.actions",
			"token":      awsstepfunctions.JsonPath_TaskToken(),
		}),
		RetryOnServiceExceptions: jsii.Bool(false),
		TaskTimeout:              awsstepfunctions.Timeout_Duration(awscdk.Duration_Seconds(jsii.Number(wait.Seconds()))),
		ResultPath:               sp("$.approval"),
	})
	withRetry(await)
	decided := func(id, action string, extra map[string]any) awsstepfunctionstasks.LambdaInvoke {
		payload := map[string]any{"action": action, "incident.$": "$.incident", "actions.$": "$.containment.actions"}
		for k, v := range extra {
			payload[k] = v
		}
		t := s.invokeInto(id, f, awsstepfunctions.TaskInput_FromObject(&payload), "$.containmentDecision")
		t.AddCatch(failed, catch)
		return t
	}
	approved := decided("ContainApproved", "apply", map[string]any{"approval.$": "$.approval"})
	rejected := decided("ContainRejected", "reject", map[string]any{"error.$": "$.approvalError"})
	await.AddCatch(rejected, &awsstepfunctions.CatchProps{Errors: jsii.Strings("States.ALL"), ResultPath: sp("$.approvalError")})
	approved.Next(sealed)
	rejected.Next(sealed)
	choice := awsstepfunctions.NewChoice(s.stack, sp("AwaitingApproval"), &awsstepfunctions.ChoiceProps{StateName: sp("AwaitingApproval?")})
	choice.When(awsstepfunctions.Condition_BooleanEquals(sp("$.containment.awaiting"), jsii.Bool(true)), await.Next(approved), nil)
	choice.Otherwise(sealed)
	return choice
}

// newApproverRole is the one role that may send an approval task's
// result (states:SendTaskSuccess and SendTaskFailure): nil without a
// class in approve mode. It trusts the principals of
// custody:approverPrincipals, or the account (its administrators, whom
// IAM allows sts:AssumeRole on it); it reads the case folders (where the
// pending record holds the task token) and nothing else.
func (s *custodyStack) newApproverRole(cfg Config) awsiam.Role {
	if !cfg.ApprovalOn() {
		return nil
	}
	st := s.stack
	var trusted awsiam.IPrincipal = awsiam.NewAccountRootPrincipal()
	if len(cfg.ApproverPrincipals) > 0 {
		var ps []awsiam.IPrincipal
		for _, p := range cfg.ApproverPrincipals {
			ps = append(ps, awsiam.NewArnPrincipal(jsii.String(p)))
		}
		trusted = awsiam.NewCompositePrincipal(ps...)
	}
	role := awsiam.NewRole(st, jsii.String("ApproverRole"), &awsiam.RoleProps{
		RoleName:    jsii.String(cfg.ApproverRoleName),
		Description: jsii.String("custody: approves or rejects a containment plan (custody approve|reject CASE)"),
		AssumedBy:   trusted,
	})
	// The Service Authorization Reference (Actions, resources, and
	// condition keys for AWS Step Functions) gives SendTaskSuccess,
	// SendTaskFailure and SendTaskHeartbeat an activity as their only
	// resource type, and a .waitForTaskToken task of a service integration
	// is no activity: its token cannot be scoped to a state machine or an
	// execution, so Resource is *. What keeps the token from
	// being a bearer credential is who holds the action: this role only
	// (infra/contain_test.go asserts no other role has states:SendTask*).
	role.AddToPolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Actions:   jsii.Strings("states:SendTaskSuccess", "states:SendTaskFailure"),
		Resources: jsii.Strings("*"),
	}))
	role.AddToPolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Actions:   jsii.Strings("s3:GetObject"),
		Resources: &[]*string{s.bucket.ArnForObjects(jsii.String(casesPrefix + "*"))},
	}))
	role.AddToPolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Actions: jsii.Strings("s3:ListBucket"), Resources: &[]*string{s.bucket.BucketArn()},
		Conditions: &map[string]any{"StringLike": map[string]any{"s3:prefix": []any{casesPrefix + "*"}}},
	}))
	role.AddToPolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Actions: jsii.Strings("kms:Decrypt"), Resources: &[]*string{s.key.KeyArn()},
		Conditions: &map[string]any{"StringEquals": map[string]any{"kms:ViaService": "s3." + *st.Region() + ".amazonaws.com"}},
	}))
	// custody approve finds the bucket through the stack's outputs.
	role.AddToPolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Actions: jsii.Strings("cloudformation:DescribeStacks"), Resources: &[]*string{st.StackId()},
	}))
	cdknag.NagSuppressions_AddResourceSuppressions(role, &[]*cdknag.NagPackSuppression{{
		Id: jsii.String("AwsSolutions-IAM5"),
		Reason: jsii.String("IAM allows the approver states:SendTaskSuccess/SendTaskFailure on * (a callback task's token has no resource type to scope to; only this role holds the actions), " +
			"and s3:GetObject on cases/* (the pending record of any case)."),
		AppliesTo: &[]any{jsii.String("Resource::*"), objectWildcard(casesPrefix)},
	}}, jsii.Bool(true))
	awscdk.NewCfnOutput(st, jsii.String("ApproverRoleArn"), &awscdk.CfnOutputProps{
		Value: role.RoleArn(), Description: jsii.String("Assume it to run custody approve|reject CASE"),
	})
	return role
}

// jsiiRegex is a cdk-nag appliesTo pattern.
func jsiiRegex(re string) any { return &cdknag.RegexAppliesTo{Regex: jsii.String(re)} }
