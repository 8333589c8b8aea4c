package main

import (
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/jsii-runtime-go"
	"github.com/cdklabs/cdk-nag-go/cdknag/v2"
)

// Grants for the collectors' sources: each reads only what it collects.
// The same grants make the member stack's collector role (member.go).

// region is the region in the grants' ARNs: the hub's own, or any for the
// member role (a role is global, and the findings of every region are
// read through it).
func (s *custodyStack) region() string {
	// With forwarders the hub answers findings of other regions, its own
	// account's too.
	if s.member || len(s.cfg.ForwarderRegions) > 0 {
		return "*"
	}
	return *s.stack.Region()
}

// logGroupArn is every log group of this account and region.
func (s *custodyStack) logGroupArn() *string {
	return jsii.String("arn:" + *s.stack.Partition() + ":logs:" + s.region() + ":" + *s.stack.Account() + ":log-group:*")
}

// allowReadLogGroups lets a collector find log groups and read their events.
func (s *custodyStack) allowReadLogGroups(f custodyFunction) {
	f.role.AddToPolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Actions:   jsii.Strings("logs:DescribeLogGroups", "logs:FilterLogEvents"),
		Resources: &[]*string{s.logGroupArn()},
	}))
	suppressWildcards(f, "IAM allows logs:DescribeLogGroups and logs:FilterLogEvents (reads only) on every log group of this account and region: the groups a case reads are named by the finding (a function's, a cluster's, an instance's) at run time.",
		&cdknag.RegexAppliesTo{Regex: jsii.String(`/^Resource::arn:<AWS::Partition>:logs:(<AWS::Region>|[a-z0-9-]+|\*):(<AWS::AccountId>|[0-9]+):log-group:\*$/g`)})
}

// logBucketResources are the buckets the log collectors may read: those
// named in custody:logBuckets, or every bucket when none are named (then
// allowReadLogBuckets limits them to this account's).
func (s *custodyStack) logBucketResources() (buckets, objects []*string, anyBucket bool) {
	p := *s.stack.Partition()
	if len(s.cfg.LogBuckets) == 0 {
		return []*string{jsii.String("arn:" + p + ":s3:::*")}, []*string{jsii.String("arn:" + p + ":s3:::*/*")}, true
	}
	for _, b := range s.cfg.LogBuckets {
		buckets = append(buckets, jsii.String("arn:"+p+":s3:::"+b))
		objects = append(objects, jsii.String("arn:"+p+":s3:::"+b+"/*"))
	}
	return buckets, objects, false
}

// allowReadLogBuckets lets a collector list and read the log buckets and
// decrypt their objects through S3. Read only: no put, no delete.
func (s *custodyStack) allowReadLogBuckets(f custodyFunction) {
	buckets, objects, anyBucket := s.logBucketResources()
	var cond *map[string]any
	if anyBucket {
		// Without custody:logBuckets, any bucket, but only this account's.
		cond = &map[string]any{"StringEquals": map[string]any{"s3:ResourceAccount": *s.stack.Account()}}
	}
	f.role.AddToPolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Actions:    jsii.Strings("s3:ListBucket", "s3:GetBucketLocation"),
		Resources:  &buckets,
		Conditions: cond,
	}))
	f.role.AddToPolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Actions:    jsii.Strings("s3:GetObject", "s3:GetObjectVersion"),
		Resources:  &objects,
		Conditions: cond,
	}))
	keys := []*string{jsii.String("arn:" + *s.stack.Partition() + ":kms:" + s.region() + ":" + *s.stack.Account() + ":key/*")}
	for _, k := range s.cfg.LogArchiveKeys {
		keys = append(keys, jsii.String(k))
	}
	f.role.AddToPolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Actions:   jsii.Strings("kms:Decrypt"),
		Resources: &keys,
		Conditions: &map[string]any{
			"StringLike": map[string]any{"kms:ViaService": "s3." + s.region() + ".amazonaws.com"},
		},
	}))
	if len(s.cfg.LogArchiveBuckets) > 0 && !s.member {
		// The log archive's buckets are another account's: read only, and
		// their owner's bucket policy must allow it too (README).
		var lb, lo []*string
		for _, b := range s.cfg.LogArchiveBuckets {
			lb = append(lb, jsii.String("arn:"+*s.stack.Partition()+":s3:::"+b))
			lo = append(lo, jsii.String("arn:"+*s.stack.Partition()+":s3:::"+b+"/*"))
		}
		f.role.AddToPolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
			Actions: jsii.Strings("s3:ListBucket", "s3:GetBucketLocation"), Resources: &lb,
		}))
		f.role.AddToPolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
			Actions: jsii.Strings("s3:GetObject", "s3:GetObjectVersion"), Resources: &lo,
		}))
	}
	suppressWildcards(f, "IAM allows s3:ListBucket, s3:GetBucketLocation, s3:GetObject and s3:GetObjectVersion (reads only) on the buckets of custody:logBuckets, or when it is empty on any bucket with s3:ResourceAccount this account; and kms:Decrypt on this account's keys only with kms:ViaService S3: trail, flow log and access log buckets and their keys are found at run time.",
		&cdknag.RegexAppliesTo{Regex: jsii.String(`/^Resource::arn:<AWS::Partition>:s3:::\*(\/\*)?$/g`)},
		&cdknag.RegexAppliesTo{Regex: jsii.String(`/^Resource::arn:<AWS::Partition>:s3:::[a-z0-9.-]+\/\*$/g`)},
		&cdknag.RegexAppliesTo{Regex: jsii.String(`/^Resource::arn:<AWS::Partition>:kms:(<AWS::Region>|[a-z0-9-]+|\*):(<AWS::AccountId>|[0-9]+):key\/\*$/g`)})
}

