package main

import (
	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"
	"github.com/cdklabs/cdk-nag-go/cdknag/v2"
)

// MemberStackName is the member stack's name (and the StackSet's).
const MemberStackName = "CustodyMember"

// Member stack parameters: a StackSet passes them per deployment; a
// `cdk deploy CustodyMember` takes the defaults from context.
const (
	paramHubAccount   = "HubAccountId"
	paramHubStackName = "HubStackName"
)

// MemberStackProps configures NewMemberStack.
type MemberStackProps struct {
	awscdk.StackProps
	Config *Config
}

// NewMemberStack is the stack every member account holds: one role, named
// custody:memberRoleName, that the hub's collector roles assume to read
// the account for a case. It allows exactly the read calls the collectors
// make (and the EC2 snapshot and tag calls, conditioned as in the hub),
// nothing that writes on *, and trusts only the hub account's collector
// roles (aws:PrincipalArn under the hub stack's name), within the
// organization when custody:organizationId is set. It holds no asset and
// needs no bootstrap, so the synthesized template deploys as a
// service-managed StackSet to every account of an organization.
func NewMemberStack(scope constructs.Construct, id string, props *MemberStackProps) awscdk.Stack {
	cfg := DefaultConfig()
	if props != nil && props.Config != nil {
		cfg = *props.Config
	}
	sp := &awscdk.StackProps{}
	if props != nil {
		sp = &props.StackProps
	}
	if sp.Synthesizer == nil {
		// No assets, no bootstrap: a StackSet deploys the template as is.
		sp.Synthesizer = awscdk.NewBootstraplessSynthesizer(&awscdk.BootstraplessSynthesizerProps{})
	}
	stack := awscdk.NewStack(scope, &id, sp)

	hubDefault := cfg.HubAccount
	hubAccount := awscdk.NewCfnParameter(stack, jsii.String(paramHubAccount), &awscdk.CfnParameterProps{
		Type:                  jsii.String("String"),
		Description:           jsii.String("The custody hub's account (the security tooling account, GuardDuty's delegated administrator)"),
		AllowedPattern:        jsii.String(`^[0-9]{12}$`),
		ConstraintDescription: jsii.String("a twelve-digit account ID"),
	})
	if hubDefault != "" {
		hubAccount.SetDefault(jsii.String(hubDefault))
	}
	hubStack := awscdk.NewCfnParameter(stack, jsii.String(paramHubStackName), &awscdk.CfnParameterProps{
		Type:        jsii.String("String"),
		Default:     jsii.String("Custody"),
		Description: jsii.String("The hub stack's name: its collector roles' names start with it"),
	})

	partition := *stack.Partition()
	hubRoles := jsii.String("arn:" + partition + ":iam::" + *hubAccount.ValueAsString() + ":role/" + *hubStack.ValueAsString() + "-Collect*")
	conditions := map[string]any{
		"ArnLike": map[string]any{"aws:PrincipalArn": hubRoles},
	}
	if cfg.OrganizationID != "" {
		conditions["StringEquals"] = map[string]any{"aws:PrincipalOrgID": cfg.OrganizationID}
	}
	role := awsiam.NewRole(stack, jsii.String("CollectorRole"), &awsiam.RoleProps{
		RoleName:    jsii.String(cfg.MemberRoleName),
		Description: jsii.String("custody: the hub's collectors read this account for a case (session named for the case)"),
		AssumedBy: awsiam.NewAccountPrincipal(hubAccount.ValueAsString()).
			WithConditions(&conditions).
			// Session tags and source identity name the case on every call.
			WithSessionTags(),
		MaxSessionDuration: awscdk.Duration_Hours(jsii.Number(1)),
	})
	trust := role.AssumeRolePolicy()
	trust.AddStatements(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Actions:    jsii.Strings("sts:SetSourceIdentity"),
		Principals: &[]awsiam.IPrincipal{awsiam.NewAccountPrincipal(hubAccount.ValueAsString())},
		Conditions: &conditions,
	}))

	// The same grants as the hub's collector functions, on this account,
	// in every region.
	s := &custodyStack{stack: stack, cfg: cfg, member: true}
	f := custodyFunction{role: role}
	for _, c := range collectors {
		if c.Member && c.Grant != nil {
			c.Grant(s, f)
		}
	}
	// The share of custody's snapshots with the hub (custody:copySnapshotsToHub
	// in the hub; harmless when off: only custody's tagged snapshots, only
	// to the hub account).
	s.allowMemberSnapshotShare(f, hubAccount.ValueAsString())
	cdknag.NagSuppressions_AddResourceSuppressions(role, &[]*cdknag.NagPackSuppression{{
		Id:     jsii.String("AwsSolutions-IAM5"),
		Reason: jsii.String("The member role reads what the findings name at run time, in any region (a role is global): the wildcards are the collectors' own, each read-only or conditioned as in the hub."),
	}}, jsii.Bool(true))

	awscdk.NewCfnOutput(stack, jsii.String("MemberRoleArn"), &awscdk.CfnOutputProps{
		Value: role.RoleArn(), Description: jsii.String("The role custody's hub assumes in this account"),
	})
	if cfg.MemberContainment && cfg.ContainmentOn() {
		newMemberContainRole(s, hubAccount.ValueAsString(),
			jsii.String("arn:"+partition+":iam::"+*hubAccount.ValueAsString()+":role/"+*hubStack.ValueAsString()+"-ContainFunctionRole*"))
	}
	return stack
}

