package main

import (
	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/aws-cdk-go/awscdk/v2/awskms"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslogs"
	"github.com/aws/aws-cdk-go/awscdk/v2/awss3"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssns"
	"github.com/aws/jsii-runtime-go"
	"github.com/cdklabs/cdk-nag-go/cdknag/v2"
)

// roleArn is the ARN of an existing role in this stack's account, by name.
func roleArn(stack awscdk.Stack, name string) *string {
	return jsii.String("arn:" + *stack.Partition() + ":iam::" + *stack.Account() + ":role/" + name)
}

// deployRoleArn is the CloudFormation execution role the default CDK
// bootstrap creates. The locks below exempt it (and only it) from the denies
// that would otherwise make the stack undeployable: KMS refuses to create a
// key whose policy locks its creator out of PutKeyPolicy, and CloudFormation
// must be able to apply a changed lock mode or retention from cdk.json. A
// reviewed deploy stays the one way to change the locks.
func deployRoleArn(stack awscdk.Stack) *string {
	qualifier := "hnb659fds" // the CDK bootstrap default
	if q, ok := stack.Node().TryGetContext(jsii.String("@aws-cdk/core:bootstrapQualifier")).(string); ok && q != "" {
		qualifier = q
	}
	return jsii.String("arn:" + *stack.Partition() + ":iam::" + *stack.Account() + ":role/cdk-" + qualifier +
		"-cfn-exec-role-" + *stack.Account() + "-" + *stack.Region())
}

// breakGlassOnly is every custody key's lock: an explicit Deny beats every
// Allow, including the account's and any admin's IAM policy, so only the
// break-glass role and the CDK deployment role may disable the key,
// schedule its deletion or rewrite its policy. PutKeyPolicy is in the list
// because otherwise anyone allowed to rewrite the policy could delete this
// statement first and then the key: the lock would be advisory.
func breakGlassOnly(stack awscdk.Stack, cfg Config) awsiam.PolicyStatement {
	return awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Sid:        jsii.String("OnlyBreakGlassMayDisableDeleteOrRepolicy"),
		Effect:     awsiam.Effect_DENY,
		Principals: &[]awsiam.IPrincipal{awsiam.NewAnyPrincipal()},
		Actions:    jsii.Strings("kms:ScheduleKeyDeletion", "kms:DisableKey", "kms:PutKeyPolicy"),
		Resources:  jsii.Strings("*"),
		Conditions: &map[string]any{
			"ArnNotEquals": map[string]any{"aws:PrincipalArn": []any{roleArn(stack, cfg.BreakGlassRoleName), deployRoleArn(stack)}},
		},
	})
}