// allowCloudTrail lets the CloudTrail collector find the trails, read their
// buckets, and fall back to LookupEvents.
func (s *custodyStack) allowCloudTrail(f custodyFunction) {
	f.role.AddToPolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		// DescribeTrails and LookupEvents have no resource-level permissions.
		Actions:   jsii.Strings("cloudtrail:DescribeTrails", "cloudtrail:LookupEvents"),
		Resources: jsii.Strings("*"),
	}))
	f.role.AddToPolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Actions:   jsii.Strings("cloudtrail:GetTrailStatus"),
		Resources: &[]*string{jsii.String("arn:" + *s.stack.Partition() + ":cloudtrail:*:" + *s.stack.Account() + ":trail/*")},
	}))
	s.allowReadLogBuckets(f)
	suppressWildcards(f, "IAM allows cloudtrail:DescribeTrails and cloudtrail:LookupEvents on * (they have no resource-level permissions) and cloudtrail:GetTrailStatus on this account's trails in any region (trail/*: found at run time); reads only.",
		jsii.String("Resource::*"),
		&cdknag.RegexAppliesTo{Regex: jsii.String(`/^Resource::arn:<AWS::Partition>:cloudtrail:\*:(<AWS::AccountId>|[0-9]+):trail\/\*$/g`)})
}

// allowVPCFlow lets the flow log collector find the flow logs of the VPCs,
// subnets and ENIs in scope and read their destinations.
func (s *custodyStack) allowVPCFlow(f custodyFunction) {
	f.role.AddToPolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		// Describe calls have no resource-level permissions.
		Actions:   jsii.Strings("ec2:DescribeFlowLogs", "ec2:DescribeNetworkInterfaces"),
		Resources: jsii.Strings("*"),
	}))
	f.role.AddToPolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Actions:   jsii.Strings("logs:FilterLogEvents"),
		Resources: &[]*string{s.logGroupArn()},
	}))
	s.allowReadLogBuckets(f)
	suppressWildcards(f, "IAM allows ec2:DescribeFlowLogs and ec2:DescribeNetworkInterfaces on * (no resource-level permissions) and logs:FilterLogEvents on every log group of this account and region (the flow log groups are found at run time from the flow log definitions); reads only.",
		jsii.String("Resource::*"),
		&cdknag.RegexAppliesTo{Regex: jsii.String(`/^Resource::arn:<AWS::Partition>:logs:(<AWS::Region>|[a-z0-9-]+|\*):(<AWS::AccountId>|[0-9]+):log-group:\*$/g`)})
}

// allowS3Access lets the access log collector read the logging and the
// security configuration of the buckets in scope, and read their logs.
func (s *custodyStack) allowS3Access(f custodyFunction) {
	f.role.AddToPolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Actions: jsii.Strings("s3:GetBucketLogging", "s3:GetBucketLocation", "s3:GetBucketPolicy", "s3:GetBucketAcl",
			"s3:GetBucketPublicAccessBlock", "s3:GetBucketOwnershipControls", "s3:GetBucketVersioning", "s3:GetEncryptionConfiguration"),
		Resources: jsii.Strings("arn:" + *s.stack.Partition() + ":s3:::*"),
		// The buckets in scope come with the finding: this account's.
		Conditions: &map[string]any{"StringEquals": map[string]any{"s3:ResourceAccount": *s.stack.Account()}},
	}))
	s.allowReadLogBuckets(f)
	suppressWildcards(f, "IAM allows the bucket configuration reads (GetBucketLogging, GetBucketLocation, GetBucketPolicy, GetBucketAcl, GetBucketPublicAccessBlock, GetBucketOwnershipControls, GetBucketVersioning, GetEncryptionConfiguration) on any bucket with s3:ResourceAccount this account: the buckets in scope come with the finding, at run time.",
		&cdknag.RegexAppliesTo{Regex: jsii.String(`/^Resource::arn:<AWS::Partition>:s3:::\*$/g`)})
}