// newMemberContainRole is the member's containment role
// (custody:memberContainRoleName): only with custody:memberContainment and
// some class on. It trusts only the hub's contain function role
// (aws:PrincipalArn), within the organization when custody:organizationId
// is set, and holds the calls of the enabled classes only, conditioned as
// in the hub: the collectors' role stays read-only.
func newMemberContainRole(s *custodyStack, hubAccount, containRole *string) {
	cfg := s.cfg
	conditions := map[string]any{"ArnLike": map[string]any{"aws:PrincipalArn": containRole}}
	if cfg.OrganizationID != "" {
		conditions["StringEquals"] = map[string]any{"aws:PrincipalOrgID": cfg.OrganizationID}
	}
	role := awsiam.NewRole(s.stack, jsii.String("ContainRole"), &awsiam.RoleProps{
		RoleName:           jsii.String(cfg.MemberContainRoleName),
		Description:        jsii.String("custody: the hub's contain function contains this account's resources for a case (session named for the case)"),
		AssumedBy:          awsiam.NewAccountPrincipal(hubAccount).WithConditions(&conditions).WithSessionTags(),
		MaxSessionDuration: awscdk.Duration_Hours(jsii.Number(1)),
	})
	role.AssumeRolePolicy().AddStatements(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Actions:    jsii.Strings("sts:SetSourceIdentity"),
		Principals: &[]awsiam.IPrincipal{awsiam.NewAccountPrincipal(hubAccount)},
		Conditions: &conditions,
	}))
	s.allowContainWrites(cfg, custodyFunction{role: role})
	awscdk.NewCfnOutput(s.stack, jsii.String("MemberContainRoleArn"), &awscdk.CfnOutputProps{
		Value: role.RoleArn(), Description: jsii.String("The role custody's contain function assumes in this account"),
	})
}

// allowAssumeMember lets a hub collector assume the member role in any
// account (of the organization, when custody:organizationId is set), with
// the case as session name, tag and source identity.
func (s *custodyStack) allowAssumeMember(f custodyFunction) {
	s.allowAssumeRole(f, s.cfg.MemberRoleName)
}

// allowAssumeRole lets f assume the member stack's role name in any
// account (of the organization, when custody:organizationId is set).
func (s *custodyStack) allowAssumeRole(f custodyFunction, name string) {
	props := &awsiam.PolicyStatementProps{
		Actions:   jsii.Strings("sts:AssumeRole", "sts:TagSession", "sts:SetSourceIdentity"),
		Resources: jsii.Strings("arn:" + *s.stack.Partition() + ":iam::*:role/" + name),
	}
	if s.cfg.OrganizationID != "" {
		props.Conditions = &map[string]any{"StringEquals": map[string]any{"aws:ResourceOrgID": s.cfg.OrganizationID}}
	}
	f.role.AddToPolicy(awsiam.NewPolicyStatement(props))
	suppressWildcards(f, "The member account is the finding's, known at run time: only the member role's name, in any account"+
		" (of the organization when custody:organizationId is set); the member role's trust admits only the hub's collector roles.",
		&cdknag.RegexAppliesTo{Regex: jsii.String(`/^Resource::arn:<AWS::Partition>:iam::\*:role\/[A-Za-z0-9+=,.@_-]+$/g`)})
}