// newEvidenceKey is the customer managed key for the evidence, the topic and
// the logs. Losing it loses the evidence, so it is retained, and only the
// break-glass role may disable it, schedule its deletion or rewrite its policy.
func newEvidenceKey(stack awscdk.Stack, cfg Config) awskms.Key {
	policy := awsiam.NewPolicyDocument(&awsiam.PolicyDocumentProps{
		Statements: &[]awsiam.PolicyStatement{
			// The account administers the key through IAM; without this
			// statement IAM policies (the function roles') could not grant use.
			awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
				Sid:        jsii.String("AccountAdministersThroughIAM"),
				Principals: &[]awsiam.IPrincipal{awsiam.NewAccountRootPrincipal()},
				Actions:    jsii.Strings("kms:*"),
				Resources:  jsii.Strings("*"),
			}),
			breakGlassOnly(stack, cfg),
			// CloudWatch Logs encrypts the function and workflow log groups
			// with this key; the context condition limits it to this
			// account's log groups in this region.
			awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
				Sid:        jsii.String("CloudWatchLogsEncryptsThisAccountsLogGroups"),
				Principals: &[]awsiam.IPrincipal{awsiam.NewServicePrincipal(jsii.String("logs."+*stack.Region()+".amazonaws.com"), nil)},
				Actions:    jsii.Strings("kms:Encrypt*", "kms:Decrypt*", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:Describe*"),
				Resources:  jsii.Strings("*"),
				Conditions: &map[string]any{
					"ArnLike": map[string]any{
						"kms:EncryptionContext:aws:logs:arn": "arn:" + *stack.Partition() + ":logs:" + *stack.Region() + ":" + *stack.Account() + ":log-group:*",
					},
				},
			}),
			// Grants let a grantee use the key without the key policy: an
			// administrator holding kms:* through the statement above could
			// otherwise grant any principal Decrypt of the evidence. So a
			// grant may be made only by S3, for itself (no custody role
			// makes one: S3 encrypts the evidence with GenerateDataKey and
			// Decrypt under the caller's own permissions). IAM ANDs the
			// conditions of one statement, hence two denies: not through S3,
			// or not for an AWS resource.
			awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
				Sid:        jsii.String("GrantsOnlyThroughS3"),
				Effect:     awsiam.Effect_DENY,
				Principals: &[]awsiam.IPrincipal{awsiam.NewAnyPrincipal()},
				Actions:    jsii.Strings("kms:CreateGrant"),
				Resources:  jsii.Strings("*"),
				Conditions: &map[string]any{
					"StringNotEquals": map[string]any{"kms:ViaService": "s3." + *stack.Region() + ".amazonaws.com"},
				},
			}),
			awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
				Sid:        jsii.String("GrantsOnlyForAWSResources"),
				Effect:     awsiam.Effect_DENY,
				Principals: &[]awsiam.IPrincipal{awsiam.NewAnyPrincipal()},
				Actions:    jsii.Strings("kms:CreateGrant"),
				Resources:  jsii.Strings("*"),
				Conditions: &map[string]any{
					"BoolIfExists": map[string]any{"kms:GrantIsForAWSResource": "false"},
				},
			}),
			// CloudWatch alarms publish to the topic, which this key
			// encrypts: the service principal needs a data key, only for
			// this account's alarms in this region.
			awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
				Sid:        jsii.String("CloudWatchAlarmsPublishToTheTopic"),
				Principals: &[]awsiam.IPrincipal{awsiam.NewServicePrincipal(jsii.String("cloudwatch.amazonaws.com"), nil)},
				Actions:    jsii.Strings("kms:GenerateDataKey*", "kms:Decrypt"),
				Resources:  jsii.Strings("*"),
				Conditions: &map[string]any{
					"StringEquals": map[string]any{"aws:SourceAccount": *stack.Account()},
					"ArnLike":      map[string]any{"aws:SourceArn": "arn:" + *stack.Partition() + ":cloudwatch:" + *stack.Region() + ":" + *stack.Account() + ":alarm:*"},
				},
			}),
			// The investigator reads evidence; reading SSE-KMS objects needs
			// Decrypt, and only through S3.
			awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
				Sid:        jsii.String("InvestigatorDecryptsEvidenceThroughS3"),
				Principals: &[]awsiam.IPrincipal{awsiam.NewArnPrincipal(roleArn(stack, cfg.InvestigatorRoleName))},
				Actions:    jsii.Strings("kms:Decrypt", "kms:DescribeKey"),
				Resources:  jsii.Strings("*"),
				Conditions: &map[string]any{
					"StringEquals": map[string]any{"kms:ViaService": "s3." + *stack.Region() + ".amazonaws.com"},
				},
			}),
		},
	})
	return awskms.NewKey(stack, jsii.String("EvidenceKey"), &awskms.KeyProps{
		Description:       jsii.String("custody: encrypts the evidence bucket, case topic and responder logs"),
		EnableKeyRotation: jsii.Bool(true),
		RemovalPolicy:     awscdk.RemovalPolicy_RETAIN,
		Policy:            policy,
	})
}

// newAccessLogBucket receives the evidence bucket's server access logs. S3
// server access logging cannot deliver to an SSE-KMS bucket, hence SSE-S3.
func newAccessLogBucket(stack awscdk.Stack) awss3.Bucket {
	b := awss3.NewBucket(stack, jsii.String("AccessLogBucket"), &awss3.BucketProps{
		Encryption:        awss3.BucketEncryption_S3_MANAGED,
		BlockPublicAccess: awss3.BlockPublicAccess_BLOCK_ALL(),
		EnforceSSL:        jsii.Bool(true),
		Versioned:         jsii.Bool(true),
		ObjectOwnership:   awss3.ObjectOwnership_BUCKET_OWNER_ENFORCED,
		RemovalPolicy:     awscdk.RemovalPolicy_RETAIN,
	})
	cdknag.NagSuppressions_AddResourceSuppressions(b, &[]*cdknag.NagPackSuppression{{
		Id:     jsii.String("AwsSolutions-S1"),
		Reason: jsii.String("This is the access-log bucket of the evidence bucket; logging it to itself would loop and to another bucket would only move the question."),
	}}, jsii.Bool(false))
	return b
}