// allowEC2 lets the EC2 collector describe an instance and what it uses,
// read its console output, snapshot its volumes (tagging only the snapshots
// it creates, as it creates them) and lock those snapshots. Nothing on the
// instance can be changed.
func (s *custodyStack) allowEC2(f custodyFunction) {
	p, r, a := *s.stack.Partition(), s.region(), *s.stack.Account()
	ec2Arn := func(res string) *string { return jsii.String("arn:" + p + ":ec2:" + r + ":" + a + ":" + res) }
	snapshots := jsii.String("arn:" + p + ":ec2:" + r + "::snapshot/*")
	f.role.AddToPolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		// Describe calls have no resource-level permissions.
		Actions: jsii.Strings("ec2:DescribeInstances", "ec2:DescribeSecurityGroups", "ec2:DescribeSecurityGroupRules",
			"ec2:DescribeNetworkInterfaces", "ec2:DescribeVolumes", "ec2:DescribeSnapshots", "ec2:DescribeInstanceAttribute"),
		Resources: jsii.Strings("*"),
	}))
	f.role.AddToPolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Actions:   jsii.Strings("ec2:GetConsoleOutput"),
		Resources: &[]*string{ec2Arn("instance/*")},
	}))
	f.role.AddToPolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Actions:   jsii.Strings("ec2:CreateSnapshots"),
		Resources: &[]*string{ec2Arn("instance/*"), ec2Arn("volume/*"), snapshots},
	}))
	f.role.AddToPolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Actions:    jsii.Strings("ec2:CreateTags"),
		Resources:  &[]*string{snapshots},
		Conditions: &map[string]any{"StringEquals": map[string]any{"ec2:CreateAction": "CreateSnapshots"}},
	}))
	f.role.AddToPolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Actions:    jsii.Strings("ec2:LockSnapshot"),
		Resources:  &[]*string{snapshots},
		Conditions: &map[string]any{"Null": map[string]any{"ec2:ResourceTag/custody:case-id": "false"}},
	}))
	f.role.AddToPolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Actions:   jsii.Strings("iam:GetInstanceProfile"),
		Resources: &[]*string{jsii.String("arn:" + p + ":iam::" + a + ":instance-profile/*")},
	}))
	suppressWildcards(f, "IAM allows the EC2 describes on * (no resource-level permissions); GetConsoleOutput on this account's instances and CreateSnapshots on its instances and volumes and on snapshots (known at run time); CreateTags on snapshots only with ec2:CreateAction CreateSnapshots; LockSnapshot only on snapshots tagged custody:case-id; iam:GetInstanceProfile on this account's profiles. Nothing that changes an instance.",
		jsii.String("Resource::*"),
		&cdknag.RegexAppliesTo{Regex: jsii.String(`/^Resource::arn:<AWS::Partition>:ec2:(<AWS::Region>|[a-z0-9-]+|\*):(<AWS::AccountId>|[0-9]+):(instance|volume)\/\*$/g`)},
		&cdknag.RegexAppliesTo{Regex: jsii.String(`/^Resource::arn:<AWS::Partition>:ec2:(<AWS::Region>|[a-z0-9-]+|\*)::snapshot\/\*$/g`)},
		&cdknag.RegexAppliesTo{Regex: jsii.String(`/^Resource::arn:<AWS::Partition>:iam::(<AWS::AccountId>|[0-9]+):instance-profile\/\*$/g`)})
}

