package main

import (
	"strings"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscloudwatch"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscloudwatchactions"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsevents"
	"github.com/aws/aws-cdk-go/awscdk/v2/awseventstargets"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/jsii-runtime-go"

	"github.com/custody-ir/custody/shared/accounts"
	"github.com/custody-ir/custody/shared/readiness"
)

// readinessSizing: the audit makes a few hundred Describe calls at most.
var readinessSizing = sizing{memoryMB: 256, timeout: awscdk.Duration_Minutes(jsii.Number(5))}

// readinessSchedule is when the scheduled audit runs.
const readinessSchedule = "rate(1 day)"

// readinessAuditReads are the calls of shared/readiness beyond the
// CloudTrail collector's (which it is granted too, so that it reads the
// trail's log files as the collector would). None has resource-level
// permissions but GetBucket*/GetObjectLockConfiguration, which the audit
// makes on every bucket of the account.
var readinessAuditReads = []string{
	"cloudtrail:GetEventSelectors",
	"ec2:DescribeVpcs", "ec2:DescribeFlowLogs",
	"s3:ListAllMyBuckets", "s3:GetBucketLogging", "s3:GetBucketObjectLockConfiguration", "s3:GetBucketPolicy", "s3:GetEncryptionConfiguration",
	"logs:DescribeLogGroups",
	"guardduty:ListDetectors", "guardduty:GetDetector",
	"dynamodb:DescribeTable",
	"inspector2:BatchGetAccountStatus",
	"cloudformation:DescribeStacks",
}

// newReadinessSchedule is the scheduled readiness audit: a function that
// an EventBridge schedule runs daily, keeping each report under readiness/
// in the evidence bucket and notifying the topic when a check turns from
// pass to fail; and an alarm on the topic when the audit itself fails.
func (s *custodyStack) newReadinessSchedule() {
	f := s.newCustodyFunction("ReadinessFunction", "readiness", readinessSizing, map[string]string{
		"CASE_TOPIC_ARN":          *s.topic.TopicArn(),
		accounts.EnvAccountID:     *s.stack.Account(),
		"CUSTODY_LOOKBACK":        s.cfg.Lookback,
		"CUSTODY_DYNAMODB_TABLES": strings.Join(s.cfg.DynamoDBTables, ","),
	})
	s.allowCloudTrail(f)
	f.role.AddToPolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Actions:   jsii.Strings(readinessAuditReads...),
		Resources: jsii.Strings("*"),
	}))
	s.allowObjects(f, []string{"s3:GetObject", "s3:PutObject"}, readiness.ReportsPrefix)
	s.allowList(f, readiness.ReportsPrefix)
	s.allowKey(f, "s3", "sns")
	f.role.AddToPolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Actions:   jsii.Strings("sns:Publish"),
		Resources: &[]*string{s.topic.TopicArn()},
	}))
	suppressWildcards(f, "IAM allows the readiness audit its Describe/Get/List reads on * (most have no resource-level permissions; the bucket reads run on every bucket of the account, found at run time), and s3:GetObject/PutObject on the evidence bucket's readiness/* (one report a run, by time): reads only, besides its own reports.",
		jsii.String("Resource::*"), objectWildcard(readiness.ReportsPrefix))

	rule := awsevents.NewRule(s.stack, jsii.String("ReadinessSchedule"), &awsevents.RuleProps{
		Description: jsii.String("custody: the daily readiness audit (custody readiness, in the stack)"),
		Schedule:    awsevents.Schedule_Expression(jsii.String(readinessSchedule)),
	})
	rule.AddTarget(awseventstargets.NewLambdaFunction(f.fn, &awseventstargets.LambdaFunctionProps{RetryAttempts: jsii.Number(2)}))

	alarm := awscloudwatch.NewAlarm(s.stack, jsii.String("ReadinessFailedAlarm"), &awscloudwatch.AlarmProps{
		AlarmDescription:   jsii.String("custody: the scheduled readiness audit failed (its report was not kept): see the ReadinessFunction's logs."),
		Metric:             f.fn.MetricErrors(&awscloudwatch.MetricOptions{Period: awscdk.Duration_Days(jsii.Number(1)), Statistic: jsii.String("Sum")}),
		Threshold:          jsii.Number(1),
		EvaluationPeriods:  jsii.Number(1),
		DatapointsToAlarm:  jsii.Number(1),
		ComparisonOperator: awscloudwatch.ComparisonOperator_GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
		TreatMissingData:   awscloudwatch.TreatMissingData_NOT_BREACHING,
	})
	alarm.AddAlarmAction(awscloudwatchactions.NewSnsAction(s.topic))
}