// newEvidenceBucket is the locked bucket: Object Lock with the configured
// default retention, versioned, SSE-KMS with the custody key, private, TLS
// only, access-logged and retained.
func newEvidenceBucket(stack awscdk.Stack, cfg Config, key awskms.Key, logs awss3.Bucket) awss3.Bucket {
	days := awscdk.Duration_Days(jsii.Number(float64(cfg.RetentionDays)))
	retention := awss3.ObjectLockRetention_Governance(days)
	if cfg.LockMode == LockModeCompliance {
		retention = awss3.ObjectLockRetention_Compliance(days)
	}
	b := awss3.NewBucket(stack, jsii.String("EvidenceBucket"), &awss3.BucketProps{
		ObjectLockEnabled:          jsii.Bool(true),
		ObjectLockDefaultRetention: retention,
		Versioned:                  jsii.Bool(true),
		Encryption:                 awss3.BucketEncryption_KMS,
		EncryptionKey:              key,
		// Bucket keys cut KMS calls (and KMS throttling) per object write.
		BucketKeyEnabled:       jsii.Bool(true),
		BlockPublicAccess:      awss3.BlockPublicAccess_BLOCK_ALL(),
		EnforceSSL:             jsii.Bool(true),
		ObjectOwnership:        awss3.ObjectOwnership_BUCKET_OWNER_ENFORCED,
		ServerAccessLogsBucket: logs,
		ServerAccessLogsPrefix: jsii.String("evidence/"),
		RemovalPolicy:          awscdk.RemovalPolicy_RETAIN,
	})
	objects := b.ArnForObjects(jsii.String("*"))
	everyone := &[]awsiam.IPrincipal{awsiam.NewAnyPrincipal()}

	// Evidence is never deleted: not a version (which Object Lock also
	// refuses while retained) and not the current object either, because a
	// delete marker hides the evidence from a plain listing. Per-object
	// retention is not set by any custody writer (the bucket default applies)
	// and IAM cannot tell a lengthening PutObjectRetention from a shortening
	// one, so nobody may set it; an investigator extends with a legal hold.
	b.AddToResourcePolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Sid:        jsii.String("NobodyDeletesOrShortensEvidence"),
		Effect:     awsiam.Effect_DENY,
		Principals: everyone,
		Actions: jsii.Strings("s3:DeleteObject", "s3:DeleteObjectVersion", "s3:BypassGovernanceRetention",
			"s3:PutObjectRetention"),
		Resources: &[]*string{objects},
	}))
	// The default lock and this policy may change only through a reviewed
	// deploy of cdk.json. Without the policy actions here, an administrator
	// could replace this policy with one that lacks the statement above and
	// then bypass governance retention: the denies would be advisory. (The
	// account root can still change or delete a bucket policy whatever it
	// says; COMPLIANCE retention is what holds against root. Versioning
	// needs no deny: S3 refuses to suspend it on an Object Lock bucket.)
	// Every such change alerts the topic (newBucketPolicyChangeRule).
	b.AddToResourcePolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Sid:        jsii.String("OnlyTheDeployChangesTheLockOrThePolicy"),
		Effect:     awsiam.Effect_DENY,
		Principals: everyone,
		Actions:    jsii.Strings("s3:PutBucketObjectLockConfiguration", "s3:PutBucketPolicy", "s3:DeleteBucketPolicy"),
		Resources:  &[]*string{b.BucketArn()},
		Conditions: &map[string]any{
			"ArnNotEquals": map[string]any{"aws:PrincipalArn": deployRoleArn(stack)},
		},
	}))
	// A put without an encryption header gets the bucket default (SSE-KMS
	// with our key); these two refuse a put that asks for anything else.
	// Null:false makes each apply only when the header is present, because a
	// negated condition on a missing key would otherwise match every put.
	b.AddToResourcePolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Sid:        jsii.String("NoWriteWithoutKMS"),
		Effect:     awsiam.Effect_DENY,
		Principals: everyone,
		Actions:    jsii.Strings("s3:PutObject"),
		Resources:  &[]*string{objects},
		Conditions: &map[string]any{
			"Null":            map[string]any{"s3:x-amz-server-side-encryption": "false"},
			"StringNotEquals": map[string]any{"s3:x-amz-server-side-encryption": "aws:kms"},
		},
	}))
	b.AddToResourcePolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Sid:        jsii.String("NoWriteWithAnotherKey"),
		Effect:     awsiam.Effect_DENY,
		Principals: everyone,
		Actions:    jsii.Strings("s3:PutObject"),
		Resources:  &[]*string{objects},
		Conditions: &map[string]any{
			"Null":            map[string]any{"s3:x-amz-server-side-encryption-aws-kms-key-id": "false"},
			"StringNotEquals": map[string]any{"s3:x-amz-server-side-encryption-aws-kms-key-id": key.KeyArn()},
		},
	}))
	// Legal holds (custody hold): S3 has one action, s3:PutObjectLegalHold,
	// for setting a hold and for releasing one, so the policy tells them
	// apart by the request's s3:object-lock-legal-hold (ON or OFF), a
	// condition key the Service Authorization Reference lists for it.
	// Only the investigator and break-glass roles touch holds at all;
	// only break-glass releases one, since a released hold lets a version
	// be deleted once its retention runs out. (Should S3 not supply the key,
	// StringEquals on a missing key matches nothing and the first deny is
	// what holds: release by the investigator stays possible, and the
	// investigator's CloudTrail data events are the record.)
	b.AddToResourcePolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Sid:        jsii.String("OnlyTheInvestigatorAndBreakGlassTouchHolds"),
		Effect:     awsiam.Effect_DENY,
		Principals: everyone,
		Actions:    jsii.Strings("s3:PutObjectLegalHold"),
		Resources:  &[]*string{objects},
		Conditions: &map[string]any{
			"ArnNotEquals": map[string]any{"aws:PrincipalArn": []any{roleArn(stack, cfg.InvestigatorRoleName), roleArn(stack, cfg.BreakGlassRoleName)}},
		},
	}))
	b.AddToResourcePolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Sid:        jsii.String("OnlyBreakGlassReleasesAHold"),
		Effect:     awsiam.Effect_DENY,
		Principals: everyone,
		Actions:    jsii.Strings("s3:PutObjectLegalHold"),
		Resources:  &[]*string{objects},
		Conditions: &map[string]any{
			"StringEquals": map[string]any{"s3:object-lock-legal-hold": "OFF"},
			"ArnNotEquals": map[string]any{"aws:PrincipalArn": roleArn(stack, cfg.BreakGlassRoleName)},
		},
	}))
	// The investigator reads everything and places legal holds; nothing else.
	b.AddToResourcePolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Sid:        jsii.String("InvestigatorReadsAndHolds"),
		Principals: &[]awsiam.IPrincipal{awsiam.NewArnPrincipal(roleArn(stack, cfg.InvestigatorRoleName))},
		Actions: jsii.Strings("s3:GetObject*", "s3:ListBucket*", "s3:PutObjectLegalHold",
			"s3:GetObjectLegalHold", "s3:GetObjectRetention"),
		Resources: &[]*string{b.BucketArn(), objects},
	}))
	return b
}