// allowIAM lets the IAM collector read the principals in scope, their
// policies, groups and boundary, their keys' last use, and run Access
// Advisor reports on them. Read-only (GenerateServiceLastAccessedDetails
// only starts a report).
func (s *custodyStack) allowIAM(f custodyFunction) {
	p, a := *s.stack.Partition(), *s.stack.Account()
	iamArn := func(res string) *string { return jsii.String("arn:" + p + ":iam::" + a + ":" + res) }
	for _, st := range []struct {
		actions   []string
		resources []*string
	}{
		{[]string{"iam:GetAccessKeyLastUsed", "iam:GetUser", "iam:ListAttachedUserPolicies", "iam:ListUserPolicies", "iam:GetUserPolicy", "iam:ListGroupsForUser"},
			[]*string{iamArn("user/*")}},
		{[]string{"iam:ListAttachedGroupPolicies", "iam:ListGroupPolicies", "iam:GetGroupPolicy"}, []*string{iamArn("group/*")}},
		{[]string{"iam:GetRole", "iam:ListAttachedRolePolicies", "iam:ListRolePolicies", "iam:GetRolePolicy"}, []*string{iamArn("role/*")}},
		{[]string{"iam:GetInstanceProfile"}, []*string{iamArn("instance-profile/*")}},
		{[]string{"iam:GetPolicy", "iam:GetPolicyVersion"}, []*string{iamArn("policy/*"), jsii.String("arn:" + p + ":iam::aws:policy/*")}},
		{[]string{"iam:GenerateServiceLastAccessedDetails"}, []*string{iamArn("user/*"), iamArn("role/*"), iamArn("group/*"), iamArn("policy/*")}},
		// GetServiceLastAccessedDetails takes a job ID: no resource-level permissions.
		{[]string{"iam:GetServiceLastAccessedDetails"}, []*string{jsii.String("*")}},
	} {
		f.role.AddToPolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{Actions: jsii.Strings(st.actions...), Resources: &st.resources}))
	}
	suppressWildcards(f, "IAM allows the IAM reads listed (Get*/List* of users, groups, roles, instance profiles and policies of this account, and AWS managed policies) and GenerateServiceLastAccessedDetails on them (it only starts a report), because a case's principals are named by the finding at run time; GetServiceLastAccessedDetails on * (no resource-level permissions). Nothing that writes IAM.",
		jsii.String("Resource::*"),
		&cdknag.RegexAppliesTo{Regex: jsii.String(`/^Resource::arn:<AWS::Partition>:iam::((<AWS::AccountId>|[0-9]+)|aws):(user|group|role|instance-profile|policy)\/\*$/g`)})
}

// allowInspector lets the Inspector collector list Inspector2 findings.
func (s *custodyStack) allowInspector(f custodyFunction) {
	f.role.AddToPolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		// inspector2:ListFindings has no resource-level permissions.
		Actions:   jsii.Strings("inspector2:ListFindings"),
		Resources: jsii.Strings("*"),
	}))
	suppressWildcards(f, "IAM allows inspector2:ListFindings, a read, on * (it has no resource-level permissions); nothing else of Inspector.", jsii.String("Resource::*"))
}

// allowRelatedFindings lets the GuardDuty collector find the detector and
// the findings on the same resources (the finding itself: allowGetFindings).
func (s *custodyStack) allowRelatedFindings(f custodyFunction) {
	s.allowGetFindings(f)
	f.role.AddToPolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Actions: jsii.Strings("guardduty:ListFindings"),
		Resources: &[]*string{jsii.String("arn:" + *s.stack.Partition() + ":guardduty:" + s.region() + ":" +
			*s.stack.Account() + ":detector/*")},
	}))
	f.role.AddToPolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		// ListDetectors takes no resource.
		Actions:   jsii.Strings("guardduty:ListDetectors"),
		Resources: jsii.Strings("*"),
	}))
	suppressWildcards(f, "IAM allows guardduty:ListDetectors, a read, on * (it has no resource-level permissions; a manual start finds the detector with it), and ListFindings and GetFindings on this account's detectors in this region.", jsii.String("Resource::*"))
}

// allowDynamoDBStreams lets the DynamoDB collector find a table's stream and
// read every shard of it.
func (s *custodyStack) allowDynamoDBStreams(f custodyFunction) {
	table := "arn:" + *s.stack.Partition() + ":dynamodb:" + s.region() + ":" + *s.stack.Account() + ":table/*"
	f.role.AddToPolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Actions:   jsii.Strings("dynamodb:DescribeTable"),
		Resources: jsii.Strings(table),
	}))
	f.role.AddToPolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Actions:   jsii.Strings("dynamodb:DescribeStream", "dynamodb:GetShardIterator", "dynamodb:GetRecords"),
		Resources: jsii.Strings(table + "/stream/*"),
	}))
	suppressWildcards(f, "IAM allows dynamodb:DescribeTable on every table of this account and region and DescribeStream, GetShardIterator and GetRecords on their streams (table/*/stream/*), reads only: a case's tables are named by the finding, the configuration or the CloudTrail extract at run time.",
		&cdknag.RegexAppliesTo{Regex: jsii.String(`/^Resource::arn:<AWS::Partition>:dynamodb:(<AWS::Region>|[a-z0-9-]+|\*):(<AWS::AccountId>|[0-9]+):table\/\*(\/stream\/\*)?$/g`)})
}