// newCaseTopic carries one message per sealed run, encrypted with the key.
func newCaseTopic(stack awscdk.Stack, key awskms.Key) awssns.Topic {
	return awssns.NewTopic(stack, jsii.String("CaseTopic"), &awssns.TopicProps{
		DisplayName: jsii.String("custody case notifications"),
		MasterKey:   key,
		EnforceSSL:  jsii.Bool(true),
	})
}

// newLogGroup is a retained, key-encrypted log group: the responder's own logs
// are part of the chain of custody, so they live as long as the evidence.
func newLogGroup(stack awscdk.Stack, id string, cfg Config, key awskms.Key) awslogs.LogGroup {
	return awslogs.NewLogGroup(stack, jsii.String(id), &awslogs.LogGroupProps{
		EncryptionKey: key,
		Retention:     logRetention(cfg.RetentionDays),
		RemovalPolicy: awscdk.RemovalPolicy_RETAIN,
	})
}

// logRetention is the shortest CloudWatch Logs retention that covers the
// evidence retention.
func logRetention(days int) awslogs.RetentionDays {
	for _, r := range []struct {
		days int
		v    awslogs.RetentionDays
	}{
		{365, awslogs.RetentionDays_ONE_YEAR},
		{731, awslogs.RetentionDays_TWO_YEARS},
		{1827, awslogs.RetentionDays_FIVE_YEARS},
		{3653, awslogs.RetentionDays_TEN_YEARS},
	} {
		if days <= r.days {
			return r.v
		}
	}
	return awslogs.RetentionDays_INFINITE
}
